"""Whole submission files as HIS write them (tests/emr_his_files.py) read by core.emr.xml130."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.emr.records import VisitKind
from core.emr.xml130 import parse_base64_submission, parse_submission
from tests import emr_his_files as his

pytestmark = pytest.mark.unit
UTC = dt.UTC


def only_record(data: bytes):
    parsed = parse_submission(data)
    assert parsed.problems == ()
    assert len(parsed.visits) == 1
    visit = parsed.visits[0]
    assert visit.problems == (), visit.problems
    assert visit.record is not None
    return visit.record


def test_an_outpatient_visit_gives_the_patient_the_diagnoses_and_the_drugs() -> None:
    record = only_record(his.submission_bytes([his.outpatient()]))

    assert (record.facility_code, record.visit_key, record.kind) == ("79001", "LK0001", VisitKind.OUTPATIENT)
    assert record.care_type_code == "01"
    assert record.identity.full_name == "Nguyễn Văn An"
    assert record.identity.date_of_birth == dt.date(1985, 3, 14)
    assert record.identity.sex == "male"
    assert record.identity.cccd == "079085012345"
    assert record.identity.phone == "+84912345678"
    assert record.identity.insurance_cards == ("DN4797912345678",)
    assert record.arrived_at == dt.datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 07:30 in Vietnam
    assert [(d.code, d.principal, d.text) for d in record.diagnoses] == [
        ("J06.9", True, "Viêm họng cấp"),
        ("E11.9", False, "Đái tháo đường type 2"),
    ]
    assert [(m.name, m.quantity, m.days) for m in record.medications] == [
        ("Paracetamol", Decimal("10"), 5),
        ("Amoxicilin", Decimal("21"), 7),
    ]
    assert record.medications[0].dose == "1 viên/lần * 2 lần/ngày * 5 ngày [2 viên/ngày]"
    assert record.re_exam_dates == (dt.date(2026, 11, 9),)


def test_the_gateway_base64_of_a_file_reads_as_the_file() -> None:
    visits = [his.outpatient(), his.inpatient()]

    from_gateway = parse_base64_submission(his.gateway_base64(visits))

    assert from_gateway == parse_submission(his.submission_bytes(visits))
    assert [visit.visit_key for visit in from_gateway.visits] == ["LK0001", "LK0002"]
