"""The master patient index: which person of the deployment a visit is about.

:func:`resolve_person` is called by the importer for every visit, inside the visit's SAVEPOINT. The rules, in
order (each identifier is looked up in ``PersonIdentifier``, whose unique key is the index):

1. **CCCD** (the 12-digit personal id; a 9-digit CMND or a passport is not a national id and counts as
   absent; a 12-digit insurance card *is* a CCCD). Its holder is the person, unless the birth date or the sex
   differs: then the visit gets a person of its own (without the CCCD claim) and a ``cccd_conflict`` match
   lists what differs, and which side the CCCD's own digits (century and sex, year of birth) agree with. A
   CCCD whose digits contradict the visit's birth year is still looked up and claimed: a mistyped year or
   CCCD then surfaces as a conflict to review rather than as a silent second person.
2. **Social-insurance number** (the 10 digits inside a BHYT card): the same, with ``card_conflict`` when the
   name (compared without diacritics, case or extra spaces) or the birth date differs, or when both carry a
   CCCD and the CCCDs differ.
3. **The facility's own patient code** (MA_BN, within the same facility code: Circular 46 gives one patient
   code per facility). We use it: a HIS that sends neither a CCCD nor a card still keeps one patient under one
   person across re-imports and corrected versions. Its holder is the person only when nothing disagrees
   (name, birth date, sex, CCCD, social-insurance number); otherwise the visit gets a person of its own and a
   ``candidate`` match ("same patient code"), never a merge.
4. Else a **new person**; every existing person with the same name key, a birth date that agrees and a sex that
   does not differ (and no CCCD or social-insurance number that differs) gets a ``candidate`` match, never
   merged automatically. A birth year alone is enough to propose a candidate (the detail says at which
   precision the dates agree); without a birth year nobody is proposed.

Birth dates of different precision (QĐ 130 writes ``0000`` for unknown parts): two dates *agree* when every
part both know is equal — 1980 agrees with 1980-05-01, 1980-05 does not agree with 1980-06-01. A missing part of
the person's birth date is filled from a visit that agrees; a known part is never overwritten (a different one
is a conflict, above).

The conflicting visit's own person is found again next time: a visit that conflicts with a holder goes to the
person of an earlier match of the same kind with that holder (whatever its status) when that person agrees with
the visit, so one mistyped birth date yields one extra person and one match, not one per visit. Its ``cccd`` /
``social_insurance_number`` columns keep what its visits wrote (so the review shows "same CCCD"), while the
index (``PersonIdentifier``) keeps the claim with the holder.

The person claims the visit's identifiers nobody holds yet (its first CCCD and social-insurance number, every
patient code); an identifier of the visit held by *another* person proposes a ``candidate`` match between the
two (once: a pair with any match, open or decided, is never proposed again). Missing phone, address, sex and
name are filled from later imports; known values are kept (imports of history come in any order).

Concurrency: two imports creating the same person at once both find no holder; the second one's INSERT of the
identifier then violates the unique key of ``PersonIdentifier`` and raises ``sqlalchemy.exc.IntegrityError``
here (on PostgreSQL it waits for the first transaction and fails when that one commits). The caller's SAVEPOINT
is rolled back and the visit retried once: the retry finds the holder (tests/test_emr_persons.py shows it with
two threads on PostgreSQL). Two namesakes created at the same instant get no candidate match between them.

Booking profiles (core/emr/profiles.py) are linked here: the first look-up also finds the profiles the visit's
CCCD and social-insurance numbers name, and an unlinked one is linked when the resolved person holds that
identifier (a profile made later links itself), so an importer need not call ``link_profiles`` for every visit
(it stays correct and idempotent, at one statement per call).

Cost: the importer resolves a whole batch of visits with :func:`resolve_persons` (the same rules, in the visits'
order, as :func:`resolve_person` called for each, which is its one-visit form): one statement looks up the holders
of every identifier of the batch and the profiles they name, one the namesakes of every visit, one takes the new
persons' ids from the sequence (PostgreSQL), and the new persons (COPY), identifiers and matches are written at
the end, or before any of the rarer reads (a conflict's earlier sibling, a pair already matched, a merged holder)
and before a profile is linked. A field filled from a visit is one UPDATE of an existing person. Persons are read
and written with Core statements, not ORM objects. Identifiers are logged masked only.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    CompoundSelect,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from core.booking.models import Patient
from core.identifiers import mask_identifier

from .bulk import bulk_insert
from .models import IdentifierKind, MatchKind, MatchStatus, Person, PersonIdentifier, PersonMatch, ProfileLink
from .profiles import CARD_SIN, CCCD, SIN, insert_link
from .records import Identity

log = logging.getLogger(__name__)

# CCCD 4th digit: century of birth and sex (even male, odd female); see core/identifiers.py.
_CENTURY = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100, 6: 2200, 7: 2200, 8: 1800, 9: 1800}
MAX_CANDIDATES = 5  # namesakes proposed for one new person (a common name has many)

Key = tuple[str, str, str]  # (kind, facility_code, value) of PersonIdentifier
Profiles = list[tuple[int, Key, int | None]]  # (patient id, the identifier naming it, the person it is linked to)
PERSONS = Person.__table__
IDENTIFIERS = PersonIdentifier.__table__
MATCHES = PersonMatch.__table__
_FIELDS = (
    "id",
    "full_name",
    "name_key",
    "birth_year",
    "birth_month",
    "birth_day",
    "sex",
    "cccd",
    "social_insurance_number",
    "phone",
    "address",
    "merged_into_id",
)
_COLUMNS = [PERSONS.c[name] for name in _FIELDS]


@dataclass
class _Person:
    """The columns of a person the index compares and fills (read and written with Core statements: the
    importer calls the index for every visit, and ORM objects would cost more than the queries)."""

    id: int
    full_name: str
    name_key: str
    birth_year: int | None
    birth_month: int | None
    birth_day: int | None
    sex: str | None
    cccd: str | None
    social_insurance_number: str | None
    phone: str | None
    address: str
    merged_into_id: int | None


def name_key(full_name: str) -> str:
    """Lower case, no diacritics (đ → d), punctuation as spaces, single spaces: "Nguyễn  Văn-An" → "nguyen van an"."""
    decomposed = unicodedata.normalize("NFD", (full_name or "").lower().replace("đ", "d"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join("".join(c if c.isalnum() else " " for c in bare).split())


def national_id(identity: Identity) -> str | None:
    """The visit's CCCD when it is one (SO_CCCD, else a card that is a CCCD), else None."""
    for value in (identity.cccd, *identity.insurance_cards):
        if value and len(value) == 12 and value.isascii() and value.isdigit():  # "²" is a digit to isdigit()
            return value
    return None


