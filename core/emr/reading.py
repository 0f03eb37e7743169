"""The audited read service of clinical records: a person's whole record across the deployment's hospitals.

A record is never read anonymously: every call names its reader (core.audit.Actor) and purpose, and writes one
append-only audit row (reader, person, what was read as ids, purpose, channel, time). A reader confined to a
hospital (an API key made with --hospital) reads only persons who have a visit at that hospital; it then sees
the person's whole record across the province, the exchange the province asked for.

The visits come back as the core.emr.records values they were imported as (core/emr/visit_rows.py maps them
exactly), newest first, in a handful of queries (one per table, with IN lists), whatever the number of visits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, select

from core import audit
from core.audit import Actor
from core.db import UTCDateTime
from core.errors import DomainError, NotFound
from core.tenancy import OtherHospital
from core.timeutil import UTC

from . import models as m
from .records import Allergy, Identity, Immunization, PersonRecord, Section, VisitRecord
from .visit_rows import CHILD_TABLES, DIAGNOSES, DOCUMENTS, REEXAM_SLIPS, VISITS, visit_record

PERSONS = m.Person.__table__
IMMUNIZATIONS = m.Immunization.__table__
ALLERGIES = m.Allergy.__table__
NONE_KNOWN = m.NoneKnown.__table__
MAX_MERGE_DEPTH = 20  # a chain of merges longer than this is a data error, not followed further
CHANNEL_OF_KIND = {"api_client": "api", "zalo_user": "zalo"}
# What a visit's header reads besides its row (visit_read): its diagnoses, papers and re-exam slip, enough to
# list it, to choose it and to know whether it is withheld; the other child tables only for the chosen visit.
HEADER_TABLES: tuple[Table, ...] = (DIAGNOSES, DOCUMENTS, REEXAM_SLIPS)
DETAIL_TABLES: tuple[Table, ...] = tuple(t for t in CHILD_TABLES if t not in HEADER_TABLES)


class AnonymousRead(DomainError):
    """A clinical record is never read without a reader."""

    code = "forbidden"

    def __init__(self) -> None:
        super().__init__(
            "a clinical record is read only by a named reader",
            "Dạ, hồ sơ bệnh án chỉ được xem khi biết rõ người xem ạ.",
        )


@dataclasses.dataclass(frozen=True)
class StoredVisit:
    """Where a visit of a stored record comes from (parallel to ``StoredRecord.record.visits``)."""

    visit_id: int
    person_id: int
    facility_code: str
    visit_key: str
    hospital_id: int | None
    version: int
    source: str
    import_id: int | None
    imported_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class StoredRecord:
    """A person's record as stored: ``record.visits`` newest first, ``visits`` their metadata in that order;
    ``merged_ids`` the persons merged into this one (their visits are part of the record)."""

    person_id: int
    record: PersonRecord
    visits: tuple[StoredVisit, ...]
    merged_ids: tuple[int, ...] = ()

    @functools.cached_property  # asked often by the chat's choice of a visit; the dataclass is frozen
    def visit_ids(self) -> tuple[int, ...]:
        return tuple(v.visit_id for v in self.visits)

    @functools.cached_property
    def hospital_ids(self) -> frozenset[int]:
        return frozenset(v.hospital_id for v in self.visits if v.hospital_id is not None)


@dataclasses.dataclass(frozen=True)
class VisitVersion:
    """One stored version of a visit (the current one has ``superseded_at`` None)."""

    meta: StoredVisit
    content_hash: str
    superseded_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    record: VisitRecord


def _channel(reader: Actor, channel: str | None) -> str:
    return channel if channel is not None else CHANNEL_OF_KIND.get(reader.kind, reader.kind)


@dataclasses.dataclass
class _Loaded:
    """The rows of one person's record (``person`` None: no such person)."""

    person: Mapping[str, Any] | None
    merged: list[int]
    visits: list[Mapping[str, Any]]
    children: dict[Table, dict[int, list[Mapping[str, Any]]]]
    immunizations: list[Mapping[str, Any]]
    allergies: list[Mapping[str, Any]]
    none_known: list[str]


def _load(session: Any, person_id: int) -> _Loaded:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return _load_pipelined(connection, person_id)
    return _load_statements(session, person_id)


# --- PostgreSQL: two round trips (pipelines) of simple statements, in one snapshot ------------------------------

