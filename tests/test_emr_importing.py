"""The record store's import: idempotent, versioned, atomic per visit, confined to the importing key's hospital,
and safe against a crash mid-file (PostgreSQL)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.booking.models import Hospital
from core.emr import importing
from core.emr import models as m
from core.emr.importing import create_import, import_bytes, import_records, store_parsed, store_person_records
from core.emr.reading import _records
from core.emr.records import (
    Allergy,
    Immunization,
    ParsedFile,
    ParsedVisit,
    PersonRecord,
    Problem,
    Section,
)
from core.uow import Database
from tests import emr_his_files as his
from tests.conftest import NOW
from tests.emr_records import child_rows, corrected, identity, visit, visits
from tests.factories import add_hospital
from tests.harness import Children, wait_until

STORE_TABLES = (
    m.Person,
    m.PersonIdentifier,
    m.Visit,
    m.Diagnosis,
    m.Medication,
    m.Service,
    m.Result,
    m.CourseNote,
    m.Document,
    m.ReExamSlip,
)


def counts(db: Database) -> dict[str, int]:
    with db.uow() as uow:
        return {
            model.__tablename__: uow.session.scalar(select(func.count()).select_from(model)) for model in STORE_TABLES
        }


def stored_records(db: Database, *, current_only: bool = True) -> dict[tuple[str, str, int], object]:
    """Every stored visit version read back: (facility, MA_LK, version) -> VisitRecord."""
    with db.uow() as uow:
        statement = select(m.Visit.__table__)
        if current_only:
            statement = statement.where(m.Visit.superseded_at.is_(None))
        rows = list(uow.session.execute(statement.order_by(m.Visit.id)).mappings())
        return {
            (row["facility_code"], row["visit_key"], row["version"]): record
            for row, record in zip(rows, _records(uow.session, rows), strict=True)
        }


def hospital_id(db: Database, slug: str) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.slug == slug))


def test_a_file_imported_twice_changes_nothing_the_second_time(db):
    file = visits(12)
    first = import_records(db, file, channel="cli", now=NOW)
    assert (first.imported, first.unchanged, first.refused, first.ok) == (12, 0, 0, True)
    before = counts(db)
    assert before["emr_visits"] == 12
    assert sum(before.values()) - before["emr_persons"] - before["emr_person_identifiers"] == sum(
        child_rows(v) for v in file
    )

    second = import_records(db, file, channel="cli", now=NOW)

    assert (second.imported, second.updated, second.unchanged, second.refused) == (0, 0, 12, 0)
    assert counts(db) == before
    assert [item.visit_id for item in second.items] == [item.visit_id for item in first.items]
    with db.uow() as uow:
        assert set(uow.session.scalars(select(m.Visit.version))) == {1}
        outcomes = uow.session.execute(
            select(m.ImportItem.import_id, m.ImportItem.outcome, func.count()).group_by(
                m.ImportItem.import_id, m.ImportItem.outcome
            )
        ).all()
        imports = uow.session.execute(select(m.Import.imported, m.Import.unchanged, m.Import.finished_at)).all()
    assert sorted(outcomes) == [(first.import_id, "imported", 12), (second.import_id, "unchanged", 12)]
    assert sorted((i, u) for i, u, _ in imports) == [(0, 12), (12, 0)]
    assert all(finished is not None for *_, finished in imports)


def test_a_corrected_visit_becomes_the_current_version_and_the_old_one_is_kept_with_its_children(db):
    file = visits(5)
    import_records(db, file, channel="cli", now=NOW)
    fixed = visit(2, revision=1)
    fixed = corrected(fixed, medications=fixed.medications[:1])  # one drug dropped by the correction
    second = import_records(db, [*file[:2], fixed, *file[3:]], channel="cli", now=NOW)

    assert [item.outcome.value for item in second.items] == ["unchanged"] * 2 + ["updated"] + ["unchanged"] * 2
    assert second.items[2].version == 2
    versions = stored_records(db, current_only=False)
    key = (fixed.facility_code, fixed.visit_key)
    assert versions[(*key, 1)] == file[2], "the old version keeps every child it had"
    assert versions[(*key, 2)] == fixed
    with db.uow() as uow:
        rows = uow.session.execute(
            select(m.Visit.version, m.Visit.superseded_at)
            .where(m.Visit.visit_key == fixed.visit_key)
            .order_by(m.Visit.version)
        ).all()
    assert rows[0].superseded_at is not None and rows[1].superseded_at is None
    assert len(stored_records(db)) == 5, "one current version per visit"

    third = import_records(db, [fixed], channel="cli", now=NOW)
    assert third.unchanged == 1, "the corrected version again is unchanged"


def test_an_update_is_one_transaction_the_new_version_and_the_supersession_together(db, monkeypatch):
    import_records(db, visits(3), channel="cli", now=NOW)

    def broken_children(session, table, rows):
        if table is m.Result.__table__:
            raise RuntimeError("the database went away mid-visit")
        real(session, table, rows)

    real = importing.bulk_insert
    monkeypatch.setattr(importing, "bulk_insert", broken_children)
    report = import_records(db, [visit(1, revision=1)], channel="cli", now=NOW)

    assert report.refused == 1 and not report.ok
    assert "RuntimeError" in report.items[0].problems[0].reason
    assert stored_records(db, current_only=False) == {(v.facility_code, v.visit_key, 1): v for v in visits(3)}, (
        "neither the new version nor the old one's supersession was kept"
    )


def test_one_refused_visit_leaves_the_others_imported_with_the_reason_in_the_report(db):
    good = visits(4)
    too_long = corrected(visit(10), medical_record_number="HS" * 60)
    unreadable = ParsedVisit(
        "99999", "LK-BAD", None, (Problem("NGAY_VAO is not a date: '2024-13-45'", "XML1", "NGAY_VAO", 1),)
    )
    parsed = ParsedFile(
        "99999",
        (
            ParsedVisit("99999", good[0].visit_key, good[0]),
            unreadable,
            ParsedVisit("99999", good[1].visit_key, good[1]),
            ParsedVisit("99999", too_long.visit_key, too_long),
            *(ParsedVisit("99999", v.visit_key, v) for v in good[2:]),
        ),
    )
    import_id = create_import(db, "xml130", b"<GIAMDINHHS/>", channel="cli", now=NOW)
    report = store_parsed(db, parsed, import_id=import_id, now=NOW)

    assert not report.ok
    assert (report.imported, report.refused) == (4, 2)
    refused = {item.visit_key: item for item in report.items if item.outcome.value == "refused"}
    assert refused["LK-BAD"].problems[0] == unreadable.problems[0]
    (reason,) = refused[too_long.visit_key].problems
    assert (reason.table, reason.field) == ("XML1", "MA_HSBA") and "too long" in reason.reason
    assert set(stored_records(db).values()) == set(good)
    body = report.as_dict()
    assert body["refused"] == 2
    assert body["items"][1]["problems"] == [
        {"table": "XML1", "field": "NGAY_VAO", "row": 1, "reason": "NGAY_VAO is not a date: '2024-13-45'"}
    ]
    with db.uow() as uow:
        items = uow.session.execute(
            select(m.ImportItem.visit_key, m.ImportItem.problems).where(m.ImportItem.outcome == "refused")
        ).all()
        refused_count = uow.session.scalar(select(m.Import.refused).where(m.Import.id == import_id))
    assert dict(items)["LK-BAD"][0]["field"] == "NGAY_VAO"
    assert refused_count == 2


def test_a_visit_the_database_refuses_rolls_back_alone(db, monkeypatch):
    """A failure while a visit is being stored (here the re-exam sync of one visit) refuses only that visit: the
    batch is written again visit by visit, each in its own savepoint."""
    file = visits(6)
    doomed = file[3].visit_key

    real_sync = importing.sync_visits

    def sync_visits(session, visit_ids, now):
        keys = session.scalars(select(m.Visit.visit_key).where(m.Visit.id.in_(list(visit_ids)))).all()
        if doomed in keys:
            raise ValueError("re-exam department unknown")
        return real_sync(session, visit_ids, now)

    monkeypatch.setattr(importing, "sync_visits", sync_visits)
    report = import_records(db, file, channel="cli", now=NOW)

    assert [item.outcome.value for item in report.items] == ["imported"] * 3 + ["refused"] + ["imported"] * 2
    assert "ValueError" in report.items[3].problems[0].reason
    stored = stored_records(db)
    assert set(stored.values()) == set(file) - {file[3]}
    assert counts(db)["emr_visits"] == 5


def test_a_restricted_key_importing_another_facilitys_file_is_refused_whole(db, world):
    add_hospital(db)  # "other", facility 88888
    own = hospital_id(db, "test")
    mixed = [*visits(2, facility_code="99999"), *visits(2, start=10, facility_code="88888")]

    report = import_records(db, mixed, channel="api", hospital_id=own, now=NOW)

    assert not report.ok and report.refused == 4 and report.imported == 0
    assert "88888" in report.problems[0].reason and report.problems[0].field == "MA_CSKCB"
    assert counts(db)["emr_visits"] == 0 and counts(db)["emr_persons"] == 0
    with db.uow() as uow:
        problems, finished = uow.session.execute(select(m.Import.problems, m.Import.finished_at)).one()
    assert "88888" in problems[0]["reason"] and finished is not None

    allowed = import_records(db, visits(2, facility_code="99999"), channel="api", hospital_id=own, now=NOW)
    assert allowed.ok and allowed.imported == 2


def test_a_visit_is_linked_to_the_henkham_hospital_of_its_facility_and_an_unknown_facility_is_kept_unlinked(db, world):
    add_hospital(db)
    report = import_records(
        db,
        [visit(1, facility_code="99999"), visit(2, facility_code="88888"), visit(3, facility_code="12345")],
        channel="cli",
        now=NOW,
    )
    assert report.imported == 3
    with db.uow() as uow:
        linked = dict(uow.session.execute(select(m.Visit.facility_code, m.Visit.hospital_id)).all())
    assert linked == {"99999": hospital_id(db, "test"), "88888": hospital_id(db, "other"), "12345": None}


def test_the_same_visit_twice_in_one_file_is_stored_then_updated(db):
    first, again = visit(4), visit(4, revision=2)
    report = import_records(db, [visit(1), first, visit(2), again], channel="cli", now=NOW)
    assert [item.outcome.value for item in report.items] == ["imported", "imported", "imported", "updated"]
    assert stored_records(db)[(again.facility_code, again.visit_key, 2)] == again


def test_visits_of_one_person_share_the_person(db):
    import_records(db, [visit(n, person=5) for n in range(4)], channel="cli", now=NOW)
    import_records(db, [visit(9, person=5)], channel="cli", now=NOW)
    with db.uow() as uow:
        persons = set(uow.session.scalars(select(m.Visit.person_id)))
    assert len(persons) == 1


def test_two_imports_of_the_same_visits_at_once_store_one_current_version_each(db):
    file = visits(60)
    reports = []

    def run() -> None:
        reports.append(import_records(db, file, channel="api", now=NOW, batch_size=20))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 2 and all(r.ok for r in reports), [r.as_dict()["items"][:2] for r in reports]
    assert sorted(r.imported + r.unchanged for r in reports) == [60, 60]
    assert sum(r.imported for r in reports) == 60
    assert set(stored_records(db).values()) == set(file)
    assert counts(db)["emr_visits"] == 60


def test_a_his_submission_file_imported_twice_in_any_of_its_forms_changes_nothing(db):
    file = [his.outpatient(), his.inpatient(), his.child()]
    first = import_bytes(db, his.submission_bytes(file), channel="cli", filename="kcb.xml", now=NOW)
    assert (first.imported, first.ok) == (3, True), first.as_dict()
    before = counts(db)
    assert before["emr_reexam_slips"] == 1 and before["emr_documents"] == 4  # XML7+XML8 twice, one XML14

    again = [
        his.submission_bytes(file),
        his.submission_bytes(file, style=his.MESSY),  # NFD, wrapped base64, 14-character dates, stray spaces
        his.gateway_base64(file).encode(),  # the single base64 string of the gateway
    ]
    for data in again:
        report = import_bytes(db, data, channel="api", now=NOW)
        assert (report.unchanged, report.ok) == (3, True), report.as_dict()
    assert counts(db) == before


def test_a_his_file_with_a_corrected_visit_and_a_broken_one_updates_one_and_refuses_the_other(db):
    import_bytes(db, his.submission_bytes([his.outpatient(), his.inpatient()]), channel="cli", now=NOW)
    fixed = his.outpatient(advice="Tái khám sau 3 ngày")
    broken = his.outpatient(ma_lk="LK0009", xml1={"NGAY_VAO": "2026133300"})
    report = import_bytes(db, his.submission_bytes([fixed, broken, his.inpatient()]), channel="cli", now=NOW)

    assert [item.outcome.value for item in report.items] == ["updated", "refused", "unchanged"]
    assert report.items[1].problems[0].field == "NGAY_VAO"
    current = {key[1]: record for key, record in stored_records(db).items()}
    assert current["LK0001"].advice == "Tái khám sau 3 ngày"
    assert set(current) == {"LK0001", "LK0002"}


def test_a_restricted_key_importing_a_his_file_of_another_facility_is_refused_whole(db, world):
    data = his.submission_bytes([his.outpatient(), his.inpatient()], facility_code="79001")
    report = import_bytes(db, data, channel="api", hospital_id=hospital_id(db, "test"), now=NOW)
    assert not report.ok and report.refused == 2 and "79001" in report.problems[0].reason
    assert counts(db)["emr_visits"] == 0


def test_a_file_that_cannot_be_read_is_recorded_with_its_bytes_and_refused(db):
    data = b"<GIAMDINHHS><THONGTINDONVI>"  # cut short
    report = import_bytes(db, data, channel="cli", filename="cut.xml", now=NOW)
    assert not report.ok and report.problems and report.imported == 0
    with db.uow() as uow:
        row = uow.session.execute(select(m.Import.format, m.Import.filename, m.Import.size, m.Import.finished_at)).one()
        content = uow.session.scalar(select(m.ImportFile.content))
    assert (row.format, row.filename, row.size) == ("xml130", "cut.xml", len(data)) and row.finished_at is not None
    assert content == data


def test_fhir_records_store_visits_and_upsert_immunizations_allergies_and_none_known(db):
    who = identity(40)
    person = PersonRecord(
        who,
        visits=(visit(120, person=40), visit(121, person=40)),
        immunizations=(
            Immunization("urn:tcmr|IM-1", "Vắc xin Sởi - Rubella", NOW.date(), "MR", dose_number="1"),
            Immunization("urn:tcmr|IM-2", "Vắc xin Viêm gan B", NOW.date(), "HepB"),
        ),
        allergies=(Allergy("urn:bv|AL-1", "Penicilin", reaction="Nổi mề đay", criticality="high"),),
        none_known=frozenset({Section.MEDICATIONS}),
    )
    first = store_person_records(db, [person], channel="api", now=NOW)
    assert (first.imported, first.immunizations, first.allergies, first.ok) == (2, 2, 1, True)
    renamed = dataclasses.replace(
        person, immunizations=(dataclasses.replace(person.immunizations[0], lot_number="L-77"),)
    )
    second = store_person_records(db, [renamed], channel="api", now=NOW)
    assert second.unchanged == 2
    with db.uow() as uow:
        lots = dict(uow.session.execute(select(m.Immunization.identifier, m.Immunization.lot_number)).all())
        allergies = uow.session.scalar(select(func.count()).select_from(m.Allergy))
        none_known = list(uow.session.scalars(select(m.NoneKnown.section)))
        owners = set(uow.session.scalars(select(m.Immunization.person_id))) | set(
            uow.session.scalars(select(m.Visit.person_id))
        )
    assert lots == {"urn:tcmr|IM-1": "L-77", "urn:tcmr|IM-2": ""}, "upserted by identifier"
    assert allergies == 1 and none_known == ["medications"] and len(owners) == 1


# --- a crash mid-file (PostgreSQL) --------------------------------------------------------------------------

KILL_VISITS = 4_000
KILL_BATCH = 25


def _busy_sessions(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
        )


@pytest.mark.postgres_only("a SIGKILLed importer's open transaction is rolled back by the server")
@pytest.mark.slow
def test_an_import_killed_mid_file_leaves_no_half_visit_and_a_rerun_completes_it(db, database_url, tmp_path: Path):
    children = Children(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    argv = [sys.executable, "-m", "tests.emr_import_child", database_url, str(KILL_VISITS), str(KILL_BATCH)]
    try:
        process = children.start("importer", argv, env)
        wait_until(
            lambda: counts(db)["emr_visits"] >= 4 * KILL_BATCH,
            timeout=120,
            what="some batches of the import committed",
            alive=lambda: process.poll() is None,
            details=lambda: children.log_tail("importer"),
            every=0.01,
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        children.stop_all()
    wait_until(lambda: _busy_sessions(db) == 0, timeout=30, what="the dead importer's transaction rolled back")

    stored = stored_records(db)
    assert 0 < len(stored) < KILL_VISITS, f"the kill landed mid-file ({len(stored)} stored)"
    assert len(stored) % KILL_BATCH == 0, "whole batches only"
    expected = {(v.facility_code, v.visit_key, 1): v for v in visits(KILL_VISITS)}
    for key, record in stored.items():
        assert record == expected[key], f"visit {key[1]} is stored exactly as the file gives it"
    with db.uow() as uow:
        unfinished = uow.session.scalar(select(func.count()).where(m.Import.finished_at.is_(None)))
        items = uow.session.scalar(select(func.count()).select_from(m.ImportItem))
    assert unfinished == 1, "the killed import's row stays, unfinished"
    assert items == len(stored), "each committed visit has its report line, and only those"

    rerun = import_records(db, visits(KILL_VISITS), channel="cli", now=NOW)
    assert rerun.ok
    assert (rerun.unchanged, rerun.imported) == (len(stored), KILL_VISITS - len(stored))
    assert stored_records(db) == expected