def cccd_agrees(cccd: str, person: _Person | Identity) -> bool | None:
    """Whether the CCCD's 4th to 6th digits (century and sex, year of birth) agree with ``person``'s birth year
    and sex (None when the person has neither)."""
    if person.birth_year is None and not person.sex:
        return None
    digit = int(cccd[3])
    if person.birth_year is not None and _CENTURY[digit] + int(cccd[4:6]) != person.birth_year:
        return False
    return not person.sex or (digit % 2 == 1) == (person.sex == "female")


@dataclass(frozen=True)
class _Keys:
    cccd: str | None
    sins: tuple[str, ...]
    his: str
    facility_code: str

    def cccd_key(self) -> Key | None:
        return (IdentifierKind.CCCD.value, "", self.cccd) if self.cccd else None

    def sin_keys(self) -> list[Key]:
        return [(IdentifierKind.SOCIAL_INSURANCE.value, "", sin) for sin in self.sins]

    def his_key(self) -> Key | None:
        if not self.his or not self.facility_code:
            return None
        return (IdentifierKind.HIS_PATIENT.value, self.facility_code, self.his)

    def all(self) -> list[Key]:
        return [k for k in (self.cccd_key(), *self.sin_keys(), self.his_key()) if k is not None]


def _keys(identity: Identity, facility_code: str) -> _Keys:
    cccd = national_id(identity)
    sins = tuple(s for s in identity.social_insurance_numbers if s != cccd)
    his = (identity.his_patient_code or "").strip()[:100]
    return _Keys(cccd=cccd, sins=sins, his=his, facility_code=(facility_code or "").strip())


