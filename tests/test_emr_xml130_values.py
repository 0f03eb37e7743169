"""The values a visit record is made of: kinds, sex, diagnoses with their wording, ICD-10 codes, reference
ranges and the days of a dose."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.emr import icd10
from core.emr.records import Diagnosis, VisitKind, VisitRecord
from core.emr.xml130 import parse_submission
from core.emr.xml130.tables import dose_days, reference_range
from tests import emr_his_files as his

pytestmark = pytest.mark.unit


def record(visit: his.Visit) -> VisitRecord:
    parsed = parse_submission(his.submission_bytes([visit]))
    assert parsed.visits[0].record is not None, parsed.visits[0].problems
    return parsed.visits[0].record


@pytest.mark.parametrize(
    ("care_type", "coverage", "kind"),
    [
        ("01", "1.1", VisitKind.OUTPATIENT),
        ("02", "1.1", VisitKind.DAY_TREATMENT),
        ("03", "1.1", VisitKind.INPATIENT),
        ("04", "1.1", VisitKind.DAY_TREATMENT),
        ("09", "1.1", VisitKind.OTHER),
        ("", "1.1", VisitKind.OTHER),
        ("03", "2", VisitKind.EMERGENCY),  # cấp cứu
        ("01", "3.1", VisitKind.OUTPATIENT),
        ("3", "1.1", VisitKind.INPATIENT),  # QĐ 130 typed it as a number before QĐ 4750
    ],
)
def test_the_kind_of_visit(care_type: str, coverage: str, kind: VisitKind) -> None:
    got = record(his.outpatient(care_type=care_type, coverage=coverage))

    assert got.kind is kind
    assert got.care_type_code == care_type


@pytest.mark.parametrize(("written", "sex"), [("1", "male"), ("2", "female"), ("3", None), ("", None)])
def test_the_sex(written: str, sex: str | None) -> None:
    assert record(his.outpatient(sex=written)).identity.sex == sex


def test_principal_then_secondary_then_traditional_medicine_codes() -> None:
    visit = his.outpatient(
        principal="j06.9",
        secondary="E11.9;I10",
        yhct="U50.051",
        discharge_diagnosis="J06.9 - Viêm họng cấp; E11.9: Đái tháo đường type 2; (I10) Tăng huyết áp",
    )

    assert record(visit).diagnoses == (
        Diagnosis("J06.9", True, "Viêm họng cấp"),
        Diagnosis("E11.9", False, "Đái tháo đường type 2"),
        Diagnosis("I10", False, "Tăng huyết áp"),
        Diagnosis("U50.051", False, "", "yhct"),
    )


def test_wording_from_a_list_parallel_to_the_codes() -> None:
    visit = his.outpatient(principal="J069", secondary="E119", discharge_diagnosis="Viêm họng cấp; Đái tháo đường")

    assert [(d.code, d.text) for d in record(visit).diagnoses] == [
        ("J069", "Viêm họng cấp"),
        ("E119", "Đái tháo đường"),
    ]


def test_wording_that_matches_the_codes_neither_way_is_left_empty() -> None:
    visit = his.outpatient(principal="J06.9", secondary="E11.9", discharge_diagnosis="Viêm họng; tiểu đường; béo phì")

    assert [d.text for d in record(visit).diagnoses] == ["", ""]


def test_a_code_written_twice_is_one_diagnosis() -> None:
    visit = his.outpatient(principal="J06.9", secondary="J06.9;E11.9", discharge_diagnosis="")

    assert [(d.code, d.principal) for d in record(visit).diagnoses] == [("J06.9", True), ("E11.9", False)]


@pytest.mark.parametrize("code", ["J06.9", "J069", "j06.9", " J06.9 ", "E11", "K35.8", "A00.0"])
def test_icd10_accepts_who_codes_with_or_without_their_dot(code: str) -> None:
    assert icd10.is_valid(code)


@pytest.mark.parametrize("code", ["", "J06.99999", "ZZZ", "A00-A09", "I", "XXII", "J06.Z", "U99.9"])
def test_icd10_refuses_what_is_not_a_category_or_subcategory(code: str) -> None:
    assert not icd10.is_valid(code)


def test_icd10_normalise_keeps_the_dot_as_written() -> None:
    assert icd10.normalise(" j06.9 ") == "J06.9"
    assert icd10.normalise("j069") == "J069"
    assert icd10.normalise("E 11.9") == "E11.9"


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("3.9 - 6.4", "3.9", "6.4"),
        ("3.9-6.4", "3.9", "6.4"),
        ("(4 - 10)", "4", "10"),
        ("62 – 120 µmol/L", "62", "120"),
        ("< 5", None, "5"),
        ("<=1.0", None, "1.0"),
        ("> 40", "40", None),
        ("≥ 1.5", "1.5", None),
    ],
)
def test_reference_ranges_as_labs_write_them(text: str, low: str | None, high: str | None) -> None:
    limits = reference_range(text)

    assert limits is not None
    assert (limits.low, limits.high) == (low and Decimal(low), high and Decimal(high))


@pytest.mark.parametrize(
    "text", ["", "Âm tính", "Hai phế trường sáng", "6.4 - 3.9", "BT", "1 - 2 - 3", "Tim to, chỉ số 0.55"]
)
def test_text_that_is_not_a_range(text: str) -> None:
    assert reference_range(text) is None


@pytest.mark.parametrize(
    ("value", "reference", "abnormal"),
    [
        ("5.2", "3.9 - 6.4", False),
        ("6.4", "3.9 - 6.4", False),
        ("6.5", "3.9 - 6.4", True),
        ("3.1", "3.9 - 6.4", True),
        ("4.9", "< 5", False),
        ("5", "< 5", True),
        ("5", "<= 5", False),
        ("41", "> 40", False),
        ("40", "> 40", True),
        ("<0.5", "< 5", None),  # not a number: cannot be told
        ("Âm tính", "3.9 - 6.4", None),
        ("5.2", "", None),  # no range
    ],
)
def test_a_result_is_abnormal_only_when_value_and_range_are_numbers(
    value: str, reference: str, abnormal: bool | None
) -> None:
    exam = his.Exam(
        code="23.0075.1494", name="Định lượng Glucose", group="1", results=[his.Lab(value=value, reference=reference)]
    )

    (result,) = record(his.outpatient(exams=[exam])).results

    assert result.abnormal is abnormal
    assert result.reference_range == reference
    assert result.description == ""


def test_a_result_without_its_service_is_kept_with_a_warning() -> None:
    visit = his.outpatient(exams=[his.Exam(results=[his.Lab(extra={"MA_DICH_VU": "99.9999.9999"})])])

    parsed = parse_submission(his.submission_bytes([visit])).visits[0]

    assert parsed.record is not None
    assert parsed.record.results[0].service_code == "99.9999.9999"
    assert parsed.record.results[0].name == "Glucose"
    assert [(w.table, w.field, w.row) for w in parsed.warnings] == [("XML4", "MA_DICH_VU", 1)]


@pytest.mark.parametrize(
    ("dose", "days"),
    [
        ("2 viên/lần * 2 lần/ngày * 5 ngày [4 viên/ngày]", 5),
        ("1 lọ/lần * 2 lần/ngày * 10 Ngày", 10),
        ("Uống 1 viên/ngày trong 30 ngày", 30),
        ("2 viên/lần * 2 lần/ngày", None),
        ("[4 viên/ngày]", None),
        ("", None),
        ("0 ngày", None),
    ],
)
def test_the_days_a_dose_says(dose: str, days: int | None) -> None:
    assert dose_days(dose) == days


def test_the_doctors_of_a_visit_first_seen_first_and_once() -> None:
    visit = his.outpatient(
        drugs=[his.Drug(doctor="BS2"), his.Drug(doctor=" BS1 ; BS2 ;")],
        exams=[his.Exam(doctor="BS3;BS1")],
        xml14={"MA_BAC_SI": "BS4"},
    )

    got = record(visit)

    assert got.doctors == ("BS2", "BS1", "BS3", "BS4")
    assert got.medications[1].doctor == "BS1;BS2"
    assert got.services[0].doctors == ("BS3", "BS1")
