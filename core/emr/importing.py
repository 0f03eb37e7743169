"""Import of clinical records: a HIS submission file (XML 130/4750), a FHIR R4 Bundle, or record values.

Every entry point (``henkham emr import``, ``POST /api/v1/emr/imports``, the inbox job, the demo) calls
:func:`import_bytes`. What it guarantees:

* **Recorded first.** The ``Import`` row and the raw bytes are committed before anything is parsed; counts and
  ``finished_at`` are filled at the end (an import that died keeps its row with ``finished_at`` empty).
* **Idempotent.** A visit (facility + MA_LK) whose record has the same content hash as its current version is
  ``unchanged``: nothing is written. A different hash adds version+1 as the current one and marks the previous
  ``superseded_at``, in the same transaction as all the new children; the old version keeps its own (audit).
* **Atomic per visit.** A refused visit (the parser's problems, a value the store cannot keep exactly, an error
  of the database) rolls back alone and is reported ``refused`` with its reasons; the others are stored. Visits
  are committed in batches, so a crash loses at most the batch being written and never leaves half a visit.
* **Fast.** A batch is first written whole (one look-up of the batch's current versions, the persons of its new
  visits resolved together by core.emr.persons.resolve_persons, one COPY per table, one re-exam look-up); only
  when that fails is it written again visit by visit, each in its own savepoint, which tells the failing visit
  apart. The next batch's rows, checks and content hashes are prepared in a thread while the current one waits
  for the database (visits are stored only once the whole file is read: a file refused whole stores nothing).
  Two imports of the same visit at once: the partial unique index ``uq_emr_visits_current`` refuses the second
  current version, and that visit is retried once.
* **Confined.** With ``hospital_id`` (an API key restricted to a hospital) every visit must be of that
  hospital's facility code, else the whole file is refused and nothing is stored. Without it, a visit whose
  facility is a henkham hospital is linked to it; a visit of any other facility is kept unlinked.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Table, insert, or_, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from core.booking.models import HOSPITALS
from core.db import insert_ignoring_conflicts
from core.timeutil import utcnow
from core.uow import Database

from . import icd10
from . import models as m
from .bulk import bulk_insert
from .content_hash import content_hash
from .persons import resolve_person, resolve_persons
from .records import Identity, ParsedFile, ParsedVisit, PersonRecord, Problem, Section, VisitRecord
from .reexam_sync import sync_visits
from .service_names import learn_from_import
from .visit_rows import CHILD_TABLES, VISITS, VisitRows, check_lists, check_rows, visit_rows
from .xml130 import parse_base64_submission, parse_submission

log = logging.getLogger(__name__)
PERSONS = m.Person.__table__

BATCH_SIZE = 200  # visits per transaction
IMPORTS = m.Import.__table__
IMPORT_FILES = m.ImportFile.__table__
IMPORT_ITEMS = m.ImportItem.__table__
IMMUNIZATIONS = m.Immunization.__table__
ALLERGIES = m.Allergy.__table__
NONE_KNOWN = m.NoneKnown.__table__
Outcome = m.ImportOutcome


# --- the report ---------------------------------------------------------------------------------------------


def problem_json(problem: Problem, *, warning: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"table": problem.table, "field": problem.field, "row": problem.row}
    body["reason"] = problem.reason
    if warning:
        body["warning"] = True
    return body


@dataclasses.dataclass(frozen=True)
class ItemReport:
    """What became of one visit of the file (``position``: its place in the file, from 1)."""

    position: int
    facility_code: str
    visit_key: str
    outcome: Outcome
    visit_id: int | None = None
    version: int | None = None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "facility_code": self.facility_code,
            "visit_key": self.visit_key,
            "outcome": self.outcome.value,
            "visit_id": self.visit_id,
            "version": self.version,
            "problems": [problem_json(p) for p in self.problems],
            "warnings": [problem_json(p) for p in self.warnings],
        }


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """The report of one import: counts, one item per visit, and the problems that refused the whole file."""

    import_id: int
    format: str
    items: tuple[ItemReport, ...] = ()
    problems: tuple[Problem, ...] = ()
    immunizations: int = 0  # FHIR: immunizations stored (new or updated by identifier)
    allergies: int = 0
    # Refused because it reaches beyond the importing key's hospital (a visit of another facility, or a person
    # with no visit at the key's hospital): entry points answer "forbidden".
    other_hospital: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome is outcome)

    @property
    def imported(self) -> int:
        return self.count(Outcome.IMPORTED)

    @property
    def updated(self) -> int:
        return self.count(Outcome.UPDATED)

    @property
    def unchanged(self) -> int:
        return self.count(Outcome.UNCHANGED)

    @property
    def refused(self) -> int:
        return self.count(Outcome.REFUSED)

    @property
    def ok(self) -> bool:
        """False when the file, or any visit of it, was refused."""
        return not self.problems and self.refused == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "format": self.format,
            "ok": self.ok,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "immunizations": self.immunizations,
            "allergies": self.allergies,
            "other_hospital": self.other_hospital,
            "problems": [problem_json(p) for p in self.problems],
            "items": [item.as_dict() for item in self.items],
        }


# --- entry --------------------------------------------------------------------------------------------------

FORMAT_XML = "xml130"
FORMAT_FHIR = "fhir"


def detect_format(data: bytes) -> str:
    """ "fhir" for a JSON body (it starts with "{"), else "xml130" (a submission file, or its base64 form)."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return FORMAT_FHIR if head.startswith(b"{") else FORMAT_XML


def import_bytes(
    db: Database,
    data: bytes,
    *,
    channel: str,
    filename: str = "",
    hospital_id: int | None = None,
    actor: str = "",
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import a submission file (XML 130/4750, or the single base64 string the BHXH gateway takes) or a FHIR
    R4 Bundle (JSON); see the module docstring for the guarantees."""
    now = now or utcnow()
    fmt = detect_format(data)
    import_id = create_import(
        db, fmt, data, channel=channel, filename=filename, hospital_id=hospital_id, actor=actor, now=now, raw=False
    )
    # The raw bytes are written (compressed by the server) while the file is parsed here, and committed before
    # any visit is stored.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="emr-raw") as pool:
        raw = pool.submit(store_raw_file, db, import_id, data)
        if fmt == FORMAT_FHIR:
            persons, problems = _parse_fhir(data, import_id)
        else:
            parsed = _parse_submission(data, import_id)
        raw.result()
    if fmt == FORMAT_FHIR:
        return store_person_records(
            db,
            persons,
            import_id=import_id,
            hospital_id=hospital_id,
            now=now,
            problems=tuple(problems),
            refuse_file=tuple(problems) if not persons else (),
            batch_size=batch_size,
        )
    return store_parsed(db, parsed, import_id=import_id, hospital_id=hospital_id, now=now, batch_size=batch_size)


def _parse_fhir(data: bytes, import_id: int) -> tuple[list[PersonRecord], list[Problem]]:
    try:
        from .fhir import parse_bundle  # imported when needed: the FHIR models take a while to load

        persons, problems = parse_bundle(data)
        return list(persons), list(problems)
    except Exception as error:  # a reader's failure refuses the file, it never crashes the caller
        log.exception("emr import %s: the FHIR bundle could not be read", import_id)
        return [], [Problem(f"the bundle could not be read ({type(error).__name__})", "Bundle")]


def _parse_submission(data: bytes, import_id: int) -> ParsedFile:
    try:
        return _parse_xml(data)
    except Exception as error:
        log.exception("emr import %s: the submission file could not be read", import_id)
        return ParsedFile("", problems=(Problem(f"the file could not be read ({type(error).__name__})"),))


def _parse_xml(data: bytes) -> ParsedFile:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return parse_submission(data) if head.startswith(b"<") or not head else parse_base64_submission(data)


def create_import(
    db: Database,
    fmt: str,
    data: bytes,
    *,
    channel: str,
    filename: str = "",
    hospital_id: int | None = None,
    actor: str = "",
    now: dt.datetime | None = None,
    raw: bool = True,
) -> int:
    """The committed ``Import`` row (and, with ``raw``, its raw bytes) of an import about to start."""
    now = now or utcnow()
    with db.uow() as uow:
        import_id = uow.session.execute(
            insert(IMPORTS).returning(IMPORTS.c.id),
            {
                "format": fmt,
                "channel": channel[:10],
                "filename": filename[-255:],
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "hospital_id": hospital_id,
                "actor": actor[:80],
                "received_at": now,
            },
        ).scalar_one()
        uow.commit()
    if raw:
        store_raw_file(db, import_id, data)
    return import_id


def store_raw_file(db: Database, import_id: int, data: bytes) -> None:
    """Keep the raw bytes of an import (deleted after the retention time; the parsed record stays)."""
    if not data:
        return
    with db.uow() as uow:
        _fast_compression(uow.session)
        uow.session.execute(insert(IMPORT_FILES), {"import_id": import_id, "content": data})
        uow.commit()


def _fast_compression(session: Session) -> None:
    """PostgreSQL: compress the raw file with lz4 rather than the default pglz (2.5 times faster on a 190 MB
    file, and smaller); a server without lz4 keeps its default."""
    if session.get_bind().dialect.name != "postgresql":
        return
    try:
        with session.begin_nested():
            session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))
    except DBAPIError:
        log.info("emr import: lz4 compression unavailable, the raw file is stored with the server's default")


# --- one visit, prepared outside the transaction ------------------------------------------------------------


@dataclasses.dataclass
class _Prepared:
    position: int
    facility_code: str
    visit_key: str
    record: VisitRecord | None
    rows: VisitRows | None
    hash: str
    source: str
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.facility_code, self.visit_key)


def _prepare(position: int, visit: ParsedVisit, source: str) -> _Prepared:
    record = visit.record
    problems = tuple(visit.problems)
    rows = None
    digest = ""
    if record is not None and not problems:
        checks = check_lists(record)
        rows = visit_rows(record, known_code=icd10.is_valid)
        checks.extend(check_rows(rows))
        if checks:
            problems, rows = tuple(checks), None
        else:
            digest = content_hash(record)
    if record is None and not problems:
        problems = (Problem("the visit could not be read"),)
    return _Prepared(
        position,
        record.facility_code if record is not None else visit.facility_code,
        record.visit_key if record is not None else visit.visit_key,
        record if not problems else None,
        rows,
        digest,
        source,
        problems,
        tuple(visit.warnings),
    )


def _prepared_ahead(
    pool: concurrent.futures.Executor, visits: Sequence[ParsedVisit], source: str, size: int
) -> Iterator[_Prepared]:
    """The visits prepared (rows, checks, content hash) in ``pool``'s thread, ``size`` at a time, in order:
    the next batch is prepared while the store waits for the database with the current one."""
    chunks = [range(start, min(start + size, len(visits))) for start in range(0, len(visits), size)]
    for chunk in pool.map(lambda positions: [_prepare(i + 1, visits[i], source) for i in positions], chunks):
        yield from chunk


def _batches(prepared: Iterable[_Prepared], size: int) -> Iterator[list[_Prepared]]:
    """Runs of at most ``size`` visits, a visit key at most once in each (a later copy in the same file then
    sees the earlier one as the current version)."""
    batch: list[_Prepared] = []
    keys: set[tuple[str, str]] = set()
    for item in prepared:
        if len(batch) >= size or (item.rows is not None and item.key in keys):
            yield batch
            batch, keys = [], set()
        batch.append(item)
        if item.rows is not None:
            keys.add(item.key)
    if batch:
        yield batch


# --- the store ----------------------------------------------------------------------------------------------


class _Store:
    """Writes the prepared visits of one import, batch by batch."""

    def __init__(self, db: Database, *, import_id: int, now: dt.datetime) -> None:
        self.db = db
        self.import_id = import_id
        self.now = now
        self.persons: dict[tuple[str, Identity], int] = {}  # resolved in committed batches of this import
        with db.uow() as uow:
            self.hospitals = dict(uow.session.execute(select(HOSPITALS.c.facility_code, HOSPITALS.c.id)).all())

    def store(self, prepared: Iterable[_Prepared], batch_size: int) -> list[ItemReport]:
        items: list[ItemReport] = []
        for batch in _batches(prepared, batch_size):
            items.extend(self._batch(batch))
        return items

    def _batch(self, batch: list[_Prepared]) -> list[ItemReport]:
        writable = [p for p in batch if p.rows is not None]
        outcomes: dict[int, ItemReport] = {}
        with self.db.uow() as uow:
            session = uow.session
            if writable:
                pending: dict[tuple[str, Identity], int] = {}
                try:
                    with session.begin_nested():
                        for report in self._write(session, writable, pending):
                            outcomes[report.position] = report
                    self.persons.update(pending)
                except Exception:  # tell the failing visit apart: again, one savepoint per visit
                    outcomes = {}
                    for item in writable:
                        outcomes[item.position] = self._write_alone(session, item)
            reports = [outcomes.get(p.position) or self._refused(p, p.problems) for p in batch]
            bulk_insert(session, IMPORT_ITEMS, [_item_row(self.import_id, report) for report in reports])
            uow.commit()
        return reports

    def _write_alone(self, session: Session, item: _Prepared) -> ItemReport:
        for attempt in (1, 2):
            pending: dict[tuple[str, Identity], int] = {}
            try:
                with session.begin_nested():
                    (report,) = self._write(session, [item], pending)
                self.persons.update(pending)
                return report
            except DBAPIError as error:
                if attempt == 1 and _retryable(error):  # a concurrent import stored the same visit or person
                    continue
                return self._refused(item, (_database_problem(error),))
            except Exception as error:
                log.exception("emr import %s: visit at position %s failed", self.import_id, item.position)
                return self._refused(item, (Problem(f"the visit could not be stored ({type(error).__name__})"),))
        raise AssertionError("unreachable")

    def _refused(self, item: _Prepared, problems: Sequence[Problem]) -> ItemReport:
        return ItemReport(
            item.position, item.facility_code, item.visit_key, Outcome.REFUSED, None, None, tuple(problems),
            item.warnings,
        )  # fmt: skip

    def _persons(
        self, session: Session, items: Sequence[_Prepared], pending: dict[tuple[str, Identity], int]
    ) -> list[int]:
        """The person of each of ``items``: known from an earlier visit of this import, else resolved, all the
        batch's new ones at once (core.emr.persons.resolve_persons, in the items' order)."""
        keys = [(item.facility_code, item.record.identity) for item in items]  # type: ignore[union-attr]
        wanted = [key for key in dict.fromkeys(keys) if key not in self.persons and key not in pending]
        if wanted:
            ids = resolve_persons(session, [(identity, facility) for facility, identity in wanted], now=self.now)
            pending.update(zip(wanted, ids, strict=True))
        return [self.persons.get(key) or pending[key] for key in keys]

    def _write(
        self, session: Session, items: list[_Prepared], pending: dict[tuple[str, Identity], int]
    ) -> list[ItemReport]:
        """Store ``items`` (distinct visit keys) in the session's current savepoint; their reports."""
        current = {
            (row.facility_code, row.visit_key): row
            for row in session.execute(
                select(
                    VISITS.c.id, VISITS.c.facility_code, VISITS.c.visit_key, VISITS.c.version, VISITS.c.content_hash
                ).where(
                    VISITS.c.superseded_at.is_(None),
                    tuple_(VISITS.c.facility_code, VISITS.c.visit_key).in_([item.key for item in items]),
                )
            )
        }
        reports: dict[int, ItemReport] = {}
        new: list[tuple[_Prepared, int, Outcome]] = []
        for item in items:
            existing = current.get(item.key)
            if existing is not None and existing.content_hash == item.hash:
                reports[item.position] = ItemReport(
                    item.position, item.facility_code, item.visit_key, Outcome.UNCHANGED, existing.id,
                    existing.version, (), item.warnings,
                )  # fmt: skip
            elif existing is not None:
                new.append((item, existing.version + 1, Outcome.UPDATED))
            else:
                new.append((item, 1, Outcome.IMPORTED))
        if new:
            persons = self._persons(session, [item for item, _version, _outcome in new], pending)
            superseded = [current[item.key].id for item, _v, outcome in new if outcome is Outcome.UPDATED]
            if superseded:
                session.execute(update(VISITS).where(VISITS.c.id.in_(superseded)).values(superseded_at=self.now))
            visit_rows_ = []
            for (item, version, _outcome), person_id in zip(new, persons, strict=True):
                assert item.rows is not None
                visit_rows_.append(
                    {
                        **item.rows.visit,
                        "person_id": person_id,
                        "hospital_id": self.hospitals.get(item.facility_code),
                        "version": version,
                        "content_hash": item.hash,
                        "source": item.source,
                        "import_id": self.import_id,
                        "imported_at": self.now,
                        "superseded_at": None,
                        "cancelled_at": None,
                    }
                )
            ids = _insert_visits(session, visit_rows_)
            for table in CHILD_TABLES:
                rows = [
                    {**row, "visit_id": visit_id}
                    for (item, _v, _o), visit_id in zip(new, ids, strict=True)
                    for row in item.rows.children[table]  # type: ignore[union-attr]
                ]
                bulk_insert(session, table, rows)
            # Booking profiles link as persons claim their CCCD or card (core.emr.persons.resolve_person).
            sync_visits(session, ids, self.now)
            for (item, version, outcome), visit_id in zip(new, ids, strict=True):
                reports[item.position] = ItemReport(
                    item.position, item.facility_code, item.visit_key, outcome, visit_id, version, (), item.warnings
                )
        return [reports[item.position] for item in items]


def _insert_visits(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert visit rows; their ids, in order."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return list(
            session.execute(insert(VISITS).returning(VISITS.c.id, sort_by_parameter_order=True), rows).scalars()
        )
    ids = sorted(session.execute(_NEXT_VISIT_IDS, {"n": len(rows)}).scalars())
    bulk_insert(session, VISITS, [{"id": visit_id, **row} for visit_id, row in zip(ids, rows, strict=True)])
    return ids


_NEXT_VISIT_IDS = text("SELECT nextval(pg_get_serial_sequence('emr_visits', 'id')) FROM generate_series(1, :n)")


def _item_row(import_id: int, report: ItemReport) -> dict[str, Any]:
    problems = [problem_json(p) for p in report.problems]
    problems.extend(problem_json(p, warning=True) for p in report.warnings)
    return {
        "import_id": import_id,
        "position": report.position,
        "facility_code": report.facility_code[:5],
        "visit_key": report.visit_key[:100],
        "outcome": report.outcome.value,
        "visit_id": report.visit_id,
        "problems": problems or None,
    }


_RETRY_STATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def _retryable(error: DBAPIError) -> bool:
    """A unique key taken by a concurrent import, or a deadlock with one: worth one more try."""
    return isinstance(error, IntegrityError) or getattr(error.orig, "sqlstate", None) in _RETRY_STATES


def _database_problem(error: DBAPIError) -> Problem:
    """The database's own reason, first line only (statement parameters are hidden by the engine)."""
    text = str(error.orig).strip().splitlines()[0] if error.orig is not None else type(error).__name__
    return Problem(f"the database refused the visit: {text[:300]}")


# --- files and records --------------------------------------------------------------------------------------


def _facility_problems(db: Database, hospital_id: int | None, codes: Sequence[str]) -> list[Problem]:
    """Why a file with visits of ``codes`` may not be imported by a key restricted to ``hospital_id``."""
    if hospital_id is None:
        return []
    with db.uow() as uow:
        own = uow.session.scalar(select(HOSPITALS.c.facility_code).where(HOSPITALS.c.id == hospital_id))
    others = sorted({code for code in codes if code != own})
    if not others:
        return []
    return [
        Problem(
            f"the file holds visits of facility {', '.join(others)}, not only of this key's hospital "
            f"({own or 'unknown'}): the whole file is refused",
            "XML1",
            "MA_CSKCB",
        )
    ]


def _refuse_all(prepared: Sequence[_Prepared]) -> list[ItemReport]:
    whole = Problem("the whole file is refused (see the file's problems)")
    return [
        ItemReport(p.position, p.facility_code, p.visit_key, Outcome.REFUSED, problems=(whole,), warnings=p.warnings)
        for p in prepared
    ]


def store_parsed(
    db: Database,
    parsed: ParsedFile,
    *,
    import_id: int,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
    source: str = FORMAT_XML,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Store the visits of a parsed file under the import ``import_id`` (see :func:`import_bytes`)."""
    now = now or utcnow()
    codes = [parsed.facility_code] if parsed.facility_code else []
    codes.extend(v.record.facility_code if v.record is not None else v.facility_code for v in parsed.visits)
    facility_problems = [] if parsed.problems else _facility_problems(db, hospital_id, codes)
    file_problems = list(parsed.problems) or facility_problems
    if file_problems:
        items = _refuse_all([_prepare(i, visit, source) for i, visit in enumerate(parsed.visits, start=1)])
        _insert_items(db, import_id, items)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="emr-prepare") as pool:
            items = _Store(db, import_id=import_id, now=now).store(
                _prepared_ahead(pool, parsed.visits, source, batch_size), batch_size
            )
    report = ImportReport(import_id, source, tuple(items), tuple(file_problems), other_hospital=bool(facility_problems))
    finish_import(db, report, now=now)
    return report


def _insert_items(db: Database, import_id: int, items: Sequence[ItemReport]) -> None:
    if not items:
        return
    with db.uow() as uow:
        uow.session.execute(insert(IMPORT_ITEMS), [_item_row(import_id, item) for item in items])
        uow.commit()


def finish_import(db: Database, report: ImportReport, *, now: dt.datetime | None = None) -> None:
    """Fill the counts, the file's problems and ``finished_at`` of the import's row."""
    with db.uow() as uow:
        uow.session.execute(
            update(IMPORTS)
            .where(IMPORTS.c.id == report.import_id)
            .values(
                imported=report.imported,
                updated=report.updated,
                unchanged=report.unchanged,
                refused=report.refused,
                problems=[problem_json(p) for p in report.problems] or None,
                finished_at=max(now or utcnow(), utcnow()),  # never before received_at (a test's fixed now)
            )
        )
        uow.commit()
    if report.imported or report.updated:
        learn_from_import(db, report.import_id)  # the hospital's bookable service names
    log.info(
        "emr import %s (%s): %s imported, %s updated, %s unchanged, %s refused%s",
        report.import_id,
        report.format,
        report.imported,
        report.updated,
        report.unchanged,
        report.refused,
        ", file refused" if report.problems and not report.items else "",
    )


def _upsert(dialect: str, table: Any, key: list[str]) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    statement = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](table)
    columns = [c.name for c in table.columns if c.name not in ("id", "person_id", *key)]
    return statement.on_conflict_do_update(
        index_elements=key,
        set_={name: statement.excluded[name] for name in columns},
        where=table.c.person_id == statement.excluded.person_id,  # a row never moves to another person
    )


def store_person_records(
    db: Database,
    records: Sequence[PersonRecord],
    *,
    import_id: int | None = None,
    channel: str = "api",
    filename: str = "",
    hospital_id: int | None = None,
    actor: str = "",
    now: dt.datetime | None = None,
    problems: Sequence[Problem] = (),
    refuse_file: Sequence[Problem] = (),
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Store what FHIR Bundles bring: each person's visits (the same path as a submission file's, source
    "fhir"), immunizations and allergies (upserted by their source identifier) and "none known" sections.

    ``problems`` are the reader's (reported, the rest is stored); ``refuse_file`` refuses everything."""
    now = now or utcnow()
    if import_id is None:
        import_id = create_import(
            db, FORMAT_FHIR, b"", channel=channel, filename=filename, hospital_id=hospital_id, actor=actor, now=now
        )
    visits = [ParsedVisit(v.facility_code, v.visit_key, v) for person in records for v in person.visits]
    prepared = [_prepare(i, visit, FORMAT_FHIR) for i, visit in enumerate(visits, start=1)]
    facility_problems = [] if refuse_file else _facility_problems(db, hospital_id, [p.facility_code for p in prepared])
    file_problems = list(refuse_file) or facility_problems
    immunizations = allergies = 0
    section_problems: list[Problem] = []
    if file_problems:
        items = _refuse_all(prepared)
        _insert_items(db, import_id, items)
    else:
        store = _Store(db, import_id=import_id, now=now)
        items = store.store(prepared, batch_size)
        immunizations, allergies, section_problems = _store_sections(
            db, store, records, import_id=import_id, hospital_id=hospital_id, now=now
        )
    reported = tuple(file_problems) if file_problems else (*problems, *section_problems)
    other_hospital = bool(facility_problems) or NO_VISIT_HERE in section_problems
    report = ImportReport(import_id, FORMAT_FHIR, tuple(items), reported, immunizations, allergies, other_hospital)
    finish_import(db, report, now=now)
    return report


OTHER_HOSPITALS_PERSON = "Patient"  # the field of the problem that refuses a confined key's person-level data
NO_VISIT_HERE = Problem(
    "a person of the bundle has no visit at this key's hospital: their immunizations, allergies and none-known "
    "statements are refused",
    "AllergyIntolerance/Immunization",
    OTHER_HOSPITALS_PERSON,
)


def _store_sections(
    db: Database,
    store: _Store,
    records: Sequence[PersonRecord],
    *,
    import_id: int,
    hospital_id: int | None,
    now: dt.datetime,
) -> tuple[int, int, list[Problem]]:
    """The person-level sections of ``records``, in one transaction.

    A key confined to a hospital writes them only for persons with a visit at that hospital (in this bundle or
    already stored): otherwise nothing of the bundle's sections is written and the problem says why. An
    identifier already held by another person's immunization or allergy is never moved to this person."""
    immunizations = allergies = 0
    problems: list[Problem] = []
    with db.uow() as uow:
        session = uow.session
        dialect = session.get_bind().dialect.name
        for person in records:
            if not (person.immunizations or person.allergies or person.none_known):
                continue
            facility = person.visits[0].facility_code if person.visits else ""
            key = (facility, person.identity)
            person_id = store.persons.get(key)
            if person_id is None:
                person_id = store.persons[key] = resolve_person(
                    session, person.identity, facility_code=facility, now=now
                )
            if hospital_id is not None and not _has_visit_at(session, person_id, hospital_id):
                return 0, 0, [NO_VISIT_HERE]  # the uow rolls back this bundle's sections (persons too)
            if person.immunizations:
                rows, held = _own_rows(session, IMMUNIZATIONS, person.immunizations, person_id)
                if rows:
                    session.execute(
                        _upsert(dialect, IMMUNIZATIONS, ["identifier"]),
                        [_immunization_row(x, person_id, import_id) for x in rows],
                    )
                immunizations += len(rows)
                problems += _held_problems("Immunization", held)
            if person.allergies:
                rows, held = _own_rows(session, ALLERGIES, person.allergies, person_id)
                if rows:
                    session.execute(
                        _upsert(dialect, ALLERGIES, ["identifier"]),
                        [_allergy_row(x, person_id, import_id) for x in rows],
                    )
                allergies += len(rows)
                problems += _held_problems("AllergyIntolerance", held)
            if person.none_known:
                session.execute(
                    insert_ignoring_conflicts(dialect, NONE_KNOWN, ["person_id", "section"]),
                    [
                        {"person_id": person_id, "section": Section(s).value, "source": FORMAT_FHIR, "asserted_at": now}
                        for s in sorted(person.none_known)
                    ],
                )
        uow.commit()
    return immunizations, allergies, problems


def _has_visit_at(session: Session, person_id: int, hospital_id: int) -> bool:
    """Whether the person (or one merged into it) has a live visit at the hospital."""
    merged = select(PERSONS.c.id).where(PERSONS.c.merged_into_id == person_id)
    return (
        session.scalar(
            select(VISITS.c.id)
            .where(
                or_(VISITS.c.person_id == person_id, VISITS.c.person_id.in_(merged)),
                VISITS.c.hospital_id == hospital_id,
                VISITS.c.superseded_at.is_(None),
                VISITS.c.cancelled_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def _own_rows(session: Session, table: Table, entries: Sequence[Any], person_id: int) -> tuple[list[Any], list[str]]:
    """The entries this person may write (new identifiers, or its own), and the identifiers another person holds."""
    holders = dict(
        session.execute(
            select(table.c.identifier, table.c.person_id).where(table.c.identifier.in_([e.identifier for e in entries]))
        ).all()
    )
    held = [e.identifier for e in entries if holders.get(e.identifier, person_id) != person_id]
    return [e for e in entries if e.identifier not in held], held


def _held_problems(resource: str, identifiers: Sequence[str]) -> list[Problem]:
    return [
        Problem("this identifier belongs to another person's record: not changed", resource, "identifier")
        for _ in identifiers
    ]


def _immunization_row(x: Any, person_id: int, import_id: int) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "identifier": x.identifier,
        "vaccine_name": x.vaccine_name,
        "vaccine_code": x.vaccine_code,
        "vaccine_system": x.vaccine_system,
        "occurred_on": x.occurred_on,
        "dose_number": x.dose_number,
        "lot_number": x.lot_number,
        "facility_code": x.facility_code,
        "status": x.status,
        "import_id": import_id,
    }


def _allergy_row(x: Any, person_id: int, import_id: int) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "identifier": x.identifier,
        "substance": x.substance,
        "code": x.code,
        "code_system": x.code_system,
        "reaction": x.reaction,
        "criticality": x.criticality,
        "clinical_status": x.clinical_status,
        "recorded_on": x.recorded_on,
        "import_id": import_id,
    }


def import_records(
    db: Database,
    visits: Sequence[VisitRecord],
    *,
    channel: str,
    filename: str = "",
    hospital_id: int | None = None,
    actor: str = "",
    now: dt.datetime | None = None,
    source: str = FORMAT_XML,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import visit records already read (the demo data, tests, a bench): as :func:`import_bytes` after the
    parse, with no raw file kept."""
    now = now or utcnow()
    import_id = create_import(
        db, source, b"", channel=channel, filename=filename, hospital_id=hospital_id, actor=actor, now=now
    )
    codes = {v.facility_code for v in visits}
    parsed = ParsedFile(
        next(iter(codes)) if len(codes) == 1 else "",
        tuple(ParsedVisit(v.facility_code, v.visit_key, v) for v in visits),
    )
    return store_parsed(
        db, parsed, import_id=import_id, hospital_id=hospital_id, now=now, source=source, batch_size=batch_size
    )
