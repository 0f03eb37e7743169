"""Acceptance points of issue 13 that no other test covered end to end (review): whole realistic HIS files
through the real import and read back field by field; the same file twice changes no row of any EMR table (nor
the re-exam dates); a QĐ 4210 file through the API is refused with its message."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from core.audit import Actor
from core.emr import models as m
from core.emr.importing import import_bytes
from core.emr.reading import person_record
from core.emr.xml130 import parse_submission
from core.reminders.models import ReExam
from core.uow import Database
from tests import emr_his_files as his
from tests.conftest import NOW
from tests.test_emr_api import IMPORTS, TEST, XML, assert_error, auth, client, count, keys  # noqa: F401

READER = Actor(kind="api_client", client_id=1, client_name="his-review")
# Every table of the record store; imports, their items and raw files grow by one import per run by design.
RECORD_TABLES = [t for t in m.Base.metadata.sorted_tables if t.name.startswith("emr_")]
PER_IMPORT = {"emr_imports", "emr_import_files", "emr_import_items"}


def row_counts(db: Database) -> dict[str, int]:
    with db.reader() as uow:
        counts = {t.name: uow.session.scalar(select(func.count()).select_from(t)) for t in RECORD_TABLES}
        counts["re_exams"] = uow.session.scalar(select(func.count()).select_from(ReExam))
    return counts


def person_of(db: Database, visit_key: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(
            select(m.Visit.person_id).where(m.Visit.visit_key == visit_key, m.Visit.superseded_at.is_(None))
        )


@pytest.mark.world(days=1)
def test_whole_realistic_files_read_back_from_the_store_exactly_as_the_his_wrote_them(db, world):
    visits = [his.outpatient(), his.inpatient(), his.child()]
    data = his.submission_bytes(visits, style=his.MESSY)
    parsed = {v.visit_key: v.record for v in parse_submission(his.submission_bytes(visits)).visits}

    report = import_bytes(db, data, channel="cli", filename="kcb.xml", now=NOW)

    assert (report.imported, report.ok) == (3, True), report.as_dict()
    for key, want in parsed.items():
        with db.reader() as uow:
            stored = person_record(uow, person_of(db, key), reader=READER, purpose="review")
        [got] = [v for v in stored.record.visits if v.visit_key == key]
        for field in dataclasses.fields(want):
            assert getattr(got, field.name) == getattr(want, field.name), f"{key}.{field.name}"
    inpatient = parsed["LK0002"]
    assert inpatient.course and inpatient.discharge and inpatient.summary and inpatient.re_exam


@pytest.mark.world(days=1)
def test_the_same_file_twice_changes_no_row_of_any_emr_table_nor_the_re_exam_dates(db, world):
    visits = [his.outpatient(), his.inpatient(), his.child()]
    first = import_bytes(db, his.submission_bytes(visits), channel="cli", now=NOW)
    assert first.ok, first.as_dict()
    before = row_counts(db)
    assert before["emr_visits"] == 3 and before["emr_reexam_slips"] == 1

    again = import_bytes(db, his.submission_bytes(visits, style=his.MESSY), channel="api", now=NOW)

    assert (again.unchanged, again.ok) == (3, True), again.as_dict()
    after = row_counts(db)
    assert {k: v for k, v in after.items() if k not in PER_IMPORT} == {
        k: v for k, v in before.items() if k not in PER_IMPORT
    }
    assert after["emr_imports"] == before["emr_imports"] + 1
    assert after["emr_import_items"] == before["emr_import_items"] + 3


def test_a_qd_4210_file_through_the_api_is_refused_with_its_message(client, db, keys):  # noqa: F811
    data = his.submission_bytes([his.qd4210_visit(his.outpatient(facility_code=TEST))], facility_code=TEST)

    body = assert_error(
        client.post(IMPORTS, data=data, content_type=XML, headers=auth(keys["his"])), 422, "import_refused"
    )

    reasons = [p["reason"] for p in body["details"]["report"]["problems"]]
    assert any("QĐ 4210" in reason and "QĐ 4750" in reason for reason in reasons), reasons
    assert count(db, m.Visit) == 0