# The person asked for, followed through its merges to the root; the root and every person merged into it.
_GROUP = f"""WITH RECURSIVE up(id, merged_into_id, depth) AS (
    SELECT id, merged_into_id, 0 FROM emr_persons WHERE id = %(person)s
    UNION ALL
    SELECT p.id, p.merged_into_id, up.depth + 1 FROM emr_persons p JOIN up ON p.id = up.merged_into_id
    WHERE up.depth < {MAX_MERGE_DEPTH}
), root(id) AS (SELECT id FROM up ORDER BY depth DESC LIMIT 1),
grp(id) AS (SELECT id FROM root UNION SELECT p.id FROM emr_persons p JOIN grp ON p.merged_into_id = grp.id)
"""
_PERSON_QUERIES = (
    _GROUP + "SELECT * FROM emr_persons WHERE id = (SELECT id FROM root)",
    _GROUP + "SELECT id FROM grp WHERE id <> (SELECT id FROM root) ORDER BY id",
)
# "= ANY(ARRAY(subquery))": the subquery runs once and the outer scan is an index scan on its ids (an "IN
# (subquery)" lets the planner join against every current visit when the statistics are stale, e.g. right
# after a bulk import).
_CURRENT_IDS = (
    "ANY(ARRAY(SELECT id FROM emr_visits WHERE person_id = ANY(%(persons)s) "
    "AND superseded_at IS NULL AND cancelled_at IS NULL))"
)
_RECORD_QUERIES = (
    "SELECT * FROM emr_visits WHERE person_id = ANY(%(persons)s) AND superseded_at IS NULL "
    "AND cancelled_at IS NULL ORDER BY arrived_at DESC NULLS LAST, id DESC",
    *(f"SELECT * FROM {t.name} WHERE visit_id = {_CURRENT_IDS} ORDER BY visit_id, id" for t in CHILD_TABLES),
    "SELECT * FROM emr_immunizations WHERE person_id = ANY(%(persons)s) ORDER BY id",
    "SELECT * FROM emr_allergies WHERE person_id = ANY(%(persons)s) ORDER BY id",
    "SELECT section FROM emr_none_known WHERE person_id = ANY(%(persons)s) ORDER BY section",
)


def _timestamp_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if isinstance(c.type, UTCDateTime))


_PERSON_TIMESTAMPS = (_timestamp_columns(PERSONS), ())
_RECORD_TIMESTAMPS = (_timestamp_columns(VISITS), *(_timestamp_columns(t) for t in CHILD_TABLES), (), (), ())


