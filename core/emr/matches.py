"""Person matches for records staff: list them, confirm one (merge the two persons) or reject it (two people).

The index (core/emr/persons.py) never merges by itself: a candidate (same name, birth date and sex, or the same
patient code with something that differs), a ``cccd_conflict`` (same CCCD, different birth date or sex) and a
``card_conflict`` (same social-insurance number, different name or birth date) wait here for a person to decide.

- **Confirm** merges ``other`` into ``person`` (the match's first person: the holder of the identifier for a
  conflict, the earlier person for a candidate). A same-CCCD conflict cannot become one person without saying which
  birth date is right: by default the person keeps its own name, birth date and sex (the holder's: the match's
  detail says which side the CCCD's own digits agree with); ``keep="other"`` says the other's are right and the
  person takes them. Either way the person only fills what it still lacks from the other. Visits, immunizations,
  allergies, "none known" statements (dropped where the merged record now has entries), booking-profile links and
  the identifiers that do not conflict move; a conflicting one (a second CCCD or social-insurance number) stays with
  the merged person, which still resolves to the survivor through ``merged_into_id``. The merged person's other
  matches are re-pointed to the survivor, or closed when they would now pair it with itself (confirmed) or repeat a
  pair that already has a match (an open one is dropped: the pair's other match carries it).
- **Reject** keeps the two apart for good: a pair with a match, whatever its status, is never proposed again,
  and later visits like the other's keep going to the other person.

A unit of work confined to a hospital (an API key made with ``--hospital``) sees and decides only matches of
which one person has a visit at that hospital (OtherHospital otherwise). Every listing is an audited read
(``emr_person_match``, one row per person shown). Identifiers are shown masked.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from core import audit, tenancy
from core.errors import Conflict, InvalidInput, NotFound
from core.identifiers import mask_identifier
from core.uow import UnitOfWork

from . import persons as index
from .models import (
    Allergy,
    IdentifierKind,
    Immunization,
    MatchStatus,
    NoneKnown,
    Person,
    PersonIdentifier,
    PersonMatch,
    ProfileLink,
    Visit,
)
from .profiles import link_profiles
from .records import Section

MAX_LISTED = 500
KEEP = ("person", "other")  # whose name, birth date and sex a confirmed merge keeps


class MatchPerson(BaseModel):
    """One side of a match, as records staff see it (identifiers masked)."""

    model_config = ConfigDict(frozen=True)

    id: int
    full_name: str
    birth_date: str  # "1980-05-01", "1980-05" or "1980": as precise as it is known ("" unknown)
    sex: str | None
    cccd: str  # masked: the last four digits
    social_insurance_number: str  # masked
    facilities: list[str]  # facility codes of the person's current visits
    visits: int
    merged_into_id: int | None


class MatchView(BaseModel):
    """A match with both persons and what agrees and what differs between them now."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    status: str
    detail: str
    person: MatchPerson
    other: MatchPerson
    agrees: list[str]
    differs: list[str]
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str | None


def list_matches(uow: UnitOfWork, *, status: str = "open", hospital_id: int | None = None) -> list[MatchView]:
    """The matches of ``status`` (open, confirmed, rejected), oldest first; confined to the matches touching a
    hospital (``hospital_id``, else the unit of work's actor's)."""
    if status not in {s.value for s in MatchStatus}:
        raise InvalidInput(
            "status must be open, confirmed or rejected",
            "Dạ, trạng thái phải là open, confirmed hoặc rejected ạ.",
            field="status",
        )
    query = select(PersonMatch).where(PersonMatch.status == status)
    confined = tenancy.confinement(uow, hospital_id)
    if confined is not None:
        query = query.where(_touches(confined))
    matches = uow.session.scalars(query.order_by(PersonMatch.id).limit(MAX_LISTED)).all()
    views = _views(uow.session, matches)
    audit.record_reads(uow, "emr_person_match", sorted({p.id for v in views for p in (v.person, v.other)}))
    return views


def confirm_match(uow: UnitOfWork, match_id: int, *, by: str, now: dt.datetime, keep: str = "person") -> MatchView:
    """The two persons are one: merge the match's other person into its person (see the module docstring).
    ``keep``: whose name, birth date and sex are right, the person's (default) or the other's."""
    if keep not in KEEP:
        raise InvalidInput("keep must be person or other", "Dạ, cần chọn giữ thông tin của person hoặc other ạ.")
    session = uow.session
    match = _open_match(uow, match_id)
    survivor, merged = _locked_pair(session, match)
    if merged.id != survivor.id:
        if keep == "other":
            _take_demographics(survivor, merged)
        _merge(session, survivor, merged, match, by=by, now=now)
    _decide(match, MatchStatus.CONFIRMED, by, now)
    session.flush()
    link_profiles(session, survivor.id, now=now)
    view = _views(session, [match])[0]
    audit.record_reads(uow, "emr_person_match", [view.person.id, view.other.id])  # the answer shows both
    uow.commit()
    return view