Item = tuple[Identity, str]  # (identity, facility code) of one visit
_CHUNK = 500  # visits resolved with one look-up (bounds the statement's parameters)


def resolve_person(session: Session, identity: Identity, *, facility_code: str, now: dt.datetime) -> int:
    """The id of the person ``identity`` (a visit of ``facility_code``) is about; creates the person, its
    identifiers and any candidate or conflict match in ``session`` (flushed, not committed). May raise
    IntegrityError under a concurrent import of the same person: the caller retries the visit once.

    The one-visit form of :func:`resolve_persons` (one rule set)."""
    return resolve_persons(session, [(identity, facility_code)], now=now)[0]


def resolve_persons(session: Session, items: Sequence[Item], *, now: dt.datetime) -> list[int]:
    """The person of each visit of ``items`` ((identity, facility code), in order), exactly as
    :func:`resolve_person` called for each in turn would resolve them (a person created for one visit is found
    by a later one's identifiers, and is a namesake of a later new person), with a few statements for the
    whole batch: one look-up of the identifiers' holders and the profiles they name, one of namesakes, one
    INSERT each of new persons, identifiers and matches (written before anything reads the database again: the
    rarer paths, a conflict's earlier sibling, a pair already matched, a merged holder, a profile to link,
    write what is pending first). May raise IntegrityError like :func:`resolve_person`."""
    ids: list[int] = []
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        batch = _Batch(session, now)
        keys = [_keys(identity, facility) for identity, facility in chunk]
        batch.prefetch(keys, [identity for identity, _facility in chunk])
        for n, ((identity, _facility), visit_keys) in enumerate(zip(chunk, keys, strict=True)):
            batch.coming = keys[n + 1 :]
            ids.append(batch.resolve(identity, visit_keys))
        batch.flush()
    return ids