def _utc(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Timestamps with the UTC zone, as everywhere else (the server sends them in the session's time zone)."""
    for row in rows:
        for key in columns:
            value = row[key]
            if value is not None and value.tzinfo is not UTC:
                row[key] = value.astimezone(UTC)
    return rows


def _json_as_text(adapters: Any) -> None:
    """JSON columns come back as their text, decoded by core.emr.visit_rows (which caches the identity
    repeated on every visit of a person) instead of by psycopg, once per row."""
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    class JsonText(Loader):
        format = Format.BINARY  # the binary form of json is its text

        def load(self, data: Any) -> str:
            return bytes(data).decode()

    adapters.register_loader("json", JsonText)


def _pipelined(
    raw: Any,
    queries: Sequence[str],
    params: Mapping[str, Any],
    timestamps: Sequence[tuple[str, ...]],
    *,
    before: Sequence[str] = (),
    after: Sequence[str] = (),
) -> list[list[dict[str, Any]]]:
    """The rows of each of ``queries``, sent together (with the ``before`` and ``after`` commands around them)
    in one round trip."""
    from psycopg.rows import dict_row

    if not getattr(raw, "_henkham_json_text", False):
        _json_as_text(raw.adapters)
        raw._henkham_json_text = True
    cursors = []
    with raw.pipeline():
        for command in before:
            raw.execute(command)
        for statement in queries:
            cursor = raw.cursor(row_factory=dict_row, binary=True)
            cursor.execute(statement, params, prepare=True)
            cursors.append(cursor)
        for command in after:
            raw.execute(command)
    results = [_utc(c.fetchall(), columns) for c, columns in zip(cursors, timestamps, strict=True)]
    for cursor in cursors:
        cursor.close()
    return results


# A reader (autocommit) reads the whole record in one snapshot, in UTC (psycopg then returns datetime.UTC).
_BEGIN = ("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "SET LOCAL TIME ZONE 'UTC'")
_COMMIT = ("COMMIT",)


def _load_pipelined(connection: Any, person_id: int) -> _Loaded:
    from psycopg.pq import TransactionStatus

    raw = connection.connection.dbapi_connection
    own = raw.autocommit  # a reader: its statements would each see another snapshot
    try:
        person_rows, merged_rows = _pipelined(
            raw, _PERSON_QUERIES, {"person": person_id}, _PERSON_TIMESTAMPS, before=_BEGIN if own else ()
        )
        if not person_rows:
            return _Loaded(None, [], [], {}, [], [], [])
        merged = [row["id"] for row in merged_rows]
        persons = [person_rows[0]["id"], *merged]
        visits, *rest = _pipelined(
            raw, _RECORD_QUERIES, {"persons": persons}, _RECORD_TIMESTAMPS, after=_COMMIT if own else ()
        )
    finally:
        if own and raw.info.transaction_status != TransactionStatus.IDLE:  # no person, or a failure
            raw.execute("ROLLBACK")
    children_rows, (immunizations, allergies, none_known) = rest[: len(CHILD_TABLES)], rest[len(CHILD_TABLES) :]
    return _Loaded(
        person_rows[0],
        merged,
        visits,
        _per_visit(CHILD_TABLES, children_rows),
        immunizations,
        allergies,
        [r["section"] for r in none_known],
    )


# --- elsewhere (SQLite): one statement per table ------------------------------------------------------------


def _root_person(session: Any, person_id: int) -> Mapping[str, Any] | None:
    """The person row ``person_id`` reads as: itself, or the one it was merged into (followed to the end)."""
    seen: set[int] = set()
    while True:
        row = session.execute(select(PERSONS).where(PERSONS.c.id == person_id)).mappings().first()
        if row is None:
            return None
        target = row["merged_into_id"]
        if target is None or target in seen or len(seen) >= MAX_MERGE_DEPTH:
            return row
        seen.add(person_id)
        person_id = target


def _merged_into(session: Any, root_id: int) -> list[int]:
    """Every person merged (directly or through others) into ``root_id``."""
    found: list[int] = []
    frontier = [root_id]
    for _ in range(MAX_MERGE_DEPTH):
        ids = [
            i
            for i in session.execute(select(PERSONS.c.id).where(PERSONS.c.merged_into_id.in_(frontier))).scalars()
            if i != root_id and i not in found
        ]
        if not ids:
            break
        found.extend(ids)
        frontier = ids
    return sorted(found)


def _children(session: Any, visit_ids: Sequence[int]) -> dict[Table, dict[int, list[Mapping[str, Any]]]]:
    """The child rows of ``visit_ids``, per table and visit, each list in the order written."""
    out: dict[Table, dict[int, list[Mapping[str, Any]]]] = {}
    for table in CHILD_TABLES:
        per_visit: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
        if visit_ids:
            statement = select(table).where(table.c.visit_id.in_(visit_ids)).order_by(table.c.visit_id, table.c.id)
            for row in session.execute(statement).mappings():
                per_visit[row["visit_id"]].append(row)
        out[table] = per_visit
    return out


def _load_statements(session: Any, person_id: int) -> _Loaded:
    person = _root_person(session, person_id)
    if person is None:
        return _Loaded(None, [], [], {}, [], [], [])
    merged = _merged_into(session, person["id"])
    persons = [person["id"], *merged]
    visits = list(
        session.execute(
            select(VISITS)
            .where(
                VISITS.c.person_id.in_(persons),
                VISITS.c.superseded_at.is_(None),
                VISITS.c.cancelled_at.is_(None),
            )
            .order_by(VISITS.c.arrived_at.desc().nulls_last(), VISITS.c.id.desc())
        ).mappings()
    )
    return _Loaded(
        person,
        merged,
        visits,
        _children(session, [row["id"] for row in visits]),
        list(
            session.execute(
                select(IMMUNIZATIONS).where(IMMUNIZATIONS.c.person_id.in_(persons)).order_by(IMMUNIZATIONS.c.id)
            ).mappings()
        ),
        list(
            session.execute(
                select(ALLERGIES).where(ALLERGIES.c.person_id.in_(persons)).order_by(ALLERGIES.c.id)
            ).mappings()
        ),
        list(
            session.execute(
                select(NONE_KNOWN.c.section).where(NONE_KNOWN.c.person_id.in_(persons)).order_by(NONE_KNOWN.c.section)
            ).scalars()
        ),
    )


def _meta(row: Mapping[str, Any]) -> StoredVisit:
    return StoredVisit(
        visit_id=row["id"],
        person_id=row["person_id"],
        facility_code=row["facility_code"],
        visit_key=row["visit_key"],
        hospital_id=row["hospital_id"],
        version=row["version"],
        source=row["source"],
        import_id=row["import_id"],
        imported_at=row["imported_at"],
    )


def _records(session: Any, visit_rows: Sequence[Mapping[str, Any]]) -> list[VisitRecord]:
    children = _children(session, [row["id"] for row in visit_rows])
    return [
        visit_record(row, {table: children[table].get(row["id"], ()) for table in CHILD_TABLES}) for row in visit_rows
    ]


def _ids(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


def person_record(
    uow,
    person_id: int,
    *,
    reader: Actor | None,
    purpose: str,
    channel: str | None = None,
    now: dt.datetime | None = None,
) -> StoredRecord:
    """The whole record of person ``person_id`` (or of the person it was merged into): its current, not
    cancelled visits at every hospital, newest first, its immunizations, allergies and "none known" sections.
    Audited (one row); refused without a reader, NotFound for an unknown person, OtherHospital for a confined
    reader whose hospital the person has never visited."""
    if reader is None:
        raise AnonymousRead()
    loaded = _load(uow.session, person_id)
    person = loaded.person
    if person is None:
        raise NotFound(f"person {person_id} not found", "Dạ, em không tìm thấy hồ sơ này ạ.")
    root_id, merged, visit_rows = person["id"], loaded.merged, loaded.visits
    if reader.hospital_id is not None and all(row["hospital_id"] != reader.hospital_id for row in visit_rows):
        raise OtherHospital("person")
    visits = [
        visit_record(row, {table: loaded.children[table].get(row["id"], ()) for table in CHILD_TABLES})
        for row in visit_rows
    ]
    immunizations = tuple(_immunization(x) for x in loaded.immunizations)
    allergies = tuple(
        Allergy(
            identifier=x["identifier"],
            substance=x["substance"],
            code=x["code"],
            code_system=x["code_system"],
            reaction=x["reaction"],
            criticality=x["criticality"],
            clinical_status=x["clinical_status"],
            recorded_on=x["recorded_on"],
        )
        for x in loaded.allergies
    )
    none_known = frozenset(Section(s) for s in loaded.none_known)
    identity = _identity(person, visits[0].identity if visits else None)
    stored = StoredRecord(
        person_id=root_id,
        record=PersonRecord(identity, tuple(visits), immunizations, allergies, none_known),
        visits=tuple(_meta(row) for row in visit_rows),
        merged_ids=tuple(merged),
    )
    detail = (
        f"visits={_ids(stored.visit_ids)};immunizations={len(immunizations)};allergies={len(allergies)};"
        f"none_known={','.join(sorted(none_known))}"
    )
    if merged:
        detail += f";merged={_ids(merged)}"
    if root_id != person_id:
        detail += f";asked={person_id}"
    audit.record_record_read(
        uow, reader, "emr_person", root_id, purpose=purpose, channel=_channel(reader, channel), detail=detail, now=now
    )
    return stored


def visit_versions(
    uow,
    facility_code: str,
    visit_key: str,
    *,
    reader: Actor | None,
    purpose: str,
    channel: str | None = None,
    now: dt.datetime | None = None,
) -> list[VisitVersion]:
    """Every stored version of one visit (facility + MA_LK), oldest first, each with its own children.
    Audited (one row); refused without a reader; a confined reader sees only its own hospital's visits."""
    if reader is None:
        raise AnonymousRead()
    session = uow.session
    rows = list(
        session.execute(
            select(VISITS)
            .where(VISITS.c.facility_code == facility_code, VISITS.c.visit_key == visit_key)
            .order_by(VISITS.c.version)
        ).mappings()
    )
    if not rows:
        raise NotFound(f"visit {facility_code}/{visit_key} not found", "Dạ, em không tìm thấy lần khám này ạ.")
    if reader.hospital_id is not None and rows[-1]["hospital_id"] != reader.hospital_id:
        raise OtherHospital("visit")
    versions = [
        VisitVersion(_meta(row), row["content_hash"], row["superseded_at"], row["cancelled_at"], record)
        for row, record in zip(rows, _records(session, rows), strict=True)
    ]
    audit.record_record_read(
        uow,
        reader,
        "emr_visit",
        rows[-1]["id"],
        purpose=purpose,
        channel=_channel(reader, channel),
        detail=f"versions={_ids(row['id'] for row in rows)}",
        now=now,
    )
    return versions


# --- a narrower read: the list of visits and one visit in full (the chat) -----------------------------------


def _per_visit(tables: Sequence[Table], rows: Sequence[list[dict[str, Any]]]) -> dict[Table, dict[int, list]]:
    out: dict[Table, dict[int, list]] = {}
    for table, table_rows in zip(tables, rows, strict=True):
        per_visit: dict[int, list] = defaultdict(list)
        for row in table_rows:
            per_visit[row["visit_id"]].append(row)
        out[table] = per_visit
    return out


def _header_queries(immunizations: bool) -> tuple[str, ...]:
    return (
        _RECORD_QUERIES[0],
        *(f"SELECT * FROM {t.name} WHERE visit_id = {_CURRENT_IDS} ORDER BY visit_id, id" for t in HEADER_TABLES),
        *(("SELECT * FROM emr_immunizations WHERE person_id = ANY(%(persons)s) ORDER BY id",) if immunizations else ()),
    )


_HEADER_TIMESTAMPS = (_timestamp_columns(VISITS), *(_timestamp_columns(t) for t in HEADER_TABLES), ())
_DETAIL_QUERIES = tuple(f"SELECT * FROM {t.name} WHERE visit_id = %(visit)s ORDER BY id" for t in DETAIL_TABLES)
_DETAIL_TIMESTAMPS = tuple(_timestamp_columns(t) for t in DETAIL_TABLES)


def _immunization(x: Mapping[str, Any]) -> Immunization:
    return Immunization(
        identifier=x["identifier"],
        vaccine_name=x["vaccine_name"],
        occurred_on=x["occurred_on"],
        vaccine_code=x["vaccine_code"],
        vaccine_system=x["vaccine_system"],
        dose_number=x["dose_number"],
        lot_number=x["lot_number"],
        facility_code=x["facility_code"],
        status=x["status"],
    )


def _identity(person: Mapping[str, Any], newest: Identity | None) -> Identity:
    return Identity(
        full_name=person["full_name"],
        birth_year=person["birth_year"],
        birth_month=person["birth_month"],
        birth_day=person["birth_day"],
        sex=person["sex"],
        cccd=person["cccd"],
        insurance_cards=newest.insurance_cards if newest else (),
        phone=person["phone"],
        address=person["address"],
        blood_group=newest.blood_group if newest else "",
    )


class _Headers:
    """The rows of a visit_read: the person, its visits with their header children, one visit's details."""

    def __init__(self, person: Mapping[str, Any], merged: list[int], visits: list, header: dict, immunizations: list):
        self.person, self.merged, self.visits, self.header = person, merged, visits, header
        self.immunizations = immunizations
        self.records = [self._record(row, {}) for row in visits]
        self.metas = tuple(_meta(row) for row in visits)

    def _record(self, row: Mapping[str, Any], detail: Mapping[Table, Sequence[Mapping[str, Any]]]) -> VisitRecord:
        children = {table: rows for table in HEADER_TABLES if (rows := self.header.get(table, {}).get(row["id"]))}
        return visit_record(row, {**children, **detail})

    def add_detail(self, visit_id: int, rows: Sequence[list[dict[str, Any]]]) -> None:
        """The chosen visit's record, with the rows of DETAIL_TABLES too."""
        index = next(i for i, row in enumerate(self.visits) if row["id"] == visit_id)
        self.records[index] = self._record(self.visits[index], dict(zip(DETAIL_TABLES, rows, strict=True)))

    def stored(self, immunizations: Sequence[Immunization]) -> StoredRecord:
        identity = _identity(self.person, self.records[0].identity if self.records else None)
        return StoredRecord(
            person_id=self.person["id"],
            record=PersonRecord(identity, tuple(self.records), tuple(immunizations), (), frozenset()),
            visits=self.metas,
            merged_ids=tuple(self.merged),
        )


def _read_pipelined(
    connection: Any, person_id: int, immunizations: bool, choose: Callable[[StoredRecord], int | None]
) -> tuple[_Headers | None, int | None]:
    from psycopg.pq import TransactionStatus

    raw = connection.connection.dbapi_connection
    own = raw.autocommit
    try:
        person_rows, merged_rows = _pipelined(
            raw, _PERSON_QUERIES, {"person": person_id}, _PERSON_TIMESTAMPS, before=_BEGIN if own else ()
        )
        if not person_rows:
            return None, None
        merged = [row["id"] for row in merged_rows]
        persons = [person_rows[0]["id"], *merged]
        queries = _header_queries(immunizations)
        visits, *rest = _pipelined(raw, queries, {"persons": persons}, _HEADER_TIMESTAMPS[: len(queries)])
        header = _per_visit(HEADER_TABLES, rest[: len(HEADER_TABLES)])
        loaded = _Headers(person_rows[0], merged, visits, header, rest[len(HEADER_TABLES)] if immunizations else [])
        chosen = choose(loaded.stored(()))
        if chosen is not None:
            rows = _pipelined(raw, _DETAIL_QUERIES, {"visit": chosen}, _DETAIL_TIMESTAMPS, after=_COMMIT if own else ())
            loaded.add_detail(chosen, rows)
        elif own:
            raw.execute("COMMIT")
    finally:
        if own and raw.info.transaction_status != TransactionStatus.IDLE:
            raw.execute("ROLLBACK")
    return loaded, chosen


def _read_statements(
    session: Any, person_id: int, immunizations: bool, choose: Callable[[StoredRecord], int | None]
) -> tuple[_Headers | None, int | None]:
    person = _root_person(session, person_id)
    if person is None:
        return None, None
    merged = _merged_into(session, person["id"])
    persons = [person["id"], *merged]
    visits = list(
        session.execute(
            select(VISITS)
            .where(VISITS.c.person_id.in_(persons), VISITS.c.superseded_at.is_(None), VISITS.c.cancelled_at.is_(None))
            .order_by(VISITS.c.arrived_at.desc().nulls_last(), VISITS.c.id.desc())
        ).mappings()
    )
    ids = [row["id"] for row in visits]
    header = {
        t: _per_visit(
            (t,),
            [list(session.execute(select(t).where(t.c.visit_id.in_(ids)).order_by(t.c.visit_id, t.c.id)).mappings())],
        )[t]
        for t in HEADER_TABLES
    }
    shots = []
    if immunizations:
        statement = select(IMMUNIZATIONS).where(IMMUNIZATIONS.c.person_id.in_(persons)).order_by(IMMUNIZATIONS.c.id)
        shots = list(session.execute(statement).mappings())
    loaded = _Headers(person, merged, visits, header, shots)
    chosen = choose(loaded.stored(()))
    if chosen is not None:
        loaded.add_detail(
            chosen,
            [
                list(session.execute(select(t).where(t.c.visit_id == chosen).order_by(t.c.id)).mappings())
                for t in DETAIL_TABLES
            ],
        )
    return loaded, chosen


def visit_read(
    uow,
    person_id: int,
    choose: Callable[[StoredRecord], int | None],
    *,
    immunizations: bool,
    reader: Actor | None,
    purpose: str,
    channel: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[StoredRecord, int | None]:
    """The list of the person's current visits and one of them in full, for a reader that shows one visit
    (the chat): the person group (through merges), every current visit's row with its header children
    (HEADER_TABLES: diagnoses, papers, re-exam slip), then the visit ``choose`` picks from that (its id, or None)
    with every other child table; the immunizations only when asked; no allergies or "none known" sections.
    Returns the record (the other visits without DETAIL_TABLES rows) and the chosen id. Audited (one row naming
    exactly what was read); the refusals of :func:`person_record`; an error raised by ``choose`` is raised
    unaudited, nothing having been shown."""
    if reader is None:
        raise AnonymousRead()
    session = uow.session
    connection = session.connection()

    def confined(headers: StoredRecord) -> int | None:
        if reader.hospital_id is not None and reader.hospital_id not in headers.hospital_ids:
            raise OtherHospital("person")
        return choose(headers)

    if connection.dialect.name == "postgresql":
        loaded, chosen = _read_pipelined(connection, person_id, immunizations, confined)
    else:
        loaded, chosen = _read_statements(session, person_id, immunizations, confined)
    if loaded is None:
        raise NotFound(f"person {person_id} not found", "Dạ, em không tìm thấy hồ sơ này ạ.")
    shots = tuple(_immunization(x) for x in loaded.immunizations)
    stored = loaded.stored(shots)
    root_id = stored.person_id
    detail = f"headers={_ids(stored.visit_ids)};visit={chosen if chosen is not None else ''}"
    detail += f";immunizations={len(shots)}" if immunizations else ";immunizations=not_read"
    if loaded.merged:
        detail += f";merged={_ids(loaded.merged)}"
    if root_id != person_id:
        detail += f";asked={person_id}"
    audit.record_record_read(
        uow, reader, "emr_person", root_id, purpose=purpose, channel=_channel(reader, channel), detail=detail, now=now
    )
    return stored, chosen