def reject_match(uow: UnitOfWork, match_id: int, *, by: str, now: dt.datetime) -> MatchView:
    """The two persons are two people: kept apart, the pair never proposed again."""
    match = _open_match(uow, match_id)
    _decide(match, MatchStatus.REJECTED, by, now)
    uow.session.flush()
    view = _views(uow.session, [match])[0]
    audit.record_reads(uow, "emr_person_match", [view.person.id, view.other.id])  # the answer shows both
    uow.commit()
    return view


def _touches(hospital_id: int):
    """The match has a person with a visit at ``hospital_id``."""
    return exists().where(
        or_(Visit.person_id == PersonMatch.person_id, Visit.person_id == PersonMatch.other_person_id),
        Visit.hospital_id == hospital_id,
    )


def _open_match(uow: UnitOfWork, match_id: int) -> PersonMatch:
    match = uow.session.scalar(select(PersonMatch).where(PersonMatch.id == match_id).with_for_update())
    if match is None:
        raise NotFound(f"no person match {match_id}", "Dạ, không có đề xuất ghép hồ sơ này ạ.", match_id=match_id)
    confined = tenancy.confinement(uow)
    persons = (match.person_id, match.other_person_id)
    if confined is not None and not uow.session.scalar(
        select(exists().where(Visit.person_id.in_(persons), Visit.hospital_id == confined))
    ):
        raise tenancy.OtherHospital("match")
    if match.status != MatchStatus.OPEN.value:
        raise Conflict(
            f"person match {match_id} is already {match.status}",
            "Dạ, đề xuất ghép hồ sơ này đã được xử lý ạ.",
            match_id=match_id,
            status=match.status,
        )
    return match


def _locked_pair(session: Session, match: PersonMatch) -> tuple[Person, Person]:
    """The persons the match stands for now (after earlier merges), locked in id order."""
    first = index.survivor(session, session.get(Person, match.person_id))
    second = index.survivor(session, session.get(Person, match.other_person_id))
    session.scalars(
        select(Person.id).where(Person.id.in_({first.id, second.id})).order_by(Person.id).with_for_update()
    ).all()
    session.refresh(first)
    session.refresh(second)
    return first, second


def _decide(match: PersonMatch, status: MatchStatus, by: str, now: dt.datetime) -> None:
    match.status = status.value
    match.decided_at = now
    match.decided_by = (by or "")[:80]


def _merge(
    session: Session, survivor: Person, merged: Person, match: PersonMatch, *, by: str, now: dt.datetime
) -> None:
    keep, gone = survivor.id, merged.id
    session.execute(update(Visit).where(Visit.person_id == gone).values(person_id=keep))
    for table in (Immunization, Allergy, ProfileLink):
        session.execute(update(table).where(table.person_id == gone).values(person_id=keep))
    _move_identifiers(session, keep, gone)
    _move_none_known(session, keep, gone)
    _fill_from(survivor, merged, now)
    merged.merged_into_id = keep
    merged.updated_at = now
    session.execute(update(Person).where(Person.merged_into_id == gone).values(merged_into_id=keep))
    _repoint_matches(session, keep, gone, match.id, by=by, now=now)


def _move_identifiers(session: Session, keep: int, gone: int) -> None:
    """Every patient code moves; a CCCD or social-insurance number moves unless the survivor has one already."""
    has = set(
        session.scalars(
            select(PersonIdentifier.kind).where(
                PersonIdentifier.person_id == keep, PersonIdentifier.kind != IdentifierKind.HIS_PATIENT.value
            )
        )
    )
    for identifier in session.scalars(select(PersonIdentifier).where(PersonIdentifier.person_id == gone)).all():
        if identifier.kind == IdentifierKind.HIS_PATIENT.value or identifier.kind not in has:
            identifier.person_id = keep
            has.add(identifier.kind)


def _move_none_known(session: Session, keep: int, gone: int) -> None:
    """A "none known" moves where the survivor says nothing of the section; where the merged record now has
    allergies or immunizations, any "none known" of that section goes."""
    own = set(session.scalars(select(NoneKnown.section).where(NoneKnown.person_id == keep)))
    session.execute(delete(NoneKnown).where(NoneKnown.person_id == gone, NoneKnown.section.in_(own)))
    session.execute(update(NoneKnown).where(NoneKnown.person_id == gone).values(person_id=keep))
    for section, table in ((Section.ALLERGIES, Allergy), (Section.IMMUNIZATIONS, Immunization)):
        if session.scalar(select(exists().where(table.person_id == keep))):
            session.execute(delete(NoneKnown).where(NoneKnown.person_id == keep, NoneKnown.section == section.value))


