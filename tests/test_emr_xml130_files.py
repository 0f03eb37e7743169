"""Whole submission files as HIS write them (tests/emr_his_files.py) read by core.emr.xml130."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from core.emr.records import BirthPrecision, VisitKind, VisitRecord
from core.emr.xml130 import parse_base64_submission, parse_submission
from tests import emr_his_files as his

pytestmark = pytest.mark.unit
UTC = dt.UTC


def records(data: bytes) -> list[VisitRecord]:
    parsed = parse_submission(data)
    assert parsed.problems == ()
    assert all(visit.problems == () for visit in parsed.visits), [visit.problems for visit in parsed.visits]
    return [visit.record for visit in parsed.visits if visit.record is not None]


def only_record(visit: his.Visit) -> VisitRecord:
    (record,) = records(his.submission_bytes([visit]))
    return record


def test_an_outpatient_visit_gives_the_patient_the_diagnoses_and_the_drugs() -> None:
    record = only_record(his.outpatient())

    assert (record.facility_code, record.visit_key, record.kind) == ("79001", "LK0001", VisitKind.OUTPATIENT)
    assert record.care_type_code == "01"
    person = record.identity
    assert person.full_name == "Nguyễn Văn An"
    assert person.date_of_birth == dt.date(1985, 3, 14)
    assert (person.sex, person.cccd, person.phone) == ("male", "079085012345", "+84912345678")
    assert person.insurance_cards == ("DN4797912345678",)
    assert person.social_insurance_numbers == ("7912345678",)
    assert (person.his_patient_code, person.blood_group) == ("BN000001", "O+")
    assert record.arrived_at == dt.datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 07:30 in Vietnam
    assert record.discharged_at == dt.datetime(2026, 11, 2, 3, 30, tzinfo=UTC)
    assert record.reason == "Sốt, ho 3 ngày"
    assert [(d.code, d.principal, d.text) for d in record.diagnoses] == [
        ("J06.9", True, "Viêm họng cấp"),
        ("E11.9", False, "Đái tháo đường type 2"),
    ]
    assert [(m.name, m.strength, m.quantity, m.unit, m.days) for m in record.medications] == [
        ("Paracetamol", "500mg", Decimal("10"), "Viên", 5),
        ("Amoxicilin", "500mg", Decimal("21"), "Viên", 7),
    ]
    assert record.medications[0].dose == "1 viên/lần * 2 lần/ngày * 5 ngày [2 viên/ngày]"
    assert record.medications[0].ordered_at == dt.datetime(2026, 11, 2, 1, 15, tzinfo=UTC)
    assert record.advice == "Uống thuốc đúng giờ, tái khám sau 1 tuần [nếu sốt cao]"
    assert record.re_exam_dates == (dt.date(2026, 11, 9),)
    assert record.doctors == ("000123/HCM-CCHN",)
    assert record.departments == ("K02",)


def test_an_outpatient_visit_gives_the_results_joined_to_their_services() -> None:
    record = only_record(his.outpatient())

    assert [(s.code, s.name, s.group) for s in record.services] == [
        ("01.0001.1778", "Khám Nội", "13"),
        ("22.0120.1370", "Tổng phân tích tế bào máu ngoại vi", "1"),
        ("23.0075.1494", "Định lượng Glucose", "1"),
        ("18.0119.0028", "Chụp X-quang ngực thẳng", "2"),
    ]
    lines = [(r.service_code, r.name, r.value, r.unit, r.reference_range, r.abnormal) for r in record.results]
    assert lines == [
        ("22.0120.1370", "Số lượng bạch cầu (WBC)", "12.5", "G/L", "4 - 10", True),
        ("22.0120.1370", "Số lượng hồng cầu (RBC)", "4.6", "T/L", "3.8 - 5.5", False),
        ("22.0120.1370", "Tốc độ máu lắng", "Âm tính", "", "", None),
        ("23.0075.1494", "Glucose", "5.2", "mmol/L", "3.9 - 6.4", False),
        ("18.0119.0028", "Chụp X-quang ngực thẳng", "", "", "", None),  # an imaging report takes its study's name
    ]
    assert (record.results[3].low, record.results[3].high) == (Decimal("3.9"), Decimal("6.4"))
    imaging = record.results[4]
    assert imaging.description == "Hai phế trường sáng, không thấy tổn thương nhu mô."
    assert imaging.conclusion == "Tim phổi bình thường"


def test_an_inpatient_stay_gives_course_discharge_summary_and_re_exam() -> None:
    record = only_record(his.inpatient())

    assert record.kind is VisitKind.INPATIENT
    assert record.admitted_at == dt.datetime(2026, 11, 1, 1, 30, tzinfo=UTC)
    assert record.departments == ("K19", "K03", "K02")
    assert [n.note for n in record.course] == [
        "Đau hố chậu phải, sốt 38.5 độ. CSST<M95_T38.5_HA110/70_NT20>",
        "Mổ nội soi cắt ruột thừa",
        "Hết sốt, vết mổ khô",
    ]
    assert record.course[1].surgery == "Cắt ruột thừa nội soi"
    assert record.course[1].by == ("000123/HCM-CCHN",)
    discharge = record.discharge
    assert discharge is not None
    assert discharge.discharged_at == dt.datetime(2026, 11, 5, 3, 0, tzinfo=UTC)
    assert discharge.doctor_name == "Phạm Văn Đức"
    assert discharge.issued_on == dt.date(2026, 11, 5)
    assert discharge.treatment == "Phẫu thuật nội soi cắt ruột thừa, kháng sinh"
    summary = record.summary
    assert summary is not None
    assert summary.course == "Vào viện vì đau bụng hạ sườn phải. Điều trị ổn định."
    assert summary.key_results == "Creatinin 130 µmol/L"
    assert summary.outcome == "1"
    slip = record.re_exam
    assert slip is not None
    assert (slip.due_date, slip.due_time, slip.principal_code) == (dt.date(2026, 11, 12), dt.time(8, 0), "K35.8")
    assert record.results[0].abnormal is True  # creatinine 130 above 62 - 120
    assert record.medications[0].days == 5


def test_a_child_under_six_with_guardians_and_a_birth_day_unknown() -> None:
    record = only_record(his.child())

    person = record.identity
    assert (person.birth_year, person.birth_month, person.birth_day) == (2022, 3, None)
    assert person.birth_precision is BirthPrecision.MONTH
    assert person.date_of_birth is None
    assert (person.cccd, person.phone) == (None, None)
    assert person.insurance_cards == ("TE1797912345678",)
    assert record.discharge is not None
    assert (record.discharge.father_name, record.discharge.mother_name) == ("Lê Văn Hùng", "Phạm Thị Mai")
    assert record.summary is not None
    assert record.summary.guardian == "Phạm Thị Mai"
    assert record.summary.father_name == "Lê Văn Hùng"
    assert record.diagnoses[0].text == "Co giật do sốt"


def test_a_messy_file_reads_to_the_same_records_as_the_clean_one() -> None:
    visits = [his.outpatient(), his.inpatient(), his.child(), his.outpatient(ma_lk="LK0004", xml13={})]
    messy_style = his.Style(
        wrap=76,
        line_end="\r\n",
        nfd=True,
        seconds=True,
        stray_spaces=True,
        empty="omit",
        declaration=False,
        bom_on_file=True,
        bom_in_payload=True,
        newline="\n",
    )
    messy_visits = [visit.with_(omit={"XML8"}) if visit.ma_lk == "LK0003" else visit for visit in visits]
    messy = his.submission_bytes(messy_visits, style=messy_style)
    assert b"\r\n" in messy.split(b"<NOIDUNGFILE>")[1]  # payloads wrapped in 76-character lines

    clean = records(his.submission_bytes(visits))
    got = records(messy)

    assert got[:2] == clean[:2]
    assert got[3] == clean[3]
    assert got[2].summary is None  # the missing optional table is just missing
    assert got[2] == dataclasses.replace(clean[2], summary=None)


def test_the_gateway_base64_of_a_file_reads_as_the_file() -> None:
    visits = [his.outpatient(), his.inpatient()]

    from_gateway = parse_base64_submission(his.gateway_base64(visits))

    assert from_gateway == parse_submission(his.submission_bytes(visits))
    assert [visit.visit_key for visit in from_gateway.visits] == ["LK0001", "LK0002"]


def test_the_gateway_string_is_accepted_as_bytes_too() -> None:
    text = his.gateway_base64([his.outpatient()])

    assert parse_base64_submission(text.encode()) == parse_base64_submission(text)


def test_many_visits_of_one_file_come_back_in_order() -> None:
    visits = [his.outpatient(ma_lk=f"LK{n:04d}", patient_code=f"BN{n:04d}") for n in range(1, 51)]

    got = records(his.submission_bytes(visits))

    assert [record.visit_key for record in got] == [f"LK{n:04d}" for n in range(1, 51)]
    assert {record.identity.his_patient_code for record in got} == {f"BN{n:04d}" for n in range(1, 51)}