class _Batch:
    """The state of one :func:`resolve_persons` call: every person read or created (one object per id, so a
    field filled for one visit is seen by the next), who holds each identifier, the profiles and namesakes read
    up front, and the rows not yet written."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.persons: dict[int, _Person] = {}
        self.held: dict[Key, _Person] = {}
        self.profile_rows: list[tuple[int, int, Key]] = []  # (way, patient id, the identifier naming it)
        self.linked: dict[int, int | None] = {}  # patient id -> the person it is linked to
        self.namesakes: dict[tuple[str, int], list[_Person]] = {}
        self.unwritten: dict[int, _Person] = {}  # new persons (PostgreSQL: ids taken from the sequence)
        self.identifiers: list[dict[str, object]] = []
        self.matches: list[dict[str, object]] = []
        self.free_ids: list[int] = []
        self.coming: list[_Keys] = []

    # -- reading ----------------------------------------------------------------------------------------------

    def person(self, row: Sequence[object]) -> _Person:
        """The one object of the person of ``row`` (the database's values unless this batch has it already)."""
        found = self.persons.get(row[0])  # type: ignore[arg-type]
        if found is None:
            found = self.persons[row[0]] = _Person(*row)  # type: ignore[arg-type, index]
        return found

    def survivor(self, person: _Person) -> _Person:
        seen = {person.id}
        while person.merged_into_id is not None and person.merged_into_id not in seen:
            self.flush()
            person = self.person(
                self.session.execute(select(*_COLUMNS).where(PERSONS.c.id == person.merged_into_id)).one()
            )
            seen.add(person.id)
        return person

    def prefetch(self, keys: Sequence[_Keys], identities: Sequence[Identity]) -> None:
        """The holders of every identifier of the batch, the profiles the CCCDs and numbers name, and the
        namesakes (same name key and birth year) of every visit: two statements."""
        wanted = {key for visit_keys in keys for key in visit_keys.all()}
        cccds = sorted({k.cccd for k in keys if k.cccd})
        sins = sorted({sin for k in keys for sin in k.sins})
        if wanted:
            kinds = sorted({k[0] for k in wanted})
            facilities = sorted({k[1] for k in wanted})
            values = sorted({k[2] for k in wanted})
            statement = _batch_lookup(bool(cccds), bool(sins))
            params = {"kinds": kinds, "facilities": facilities, "values": values, "cccds": cccds, "sins": sins}
            holders: list[tuple[Key, _Person]] = []
            for row in self.session.execute(statement, params):
                if row[0] == "h":
                    key = (row[1], row[2], row[3])
                    if key in wanted:
                        holders.append((key, self.person(row[4:16])))
                else:
                    self.profile_rows.append((row[16], row[4], (row[1], "", row[3])))
                    self.linked[row[4]] = row[15]
            for key, holder in holders:
                self.held[key] = self.survivor(holder)
            self.profile_rows.sort(key=lambda r: r[0])
        pairs = {(name_key(i.full_name)[:255], i.birth_year) for i in identities if i.birth_year is not None}
        pairs = {(key, year) for key, year in pairs if key}
        if pairs:
            params = {"names": sorted({p[0] for p in pairs}), "years": sorted({p[1] for p in pairs})}
            for row in self.session.execute(_NAMESAKES, params):
                if (row.name_key, row.birth_year) in pairs:
                    self.namesakes.setdefault((row.name_key, row.birth_year), []).append(self.person(row[:12]))

    def paired(self, a: int, b: int) -> bool:
        self.flush()
        return paired(self.session, a, b)

    # -- writing ----------------------------------------------------------------------------------------------

    def new_id(self) -> int:
        if not self.free_ids:
            # enough ids for the visits to come that no identifier held now leads to a person (a conflict
            # asks again)
            n = 1 + sum(1 for k in self.coming if not any(key in self.held for key in k.all()))
            self.free_ids = sorted(self.session.execute(_NEXT_PERSON_IDS, {"n": n}).scalars())
        return self.free_ids.pop(0)

    def add_match(self, person_id: int, other_id: int, kind: MatchKind, detail: str) -> None:
        self.matches.append(
            {
                "person_id": person_id,
                "other_person_id": other_id,
                "kind": kind.value,
                "detail": detail[:300],
                "status": MatchStatus.OPEN.value,
                "created_at": self.now,
            }
        )

    def flush(self) -> None:
        """Write the new persons, identifiers and matches (in this order: the later ones refer to the first).
        Persons by COPY (their ids are the sequence's: nothing to conflict with); identifiers and matches by
        INSERT, whose unique keys raise sqlalchemy's IntegrityError under a concurrent import (retried)."""
        session = self.session
        if self.unwritten:
            rows = [
                {name: getattr(p, name) for name in _FIELDS} | {"created_at": self.now, "updated_at": self.now}
                for p in self.unwritten.values()
            ]
            self.unwritten = {}
            bulk_insert(session, PERSONS, rows)
        if self.identifiers:
            rows, self.identifiers = self.identifiers, []
            session.execute(insert(IDENTIFIERS), rows)
        if self.matches:
            rows, self.matches = self.matches, []
            session.execute(insert(MATCHES), rows)

    # -- the rules --------------------------------------------------------------------------------------------

    def resolve(self, identity: Identity, keys: _Keys) -> int:
        held = {key: self.held[key] for key in keys.all() if key in self.held}
        profiles: Profiles = [
            (patient_id, key, self.linked.get(patient_id))
            for _way, patient_id, key in self.profile_rows
            if key in (keys.cccd_key(), *keys.sin_keys())
        ]
        cccd_key = keys.cccd_key()
        if cccd_key is not None and cccd_key in held:
            holder = held[cccd_key]
            differs = _differs(holder, identity, keys, ("birth_date", "sex"))
            person_id = _resolved(self, holder, identity, keys, held, MatchKind.CCCD_CONFLICT, "cccd", differs)
            return _link(self, person_id, held, profiles)
        for sin_key in keys.sin_keys():
            if sin_key in held:
                holder = held[sin_key]
                differs = _differs(holder, identity, keys, ("name", "birth_date", "cccd"))
                person_id = _resolved(self, holder, identity, keys, held, MatchKind.CARD_CONFLICT, "sin", differs)
                return _link(self, person_id, held, profiles)
        his_key = keys.his_key()
        if his_key is not None and his_key in held:
            holder = held[his_key]
            differs = _differs(holder, identity, keys, ("name", "birth_date", "sex", "cccd", "sin"))
            person_id = _resolved(self, holder, identity, keys, held, MatchKind.CANDIDATE, "his", differs)
            return _link(self, person_id, held, profiles)

        person = _new_person(self, identity, keys)
        _claim(self, person, keys, held)
        _propose_namesakes(self, person)
        return _link(self, person.id, held, profiles)


_NEXT_PERSON_IDS = text("SELECT nextval(pg_get_serial_sequence('emr_persons', 'id')) FROM generate_series(1, :n)")


def _namesakes() -> Select:
    """Up to MAX_CANDIDATES * 4 persons (the first by id) of each name key and birth year among ``names`` ×
    ``years``, not merged."""
    rank = func.row_number().over(partition_by=(PERSONS.c.name_key, PERSONS.c.birth_year), order_by=PERSONS.c.id)
    ranked = (
        select(*_COLUMNS, rank.label("rank"))
        .where(
            PERSONS.c.name_key.in_(bindparam("names", expanding=True)),
            PERSONS.c.birth_year.in_(bindparam("years", expanding=True)),
            PERSONS.c.merged_into_id.is_(None),
        )
        .subquery()
    )
    return (
        select(*(ranked.c[name] for name in _FIELDS)).where(ranked.c.rank <= MAX_CANDIDATES * 4).order_by(ranked.c.id)
    )


_NAMESAKES = _namesakes()


def _link(batch: _Batch, person_id: int, held: dict[Key, _Person], profiles: Profiles) -> int:
    """Link the unlinked booking profiles named by an identifier the person holds now (just claimed, most
    often): the only moment a visit can link a profile made before it."""
    done: set[int] = set()
    for patient_id, key, linked_to in profiles:
        holder = held.get(key)
        if linked_to is None and patient_id not in done and holder is not None and holder.id == person_id:
            batch.flush()  # the link refers to the person
            insert_link(batch.session, patient_id, person_id, key[0], batch.now)
            batch.linked[patient_id] = person_id
            done.add(patient_id)
    return person_id


def _resolved(
    batch: _Batch,
    holder: _Person,
    identity: Identity,
    keys: _Keys,
    held: dict[Key, _Person],
    kind: MatchKind,
    basis: str,
    differs: list[str],
) -> int:
    if not differs:
        return _same(batch, holder, identity, keys, held)
    sibling = _sibling(batch, holder, kind, identity, keys)
    if sibling is not None:
        return _same(batch, sibling, identity, keys, held)
    person = _new_person(batch, identity, keys)
    _claim(batch, person, keys, held)
    agrees = [f for f in ("name", "birth_date", "sex") if f not in differs and f in _compared(holder, person)]
    detail = f"same {BASIS[basis]}; differs: {', '.join(differs)}"
    detail += f"; agrees: {', '.join(agrees)}" if agrees else ""
    if basis == "cccd" and keys.cccd:
        sides = [w for w, p in (("person", holder), ("other", person)) if cccd_agrees(keys.cccd, p)]
        detail += f"; the CCCD's digits agree with: {' and '.join(sides) or 'neither'}"
    batch.add_match(holder.id, person.id, kind, detail)
    log.info(
        "person %s: %s (%s %s) differs in %s: visit kept apart as person %s",
        holder.id,
        kind.value,
        basis,
        _masked(keys, basis),
        ", ".join(differs),
        person.id,
    )
    return person.id


def _masked(keys: _Keys, basis: str) -> str:
    value = {"cccd": keys.cccd, "sin": keys.sins[0] if keys.sins else None, "his": keys.his}.get(basis)
    return mask_identifier(value)


@functools.cache
def _batch_lookup(cccds: bool, sins: bool) -> CompoundSelect:
    """Rows ("h", kind, facility, value, *person, NULL) of the holders of identifiers among ``kinds`` ×
    ``facilities`` × ``values`` (a superset of the batch's: the caller keeps its own; indexed look-ups of the
    unique key) and ("p", kind, NULL, value, patient id, NULL…, linked person id, way) of the profiles named
    by the CCCDs (``cccds``) and numbers (``sins``), ``way`` the order in which one visit prefers them."""
    i = IDENTIFIERS.c
    holders = (
        select(literal("h").label("tag"), i.kind, i.facility_code, i.value, *_COLUMNS, literal(0).label("way"))
        .join(PERSONS, PERSONS.c.id == i.person_id)
        .where(
            i.kind.in_(bindparam("kinds", expanding=True)),
            i.facility_code.in_(bindparam("facilities", expanding=True)),
            i.value.in_(bindparam("values", expanding=True)),
        )
    )
    patients, links = Patient.__table__, ProfileLink.__table__
    ways = []
    if cccds:
        ways += [(CCCD, patients.c.cccd, "cccds"), (CCCD, patients.c.insurance_number, "cccds")]
    if sins:
        ways += [(SIN, patients.c.insurance_number, "sins"), (SIN, CARD_SIN, "sins")]
    nothing = [cast(null(), column.type) for column in _COLUMNS[1:-1]]
    branches = [holders] + [
        select(
            literal("p"),
            literal(kind),
            cast(null(), String),
            cast(column, String),
            patients.c.id,
            *nothing,
            links.c.person_id,
            literal(way),
        )
        .select_from(patients)
        .outerjoin(links, links.c.patient_id == patients.c.id)
        .where(column.in_(bindparam(name, expanding=True)))
        for way, (kind, column, name) in enumerate(ways, start=1)
    ]
    return union_all(*branches)


def survivor(session: Session, person: Person) -> Person:
    """The person ``person`` was merged into (itself when it was not), as an ORM object."""
    seen = {person.id}
    while person.merged_into_id is not None and person.merged_into_id not in seen:
        person = session.get(Person, person.merged_into_id)
        seen.add(person.id)
    return person


def birth_parts(x: Person | _Person | Identity) -> tuple[int | None, int | None, int | None]:
    return (x.birth_year, x.birth_month, x.birth_day)


def births_agree(a: tuple, b: tuple) -> bool:
    """Every part both dates know is equal (parts after an unknown one are not compared)."""
    for left, right in zip(a, b, strict=True):
        if left is None or right is None:
            return True
        if left != right:
            return False
    return True


def birth_text(parts: tuple[int | None, int | None, int | None]) -> str:
    """ "1980-05-01", "1980-05", "1980" or "" (as precise as it is known)."""
    year, month, day = parts
    if year is None:
        return ""
    if month is None:
        return f"{year:04d}"
    return f"{year:04d}-{month:02d}" if day is None else f"{year:04d}-{month:02d}-{day:02d}"


def _differs(person: _Person, identity: Identity, keys: _Keys, fields: tuple[str, ...]) -> list[str]:
    """Which of ``fields`` tell ``person`` and the visit apart (unknown on either side never does)."""
    found = []
    visit_name = name_key(identity.full_name)
    if "name" in fields and person.name_key and visit_name and person.name_key != visit_name:
        found.append("name")
    if "birth_date" in fields and not births_agree(birth_parts(person), birth_parts(identity)):
        found.append("birth_date")
    if "sex" in fields and person.sex and identity.sex and person.sex != identity.sex:
        found.append("sex")
    if "cccd" in fields and person.cccd and keys.cccd and person.cccd != keys.cccd:
        found.append("cccd")
    sin = person.social_insurance_number
    if "sin" in fields and sin and keys.sins and sin not in keys.sins:
        found.append("social_insurance_number")
    return found


def _compared(a: _Person, b: _Person) -> set[str]:
    """The demographic fields both persons know."""
    known = set()
    if a.name_key and b.name_key:
        known.add("name")
    if a.birth_year is not None and b.birth_year is not None:
        known.add("birth_date")
    if a.sex and b.sex:
        known.add("sex")
    return known


def _sibling(batch: _Batch, holder: _Person, kind: MatchKind, identity: Identity, keys: _Keys) -> _Person | None:
    """The person an earlier visit like this one was kept apart as (a match of ``kind`` with ``holder``)."""
    batch.flush()
    rows = batch.session.execute(
        select(*_COLUMNS)
        .join(MATCHES, MATCHES.c.other_person_id == PERSONS.c.id)
        .where(MATCHES.c.person_id == holder.id, MATCHES.c.kind == kind.value)
        .order_by(MATCHES.c.id)
    ).all()
    for row in rows:
        other = batch.survivor(batch.person(row))
        if other.id == holder.id:  # confirmed and merged since: the holder is the person after all
            return holder
        if not _differs(other, identity, keys, ("name", "birth_date", "sex", "cccd", "sin")):
            return other
    return None


def _new_person(batch: _Batch, identity: Identity, keys: _Keys) -> _Person:
    values = {
        "full_name": (identity.full_name or "")[:255],
        "name_key": name_key(identity.full_name)[:255],
        "birth_year": identity.birth_year,
        "birth_month": identity.birth_month,
        "birth_day": identity.birth_day,
        "sex": identity.sex,
        "cccd": keys.cccd,
        "social_insurance_number": keys.sins[0] if keys.sins else None,
        "phone": identity.phone,
        "address": (identity.address or "")[:1024],
        "merged_into_id": None,
    }
    if batch.postgres:  # written with the batch's other new persons (flush)
        person = _Person(id=batch.new_id(), **values)
        batch.unwritten[person.id] = person
    else:
        person_id = batch.session.execute(
            insert(PERSONS).values(**values, created_at=batch.now, updated_at=batch.now).returning(PERSONS.c.id)
        ).scalar_one()
        person = _Person(id=person_id, **values)
    batch.persons[person.id] = person
    return person


def _same(batch: _Batch, person: _Person, identity: Identity, keys: _Keys, held: dict[Key, _Person]) -> int:
    """The visit is ``person``'s: fill what the person lacks, claim free identifiers, propose the holders of the
    others."""
    _fill(batch, person, identity, keys)
    _claim(batch, person, keys, held)
    proposed: set[int] = set()
    for key, other in held.items():
        if other.id == person.id or other.id in proposed or batch.paired(person.id, other.id):
            continue
        proposed.add(other.id)
        detail = f"a visit of this person carries the other's {BASIS[key[0]]}"
        batch.add_match(other.id, person.id, MatchKind.CANDIDATE, detail)
        log.info("persons %s and %s share an identifier (%s): candidate", other.id, person.id, key[0])
    return person.id


BASIS = {"cccd": "CCCD", "sin": "social-insurance number", "his": "patient code"}


def _fill(batch: _Batch, person: _Person, identity: Identity, keys: _Keys) -> None:
    """Write what the person lacks and the visit says (one UPDATE, only when something is new; none for a
    person of this batch not written yet, whose INSERT takes the values)."""
    changes: dict[str, object] = {}
    birth = list(birth_parts(person))
    for i, part in enumerate(birth_parts(identity)):
        if part is None:
            break
        if birth[i] is None:
            birth[i] = part
            changes[("birth_year", "birth_month", "birth_day")[i]] = part
        elif birth[i] != part:
            break
    offered = {
        "sex": identity.sex,
        "phone": identity.phone,
        "address": (identity.address or "")[:1024],
        "cccd": keys.cccd,
        "social_insurance_number": keys.sins[0] if keys.sins else None,
        "full_name": (identity.full_name or "")[:255],
    }
    for field, value in offered.items():
        if value and not getattr(person, field):
            changes[field] = value
    if "full_name" in changes:
        changes["name_key"] = name_key(identity.full_name)[:255]
    if changes:
        for field, value in changes.items():
            setattr(person, field, value)
        if person.id not in batch.unwritten:
            batch.session.execute(
                update(PERSONS).where(PERSONS.c.id == person.id).values(**changes, updated_at=batch.now)
            )


def _claim(batch: _Batch, person: _Person, keys: _Keys, held: dict[Key, _Person]) -> None:
    """Index the visit's identifiers nobody holds under ``person`` (one CCCD and one social-insurance number
    per person: a second, different one is what the person's columns say it is not)."""
    for key in keys.all():
        kind, facility, value = key
        if key in held:
            continue
        if kind == IdentifierKind.CCCD.value and person.cccd not in (None, value):
            continue
        if kind == IdentifierKind.SOCIAL_INSURANCE.value and person.social_insurance_number not in (None, value):
            continue
        batch.identifiers.append(
            {"person_id": person.id, "kind": kind, "facility_code": facility, "value": value, "created_at": batch.now}
        )
        held[key] = batch.held[key] = person


def paired(session: Session, a: int, b: int) -> bool:
    """Whether persons ``a`` and ``b`` already have a match (any kind, any status): a pair is proposed once."""
    return (
        session.scalar(
            select(MATCHES.c.id)
            .where(
                or_(
                    and_(MATCHES.c.person_id == a, MATCHES.c.other_person_id == b),
                    and_(MATCHES.c.person_id == b, MATCHES.c.other_person_id == a),
                )
            )
            .limit(1)
        )
        is not None
    )


def _propose_namesakes(batch: _Batch, person: _Person) -> None:
    """A candidate match with each person of the same name key, agreeing birth date and sex (a new person):
    the first MAX_CANDIDATES * 4 by id of those read up front and those this batch created or filled."""
    if person.birth_year is None or not person.name_key:
        return
    found = {p.id: p for p in batch.namesakes.get((person.name_key, person.birth_year), ())}
    for p in batch.persons.values():
        if p.name_key == person.name_key and p.birth_year == person.birth_year and p.merged_into_id is None:
            found[p.id] = p
    found.pop(person.id, None)
    proposed = 0
    for other in [found[i] for i in sorted(found)][: MAX_CANDIDATES * 4]:
        if proposed >= MAX_CANDIDATES:
            break
        if not births_agree(birth_parts(other), birth_parts(person)):
            continue
        if other.sex and person.sex and other.sex != person.sex:
            continue
        if other.cccd and person.cccd and other.cccd != person.cccd:
            continue  # two national ids: two people
        sin_a, sin_b = other.social_insurance_number, person.social_insurance_number
        if sin_a and sin_b and sin_a != sin_b:
            continue
        precision = "day" if None not in (*birth_parts(other), *birth_parts(person)) else "partly known"
        agrees = "name, birth_date" + (f" ({precision})" if precision != "day" else "")
        agrees += ", sex" if other.sex and person.sex else ""
        batch.add_match(other.id, person.id, MatchKind.CANDIDATE, f"no shared identifier; agrees: {agrees}")
        proposed += 1
    if proposed:
        log.info("person %s: %s candidate match(es) by name, birth date and sex", person.id, proposed)