def _take_demographics(survivor: Person, merged: Person) -> None:
    """Records staff found the other's name, birth date and sex right: the survivor takes those it knows."""
    if merged.full_name:
        survivor.full_name, survivor.name_key = merged.full_name, merged.name_key
    if merged.birth_year is not None:
        survivor.birth_year, survivor.birth_month, survivor.birth_day = index.birth_parts(merged)
    if merged.sex:
        survivor.sex = merged.sex


def _fill_from(survivor: Person, merged: Person, now: dt.datetime) -> None:
    """The survivor keeps its values and takes only what it lacks (birth parts only where the dates agree)."""
    mine, theirs = [survivor.birth_year, survivor.birth_month, survivor.birth_day], index.birth_parts(merged)
    if index.births_agree(tuple(mine), theirs):
        for i, part in enumerate(theirs):
            if part is None:
                break
            if mine[i] is None:
                mine[i] = part
        survivor.birth_year, survivor.birth_month, survivor.birth_day = mine
    for field in ("sex", "phone", "address", "cccd", "social_insurance_number"):
        if not getattr(survivor, field) and getattr(merged, field):
            setattr(survivor, field, getattr(merged, field))
    if not survivor.full_name and merged.full_name:
        survivor.full_name, survivor.name_key = merged.full_name, merged.name_key
    survivor.updated_at = now


def _repoint_matches(session: Session, keep: int, gone: int, decided: int, *, by: str, now: dt.datetime) -> None:
    others = session.scalars(
        select(PersonMatch).where(
            or_(PersonMatch.person_id == gone, PersonMatch.other_person_id == gone), PersonMatch.id != decided
        )
    ).all()
    for other in others:
        first = keep if other.person_id == gone else other.person_id
        second = keep if other.other_person_id == gone else other.other_person_id
        is_open = other.status == MatchStatus.OPEN.value
        if first == second:
            if is_open:  # the same person now: nothing left to decide
                _decide(other, MatchStatus.CONFIRMED, by, now)
                other.detail = (other.detail + f"; closed by the merge of match {decided}")[:300]
            continue
        session.flush()
        if index.paired(session, first, second):
            if is_open:
                session.delete(other)
            continue
        other.person_id, other.other_person_id = first, second


def _views(session: Session, matches: list[PersonMatch]) -> list[MatchView]:
    ids = {i for m in matches for i in (m.person_id, m.other_person_id)}
    if not ids:
        return []
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    facilities: dict[int, dict[str, int]] = {}
    for person_id, facility, count in session.execute(
        select(Visit.person_id, Visit.facility_code, func.count())
        .where(Visit.person_id.in_(ids), Visit.superseded_at.is_(None))
        .group_by(Visit.person_id, Visit.facility_code)
    ):
        facilities.setdefault(person_id, {})[facility] = count
    views = []
    for m in matches:
        a, b = people[m.person_id], people[m.other_person_id]
        agrees, differs = compare(a, b)
        views.append(
            MatchView(
                id=m.id,
                kind=m.kind,
                status=m.status,
                detail=m.detail,
                person=_side(a, facilities.get(a.id, {})),
                other=_side(b, facilities.get(b.id, {})),
                agrees=agrees,
                differs=differs,
                created_at=m.created_at,
                decided_at=m.decided_at,
                decided_by=m.decided_by,
            )
        )
    return views


def _side(person: Person, facilities: dict[str, int]) -> MatchPerson:
    return MatchPerson(
        id=person.id,
        full_name=person.full_name,
        birth_date=index.birth_text(index.birth_parts(person)),
        sex=person.sex,
        cccd=mask_identifier(person.cccd),
        social_insurance_number=mask_identifier(person.social_insurance_number),
        facilities=sorted(facilities),
        visits=sum(facilities.values()),
        merged_into_id=person.merged_into_id,
    )


def compare(a: Person, b: Person) -> tuple[list[str], list[str]]:
    """The fields both persons know, split into those that agree and those that differ."""
    agrees: list[str] = []
    differs: list[str] = []
    pairs = (
        ("name", a.name_key, b.name_key),
        ("birth_date", a.birth_year, b.birth_year),
        ("sex", a.sex, b.sex),
        ("cccd", a.cccd, b.cccd),
        ("social_insurance_number", a.social_insurance_number, b.social_insurance_number),
    )
    for field, left, right in pairs:
        if left is None or right is None or left == "" or right == "":
            continue
        same = left == right
        if field == "birth_date":
            same = index.births_agree(index.birth_parts(a), index.birth_parts(b))
        (agrees if same else differs).append(field)
    return agrees, differs
