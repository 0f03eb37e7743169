"""FHIR R4 exchange of the record (core/emr/fhir): export validates with fhir.resources R4B, the IPS-style
summary says "none known", and what is exported comes back field by field when it is imported."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import types
import typing
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.booking.views import AppointmentView
from core.emr.fhir import export_bundle, export_patient_summary, parse_bundle
from core.emr.records import (
    Allergy,
    CourseNote,
    Diagnosis,
    DischargePaper,
    Identity,
    Immunization,
    Medication,
    PersonRecord,
    RecordSummary,
    ReExamSlip,
    Referral,
    Result,
    Section,
    Service,
    VisitKind,
    VisitRecord,
)
from core.emr.xml130 import parse_submission
from core.reminders.views import ReExamView
from core.timeutil import LOCAL_TZ, UTC
from tests import emr_his_files

pytestmark = pytest.mark.unit  # pure: no database, no process

ICD10 = "http://hl7.org/fhir/sid/icd-10"
DOCTOR = "000123/CM-GPHN"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A Vietnam local time as the aware UTC instant records hold."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


IDENTITY = Identity(
    full_name="Nguyễn Thị Lan",
    birth_year=1985,
    birth_month=3,
    birth_day=12,
    sex="female",
    cccd="096185001234",
    insurance_cards=("DN4969600012345",),
    his_patient_code="BN001",
    phone="+84912345678",
    address="12 Lê Lợi, Phường 1, Cà Mau",
    blood_group="O+",
)

INPATIENT = VisitRecord(
    facility_code="96001",
    visit_key="2024IP0001",
    identity=IDENTITY,
    kind=VisitKind.INPATIENT,
    care_type_code="03",
    arrived_at=at(2024, 5, 2, 7, 30),
    admitted_at=at(2024, 5, 2, 9),
    discharged_at=at(2024, 5, 9, 10),
    departments=("K19", "K03"),
    doctors=(DOCTOR, "000456/CM-GPHN"),
    reason="Sốt cao, ho",
    admission_diagnosis="Viêm phổi",
    discharge_diagnosis="Viêm phổi do vi khuẩn",
    diagnoses=(
        Diagnosis("J15.9", True, "Viêm phổi do vi khuẩn"),
        Diagnosis("E11.9", False, "Bệnh đái tháo đường không phụ thuộc insulin"),
        Diagnosis("U50.021", False, "Phế nhiệt", system="yhct"),
    ),
    treatment="Kháng sinh tĩnh mạch",
    outcome="1",
    discharge_type="1",
    advice="Tái khám sau 2 tuần, mang theo đơn thuốc cũ",
    medical_record_number="HS24-0001",
    re_exam_dates=(dt.date(2024, 5, 23),),
    medications=(
        Medication(
            1,
            "Ceftriaxone 1g",
            ingredient_code="40.1",
            strength="1g",
            route="2.10",
            form="Bột pha tiêm",
            dose="1 lọ/lần * 2 lần/ngày * 7 ngày",
            instructions="Tiêm tĩnh mạch chậm",
            quantity=Decimal("14"),
            unit="Lọ",
            days=7,
            doctor=DOCTOR,
            ordered_at=at(2024, 5, 2, 9, 15),
            registration_number="VN-1234-19",
        ),
        Medication(
            2,
            "Paracetamol 500mg",
            ingredient_code="40.10",
            route="1.01",
            dose="1 viên/lần",
            quantity=Decimal("10.50"),
            unit="Viên",
        ),
        Medication(3, "Vitamin C", instructions="Uống sau ăn"),
    ),
    services=(
        Service(
            1,
            "22.0120.1369",
            "Tổng phân tích tế bào máu ngoại vi",
            group="1",
            quantity=Decimal("1"),
            department="K19",
            doctors=(DOCTOR,),
            ordered_at=at(2024, 5, 2, 8),
            result_at=at(2024, 5, 2, 10),
        ),
    ),
    results=(
        Result(
            1,
            "22.0120.1369",
            "Bạch cầu (WBC)",
            indicator_code="WBC",
            value="15.20",
            unit="G/L",
            reference_range="4 - 10",
            low=Decimal("4"),
            high=Decimal("10"),
            abnormal=True,
            result_at=at(2024, 5, 2, 10),
        ),
        Result(2, "22.0120.1369", "Hồng cầu (RBC)", indicator_code="RBC", value="4.5", unit="T/L"),
        Result(3, "23.0001", "HBsAg test nhanh", value="Âm tính", reference_range="Âm tính", abnormal=False),
        Result(
            4,
            "18.0001.0001",
            "Chụp X-quang ngực thẳng",
            description="Đám mờ thùy dưới phổi phải",
            conclusion="Viêm phổi thùy dưới phải",
            result_at=at(2024, 5, 2, 11),
            reader="000789/CM-GPHN",
        ),
    ),
    course=(CourseNote(1, "Sốt 39 độ, ho đờm", stage="Khởi phát", at=at(2024, 5, 2, 8), by=(DOCTOR,)),),
    discharge=DischargePaper(
        record_number="LT-01", department="K19", diagnosis="Viêm phổi", days_off=5, issued_on=dt.date(2024, 5, 9)
    ),
    summary=RecordSummary(
        course="Sốt, ho 3 ngày",
        key_results="Bạch cầu tăng",
        treatment="Kháng sinh",
        outcome="1",
        issued_on=dt.date(2024, 5, 9),
    ),
    referral=Referral(number="CT-5", from_facility="96001", to_facility="79001", reason_code="1"),
    re_exam=ReExamSlip(
        due_date=dt.date(2024, 5, 23),
        number="GH-0001",
        facility_code="96001",
        diagnosis="Viêm phổi",
        principal_code="J15.9",
        doctor=DOCTOR,
        issued_on=dt.date(2024, 5, 9),
    ),
)

OUTPATIENT = VisitRecord(
    facility_code="96002",
    visit_key="KB-77",
    identity=dataclasses.replace(IDENTITY, his_patient_code="7788"),
    kind=VisitKind.OUTPATIENT,
    care_type_code="01",
    arrived_at=at(2025, 1, 5, 8),
    diagnoses=(Diagnosis("I10", True, "Bệnh lý tăng huyết áp"),),
    re_exam=ReExamSlip(due_date=dt.date(2025, 2, 5), due_time=dt.time(8, 30), number="H-9"),
)

RECORD = PersonRecord(
    identity=IDENTITY,
    visits=(OUTPATIENT, INPATIENT),  # newest first, as the read service gives them
    immunizations=(
        Immunization(
            "urn:vn:tcqg|VX-1",
            "Vắc xin viêm gan B",
            dt.date(1985, 3, 13),
            vaccine_code="HepB",
            vaccine_system="urn:vn:tcqg:vaccine",
            dose_number="1",
            lot_number="L1",
            facility_code="96001",
        ),
    ),
    allergies=(
        Allergy(
            "urn:vn:96001|DU-1",
            "Penicillin",
            code="764146007",
            code_system="http://snomed.info/sct",
            reaction="Nổi mề đay",
            criticality="high",
            recorded_on=dt.date(2020, 1, 1),
        ),
    ),
)


@dataclasses.dataclass(frozen=True)
class Stored:
    """What the exporter reads of core.emr.reading.StoredRecord."""

    person_id: int
    record: PersonRecord


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def round_trip(record: PersonRecord, **kw: object) -> tuple[list[PersonRecord], list]:
    return parse_bundle(json.dumps(export_bundle(Stored(7, record), **kw), ensure_ascii=False).encode())


def appointment_view(status: str, code: str = "BK1") -> AppointmentView:
    return AppointmentView(
        code=code,
        status=status,
        hospital="bv",
        hospital_name="Bệnh viện Đa khoa Cà Mau",
        department="nhi",
        department_name="Khoa Nhi",
        location="Tầng 2",
        room="P.203",
        doctor=None,
        patient_id=1,
        patient_name="Nguyễn Thị Lan",
        day=dt.date(2025, 3, 3),
        part_of_day="morning",
        start=dt.datetime(2025, 3, 3, 8, 0),
        queue_number=12,
        visit_type="insurance",
        channel="zalo",
        what_to_bring="",
    )


def re_exam_view(cancelled: bool = False) -> ReExamView:
    return ReExamView(
        id=5,
        hospital="bv",
        hospital_name="Bệnh viện Đa khoa Cà Mau",
        patient_id=1,
        patient_name="Nguyễn Thị Lan",
        department="noi",
        department_name="Khoa Nội",
        due_date=dt.date(2025, 2, 5),
        note="Mang theo đơn thuốc cũ",
        source="emr",
        cancelled=cancelled,
    )


# export ----------------------------------------------------------------------------------------------------


def test_export_validates_with_r4b_and_holds_every_resource():
    bundle = export_bundle(Stored(7, RECORD), appointments=[appointment_view("booked")], re_exams=[re_exam_view()])

    parsed = Bundle.model_validate(json.loads(json.dumps(bundle)))  # R4B: the JSON as another system reads it
    assert parsed.type == "collection"
    counts = Counter(entry.resource.get_resource_type() for entry in parsed.entry)
    assert counts == {
        "Patient": 1,
        "Organization": 2,
        "Encounter": 2,
        "Condition": 4,
        "MedicationRequest": 3,
        "Observation": 3,
        "DiagnosticReport": 1,
        "Immunization": 1,
        "AllergyIntolerance": 1,
        "Appointment": 5,  # two slips, one NGAY_TAI_KHAM, one booking, one reminder re-exam
    }
    for entry in bundle["entry"]:  # each resource alone, by its own R4B model
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    references = [c["condition"]["reference"] for e in resources(bundle, "Encounter") for c in e["diagnosis"]]
    assert set(references) <= urls


def test_patient_carries_the_identifiers_and_the_birth_date_as_precise_as_known():
    patient = resources(export_bundle(Stored(7, RECORD)), "Patient")[0]

    identifiers = {(i["system"], i["value"]) for i in patient["identifier"]}
    assert identifiers == {
        ("urn:vn:cccd", "096185001234"),
        ("urn:vn:bhyt", "DN4969600012345"),
        ("urn:vn:bhxh", "9600012345"),
        ("urn:vn:cskcb:96001:ma-bn", "BN001"),
        ("urn:vn:cskcb:96002:ma-bn", "7788"),
    }
    assert patient["name"][0] == {"text": "Nguyễn Thị Lan", "family": "Nguyễn", "given": ["Thị", "Lan"]}
    assert (patient["gender"], patient["birthDate"]) == ("female", "1985-03-12")
    assert patient["telecom"][0]["value"] == "+84912345678"
    assert patient["address"][0]["text"] == "12 Lê Lợi, Phường 1, Cà Mau"


def test_encounter_says_the_visit_in_fhir_elements():
    bundle = export_bundle(Stored(7, RECORD))
    encounter = resources(bundle, "Encounter")[1]

    assert {"system": "urn:vn:cskcb:96001:ma-lk", "value": "2024IP0001"} in encounter["identifier"]
    assert encounter["class"]["code"] == "IMP"
    assert encounter["period"] == {"start": "2024-05-02T07:30:00+07:00", "end": "2024-05-09T10:00:00+07:00"}
    assert encounter["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "1"
    assert encounter["reasonCode"] == [{"text": "Sốt cao, ho"}]
    organization = next(
        e["resource"] for e in bundle["entry"] if e["fullUrl"] == encounter["serviceProvider"]["reference"]
    )
    assert organization["identifier"] == [{"system": "urn:vn:cskcb", "value": "96001"}]
    ranks = [(d["rank"], d["use"]["coding"][0]["code"]) for d in encounter["diagnosis"]]
    assert ranks == [(1, "DD"), (2, "CM"), (3, "CM")]
    principal = next(
        e["resource"] for e in bundle["entry"] if e["fullUrl"] == encounter["diagnosis"][0]["condition"]["reference"]
    )
    assert principal["code"] == {"coding": [{"system": ICD10, "code": "J15.9"}], "text": "Viêm phổi do vi khuẩn"}
    fields = next(x for x in encounter["extension"] if x["url"].endswith("/record-fields"))["extension"]
    assert {"url": "care_type_code", "valueString": "03"} in fields  # MA_LOAI_KCB has no FHIR element
    assert {"url": "outcome", "valueString": "1"} in fields  # KET_QUA_DTRI neither


def test_medications_results_and_imaging_use_fhir_elements():
    bundle = export_bundle(Stored(7, RECORD))

    ceftriaxone = resources(bundle, "MedicationRequest")[0]
    dosage = ceftriaxone["dosageInstruction"][0]
    assert dosage["text"] == "1 lọ/lần * 2 lần/ngày * 7 ngày; Tiêm tĩnh mạch chậm"
    assert dosage["route"]["coding"][0]["code"] == "2.10"
    assert ceftriaxone["dispenseRequest"]["quantity"] == {"value": 14, "unit": "Lọ"}
    assert ceftriaxone["dispenseRequest"]["expectedSupplyDuration"]["value"] == 7
    assert ceftriaxone["authoredOn"] == "2024-05-02T09:15:00+07:00"

    wbc, rbc, hbsag = resources(bundle, "Observation")
    assert wbc["valueQuantity"] == {"value": 15.2, "unit": "G/L"}
    assert wbc["referenceRange"] == [{"low": {"value": 4}, "high": {"value": 10}, "text": "4 - 10"}]
    assert wbc["interpretation"][0]["coding"][0]["code"] == "H"
    assert "interpretation" not in rbc  # no range: abnormal cannot be told
    assert hbsag["valueString"] == "Âm tính"
    assert hbsag["interpretation"][0]["coding"][0]["code"] == "N"
    (xray,) = resources(bundle, "DiagnosticReport")
    assert xray["conclusion"] == "Viêm phổi thùy dưới phải"


@pytest.mark.parametrize(
    ("status", "fhir_status"),
    [
        ("booked", "booked"),
        ("checked_in", "checked-in"),
        ("completed", "fulfilled"),
        ("cancelled", "cancelled"),
        ("no_show", "noshow"),
    ],
)
def test_booking_states_become_fhir_appointment_statuses(status, fhir_status):
    bundle = export_bundle(Stored(7, RECORD), appointments=[appointment_view(status)])

    booking = next(a for a in resources(bundle, "Appointment") if a.get("start"))
    assert booking["status"] == fhir_status
    assert booking["identifier"][0]["value"] == "BK1"
    assert booking["start"] == "2025-03-03T08:00:00+07:00"


@pytest.mark.parametrize(("cancelled", "fhir_status"), [(False, "proposed"), (True, "cancelled")])
def test_re_exam_dates_of_the_reminders_become_appointments(cancelled, fhir_status):
    bundle = export_bundle(Stored(7, PersonRecord(IDENTITY)), re_exams=[re_exam_view(cancelled)])

    (appointment,) = resources(bundle, "Appointment")
    assert appointment["status"] == fhir_status
    assert appointment["requestedPeriod"] == [{"start": "2025-02-05", "end": "2025-02-05"}]
    assert appointment["description"] == "Mang theo đơn thuốc cũ"
    (person,), _ = parse_bundle(json.dumps(bundle).encode())
    assert person.visits == ()  # henkham's own reminders are not part of an imported record


# import of our own export -----------------------------------------------------------------------------------


def test_import_of_the_export_gives_the_record_back_field_by_field():
    (person,), problems = round_trip(RECORD, appointments=[appointment_view("booked")], re_exams=[re_exam_view()])

    assert problems == []
    assert person.identity == RECORD.identity
    assert [(v.facility_code, v.visit_key) for v in person.visits] == [("96002", "KB-77"), ("96001", "2024IP0001")]
    for got, want in zip(person.visits, RECORD.visits, strict=True):
        assert got.diagnoses == want.diagnoses
        assert got.medications == want.medications
        assert got.results == want.results
        assert got.re_exam_dates == want.re_exam_dates
        assert got.re_exam == want.re_exam
        for item in dataclasses.fields(VisitRecord):  # and every other field of the visit
            assert getattr(got, item.name) == getattr(want, item.name), item.name
    assert person.immunizations == RECORD.immunizations
    assert person.allergies == RECORD.allergies
    assert person == RECORD


@pytest.mark.parametrize("make", [emr_his_files.outpatient, emr_his_files.inpatient, emr_his_files.child])
@pytest.mark.parametrize("style", [emr_his_files.Style(), emr_his_files.MESSY], ids=["tidy", "messy"])
def test_visits_read_from_his_files_come_back_whole(make, style):
    parsed = parse_submission(emr_his_files.submission_bytes([make()], style=style))
    visit = parsed.visits[0].record
    record = PersonRecord(visit.identity, visits=(visit,))

    bundle = export_bundle(Stored(3, record))
    (person,), problems = parse_bundle(json.dumps(bundle, ensure_ascii=False).encode())

    assert problems == []
    for item in dataclasses.fields(VisitRecord):
        assert getattr(person.visits[0], item.name) == getattr(visit, item.name), item.name
    assert person == record
    counts = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    assert counts["Condition"] == len(visit.diagnoses)
    assert counts["MedicationRequest"] == len(visit.medications)
    assert counts["Observation"] + counts["DiagnosticReport"] == len(visit.results)


@pytest.mark.parametrize(
    ("year", "month", "day", "birth_date"),
    [(1985, None, None, "1985"), (1985, 3, None, "1985-03"), (1985, 3, 12, "1985-03-12"), (None, None, None, None)],
)
@pytest.mark.parametrize("sex", ["male", "female", None])
def test_gender_and_birth_date_precision_round_trip(year, month, day, birth_date, sex):
    identity = Identity(full_name="Lê Văn Tám", birth_year=year, birth_month=month, birth_day=day, sex=sex)
    bundle = export_bundle(Stored(1, PersonRecord(identity)))

    patient = resources(bundle, "Patient")[0]
    assert patient.get("birthDate") == birth_date
    assert patient.get("gender") == sex
    (person,), _ = parse_bundle(json.dumps(bundle).encode())
    assert person.identity == identity


def test_none_known_sections_round_trip():
    record = PersonRecord(IDENTITY, none_known=frozenset({Section.ALLERGIES, Section.IMMUNIZATIONS}))

    (person,), problems = round_trip(record)

    assert problems == []
    assert person.none_known == {Section.ALLERGIES, Section.IMMUNIZATIONS}


def test_values_fhir_would_round_off_are_kept_as_written():
    result = Result(1, "S1", "Glucose", value="5.20", unit="mmol/L", low=Decimal("3.90"), high=Decimal("6.40"))
    visit = dataclasses.replace(OUTPATIENT, results=(result,), medications=(Medication(7, "Thuốc A", dose="2 viên"),))

    (person,), _ = round_trip(PersonRecord(IDENTITY, visits=(visit,)))

    assert person.visits[0].results[0].value == "5.20"
    assert person.visits[0].medications[0].position == 7


# IPS-style summary -----------------------------------------------------------------------------------------


def test_patient_summary_is_a_document_with_the_ips_sections():
    summary = export_patient_summary(Stored(7, RECORD), now=at(2025, 6, 1, 9))

    parsed = Bundle.model_validate(json.loads(json.dumps(summary)))
    assert parsed.type == "document"
    composition = summary["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    codes = [s["code"]["coding"][0]["code"] for s in composition["section"]]
    assert codes == ["11450-4", "48765-2", "10160-0", "30954-2", "11369-6"]
    problems, allergies, medications, results, immunizations = composition["section"]
    assert "J15.9 Viêm phổi do vi khuẩn" in problems["text"]["div"]
    assert len(problems["entry"]) == 4
    assert "Penicillin: Nổi mề đay" in allergies["text"]["div"]
    assert len(medications["entry"]) == 3  # the latest prescription
    assert "Bạch cầu (WBC): 15.20 G/L (bất thường)" in results["text"]["div"]
    assert "Vắc xin viêm gan B" in immunizations["text"]["div"]
    urls = {entry["fullUrl"] for entry in summary["entry"]}
    assert {ref["reference"] for s in composition["section"] for ref in s["entry"]} <= urls


def test_patient_summary_says_none_known_when_a_section_is_empty():
    record = PersonRecord(IDENTITY, none_known=frozenset({Section.ALLERGIES}))

    summary = export_patient_summary(Stored(7, record), now=at(2025, 6, 1, 9))

    Bundle.model_validate(json.loads(json.dumps(summary)))
    problems, allergies, medications, _results, immunizations = summary["entry"][0]["resource"]["section"]
    assert "Không có dị ứng nào được biết" in allergies["text"]["div"]
    (allergy,) = resources(summary, "AllergyIntolerance")  # stated by the record: an IPS "no known allergy"
    assert allergies["entry"] == [{"reference": f"urn:uuid:{allergy['id']}"}]
    assert {"system": "http://snomed.info/sct", "code": "716186003", "display": "No known allergy"} in allergy["code"][
        "coding"
    ]
    for section, words in [
        (problems, "Không có vấn đề sức khỏe nào được biết"),
        (medications, "Không có thuốc đang dùng nào được biết"),
        (immunizations, "Không có mũi tiêm chủng nào được biết"),
    ]:
        assert section["emptyReason"]["coding"][0]["code"] == "nilknown"
        assert words in section["text"]["div"]
        assert "entry" not in section
    (person,), problems_found = parse_bundle(json.dumps(summary).encode())
    assert problems_found == []
    assert Section.ALLERGIES in person.none_known
    assert person.allergies == ()


# import of other systems' bundles --------------------------------------------------------------------------

REGISTRY_BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "meta": {"source": "https://tiemchung.vncdc.gov.vn"},
    "entry": [
        {
            "fullUrl": "https://tiemchung.example/fhir/Patient/123",
            "resource": {
                "resourceType": "Patient",
                "id": "123",
                "identifier": [{"system": "urn:vn:cccd", "value": "096223004567"}],
                "name": [{"family": "Trần", "given": ["Gia", "Bảo"]}],
                "gender": "male",
                "birthDate": "2023-06-01",
            },
        },
        {
            "resource": {
                "resourceType": "Immunization",
                "id": "im-1",
                "identifier": [{"system": "https://tiemchung.vncdc.gov.vn/mui-tiem", "value": "MT-0001"}],
                "status": "completed",
                "vaccineCode": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "08", "display": "Hep B"}],
                    "text": "Viêm gan B sơ sinh",
                },
                "patient": {"reference": "Patient/123"},
                "occurrenceDateTime": "2023-06-01T10:00:00+07:00",
                "protocolApplied": [{"doseNumberPositiveInt": 1}],
            },
        },
        {
            "resource": {
                "resourceType": "Immunization",
                "id": "im-2",
                "status": "completed",
                "vaccineCode": {"text": "BCG"},
                "patient": {"reference": "Patient/123"},
                "occurrenceDateTime": "2023-06-02",
            },
        },
    ],
}


def test_a_registry_bundle_of_patient_and_immunizations_imports():
    (person,), problems = parse_bundle(json.dumps(REGISTRY_BUNDLE).encode())

    assert problems == []
    assert person.identity == Identity(
        full_name="Trần Gia Bảo", birth_year=2023, birth_month=6, birth_day=1, sex="male", cccd="096223004567"
    )
    assert person.visits == ()
    hep_b, bcg = person.immunizations
    assert hep_b == Immunization(
        identifier="https://tiemchung.vncdc.gov.vn/mui-tiem|MT-0001",
        vaccine_name="Viêm gan B sơ sinh",
        occurred_on=dt.date(2023, 6, 1),
        vaccine_code="08",
        vaccine_system="http://hl7.org/fhir/sid/cvx",
        dose_number="1",
    )
    assert (bcg.vaccine_name, bcg.occurred_on) == ("BCG", dt.date(2023, 6, 2))
    assert bcg.identifier == "https://tiemchung.vncdc.gov.vn|Immunization/im-2"  # stable: source and id
    assert parse_bundle(json.dumps(REGISTRY_BUNDLE).encode())[0][0] == person


def test_an_invalid_resource_is_reported_and_the_rest_kept():
    bundle = json.loads(json.dumps(REGISTRY_BUNDLE))
    bundle["entry"][2]["resource"]["occurrenceDateTime"] = "2023-13-45"
    bundle["entry"].append({"resource": {"resourceType": "Spaceship", "id": "x"}})
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "AllergyIntolerance",
                "patient": {"reference": "Patient/123"},
                "code": {"text": "Tôm"},
                "colour": "red",
            }
        }
    )

    (person,), problems = parse_bundle(json.dumps(bundle).encode())

    assert [i.vaccine_name for i in person.immunizations] == ["Viêm gan B sơ sinh"]
    assert [(p.table, p.field, p.row) for p in problems] == [
        ("Immunization", "occurrenceDateTime", 3),
        ("Spaceship", "resourceType", 4),
        ("AllergyIntolerance", "colour", 5),
    ]
    assert all(p.reason for p in problems)


def test_a_foreign_encounter_without_ma_lk_gets_a_stable_key_and_its_facility():
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "meta": {"source": "https://his.other-province.example"},
        "entry": [
            {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "name": [{"text": "Phạm Văn Hùng"}]}},
            {
                "fullUrl": "urn:uuid:o",
                "resource": {
                    "resourceType": "Organization",
                    "identifier": [{"system": "urn:vn:cskcb", "value": "79001"}],
                },
            },
            {
                "fullUrl": "urn:uuid:e",
                "resource": {
                    "resourceType": "Encounter",
                    "id": "enc-9",
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
                    "subject": {"reference": "urn:uuid:p"},
                    "serviceProvider": {"reference": "urn:uuid:o"},
                    "period": {"start": "2025-02-01T22:10:00+07:00"},
                },
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "subject": {"reference": "urn:uuid:p"},
                    "encounter": {"reference": "urn:uuid:e"},
                    "code": {"coding": [{"system": ICD10, "code": "s06.0"}], "text": "Chấn động não"},
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "subject": {"reference": "urn:uuid:p"},
                    "code": {"coding": [{"system": ICD10, "code": "I10"}]},
                }
            },
        ],
    }

    (person,), problems = parse_bundle(json.dumps(bundle).encode())

    (visit,) = person.visits
    assert visit.facility_code == "79001"
    assert visit.kind is VisitKind.EMERGENCY
    assert visit.arrived_at == at(2025, 2, 1, 22, 10)
    assert visit.diagnoses == (Diagnosis("S06.0", False, "Chấn động não"),)
    assert visit.visit_key.startswith("FHIR-")
    assert parse_bundle(json.dumps(bundle).encode())[0][0].visits[0].visit_key == visit.visit_key
    bundle["entry"][2]["resource"]["id"] = "enc-10"
    assert parse_bundle(json.dumps(bundle).encode())[0][0].visits[0].visit_key != visit.visit_key
    assert [(p.table, p.field, p.row) for p in problems] == [("Condition", "encounter", 5)]  # no visit to hold it


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"x" * 2048, "larger than"),
        (b"not json", "not FHIR JSON"),
        ('{"a": 1}'.encode("utf-16"), "not FHIR JSON"),
        (b"[" * 100 + b"]" * 100, "not FHIR JSON"),
        (b'{"resourceType": "Patient"}', "not a FHIR Bundle"),
        (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{}] * 11}).encode(), "split"),
    ],
)
def test_unsafe_or_foreign_files_are_refused_with_a_reason(data, words):
    persons, problems = parse_bundle(data, max_bytes=1024, max_entries=10)

    assert persons == []
    assert words in problems[0].reason


def test_another_systems_visit_reads_into_the_record():
    patient = {"reference": "Patient/p1"}
    encounter = {"reference": "Encounter/e1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "name": [{"family": "Võ", "given": ["Thị", "Hoa"]}],
                    "birthDate": "1970",
                }
            },
            {
                "resource": {
                    "resourceType": "Encounter",
                    "id": "e1",
                    "status": "finished",
                    "identifier": [{"system": "urn:vn:cskcb:79001:ma-lk", "value": "LK-1"}],
                    "class": {"code": "AMB"},
                    "subject": patient,
                    "diagnosis": [
                        {"condition": {"reference": "Condition/c2"}, "rank": 2},
                        {"condition": {"reference": "Condition/c1"}, "rank": 1},
                    ],
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": patient,
                    "encounter": encounter,
                    "code": {"coding": [{"system": ICD10, "code": "E11.9"}], "text": "Đái tháo đường"},
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c2",
                    "subject": patient,
                    "encounter": encounter,
                    "code": {"coding": [{"system": ICD10, "code": "I10"}]},
                }
            },
            {"resource": {"resourceType": "Medication", "id": "m1", "code": {"text": "Metformin 500mg"}}},
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "status": "active",
                    "subject": patient,
                    "context": encounter,
                    "medicationReference": {"reference": "Medication/m1"},
                    "dosage": [{"text": "1 viên x 2 lần/ngày"}],
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "subject": patient,
                    "encounter": encounter,
                    "code": {"text": "HbA1c"},
                    "valueQuantity": {"value": 5.5, "comparator": "<", "unit": "%"},
                    "interpretation": [{"coding": [{"code": "N"}]}],
                }
            },
            {
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "subject": patient,
                    "encounter": encounter,
                    "code": {"text": "Sinh hóa máu"},
                    "result": [{"reference": "Observation/o1"}],
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "subject": patient,
                    "encounter": encounter,
                    "code": {"text": "Glucose"},
                    "valueString": "7",
                    "extension": [
                        {
                            "url": "https://henkham.vn/fhir/StructureDefinition/record-fields",
                            "extension": [{"url": "low", "valueString": "thấp"}],
                        }
                    ],
                }
            },
        ],
    }

    (person,), problems = parse_bundle(json.dumps(bundle).encode())

    assert person.identity.full_name == "Võ Thị Hoa"
    assert person.identity.birth_precision == "year"
    (visit,) = person.visits
    assert (visit.facility_code, visit.visit_key, visit.kind) == ("79001", "LK-1", VisitKind.OUTPATIENT)
    assert visit.diagnoses == (Diagnosis("E11.9", True, "Đái tháo đường"), Diagnosis("I10", False))
    assert visit.medications == (Medication(1, "Metformin 500mg", dose="1 viên x 2 lần/ngày"),)
    assert [(r.name, r.value, r.unit, r.abnormal) for r in visit.results] == [("HbA1c", "<5.5", "%", False)]
    assert [(p.table, p.row) for p in problems] == [("Observation", 9)]  # the unreadable one, the rest kept


# any record: the property behind the round trip ------------------------------------------------------------

_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂĐÊÔƠƯàảãáạềểễếệọỏốồổỗộớờởỡợùủũúụừửữứựỳỷỹýỵ0123456789"
_TEXT = st.text(alphabet=_LETTERS + " .,;:/-()%<>+*|\"'&\n", max_size=14).map(str.strip)
_WORD = st.text(alphabet=_LETTERS + ".-_/", min_size=1, max_size=10)
_INSTANT = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2040, 1, 1), timezones=st.just(UTC))
_DECIMAL = st.decimals(-(10**6), 10**6, allow_nan=False, allow_infinity=False, places=3)
_BY_HINT = {
    str: _TEXT,
    int: st.integers(0, 10**6),
    bool: st.booleans(),
    Decimal: _DECIMAL,
    dt.datetime: _INSTANT,
    dt.date: st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)),
    dt.time: st.times(),
    VisitKind: st.sampled_from(VisitKind),
}


def _strategy(cls: type, **given: st.SearchStrategy) -> st.SearchStrategy:
    """Any value of a record class, field by field from its type hints (``given`` for the fields that need
    more care)."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for item in dataclasses.fields(cls):
        if item.name in given:
            fields[item.name] = given[item.name]
            continue
        hint, optional = hints[item.name], False
        if isinstance(hint, types.UnionType):
            hint, optional = next(a for a in typing.get_args(hint) if a is not type(None)), True
        if typing.get_origin(hint) is tuple:
            inner = typing.get_args(hint)[0]
            each = _WORD if inner is str else _strategy(inner) if dataclasses.is_dataclass(inner) else _BY_HINT[inner]
            base = st.lists(each, max_size=2).map(tuple)
        elif dataclasses.is_dataclass(hint):
            base = _strategy(hint)
        else:
            base = _BY_HINT[hint]
        fields[item.name] = st.none() | base if optional else base
    return st.builds(cls, **fields)


@st.composite
def _identities(draw: st.DrawFn) -> Identity:
    born = draw(st.dates(dt.date(1920, 1, 1), dt.date(2025, 12, 31)))
    precision = draw(st.sampled_from(["day", "month", "year", None]))
    return Identity(
        full_name=draw(_TEXT),
        birth_year=born.year if precision else None,
        birth_month=born.month if precision in ("day", "month") else None,
        birth_day=born.day if precision == "day" else None,
        sex=draw(st.sampled_from(["male", "female", None])),
        cccd=draw(st.none() | st.from_regex(r"0\d{11}", fullmatch=True)),
        insurance_cards=tuple(draw(st.lists(st.from_regex(r"[A-Z]{2}\d{13}", fullmatch=True), max_size=2))),
        his_patient_code=draw(_TEXT),
        phone=draw(st.none() | st.from_regex(r"\+849\d{8}", fullmatch=True)),
        address=draw(_TEXT),
        blood_group=draw(_TEXT),
    )


_CODE = st.from_regex(r"[A-Z][0-9]{2}(\.[0-9]{1,2})?", fullmatch=True) | _TEXT
_VISITS = _strategy(
    VisitRecord,
    facility_code=st.from_regex(r"\d{5}", fullmatch=True),
    visit_key=st.from_regex(r"[A-Z0-9_-]{1,20}", fullmatch=True),
    identity=_identities(),
    diagnoses=st.lists(_strategy(Diagnosis, code=_CODE, system=st.sampled_from(["icd10", "yhct"])), max_size=3).map(
        tuple
    ),
    medications=st.lists(_strategy(Medication, position=st.integers(1, 99)), max_size=3).map(tuple),
    results=st.lists(_strategy(Result, position=st.integers(1, 99), value=_TEXT | _DECIMAL.map(str)), max_size=3).map(
        tuple
    ),
    services=st.lists(_strategy(Service), max_size=1).map(tuple),
    course=st.lists(_strategy(CourseNote), max_size=1).map(tuple),
)
_RECORDS = st.builds(
    PersonRecord,
    identity=_identities(),
    visits=st.lists(_VISITS, max_size=2, unique_by=lambda v: (v.facility_code, v.visit_key)).map(tuple),
    immunizations=st.lists(
        _strategy(Immunization, identifier=_WORD, status=st.sampled_from(["completed", "not-done"])),
        max_size=2,
        unique_by=lambda i: i.identifier,
    ).map(tuple),
    allergies=st.lists(
        _strategy(Allergy, identifier=_WORD, criticality=st.sampled_from(["", "low", "high"])),
        max_size=2,
        unique_by=lambda a: a.identifier,
    ).map(tuple),
    none_known=st.frozensets(st.sampled_from(Section)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_RECORDS)
def test_any_record_comes_back_whole(record):
    (person,), problems = round_trip(record)

    assert problems == []
    assert person == record


def test_a_bundle_about_several_persons_gives_one_record_each():
    first = PersonRecord(IDENTITY, visits=(OUTPATIENT,), immunizations=RECORD.immunizations)
    other_identity = Identity(full_name="Trần Văn Bình", birth_year=1990, sex="male", cccd="096090000111")
    other = PersonRecord(
        other_identity,
        visits=(dataclasses.replace(INPATIENT, visit_key="LK-B", identity=other_identity),),
        allergies=RECORD.allergies,
    )
    entries = [
        entry
        for person_id, record in ((1, first), (2, other))
        for entry in export_bundle(Stored(person_id, record))["entry"]
    ]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}

    persons, problems = parse_bundle(json.dumps(bundle, ensure_ascii=False).encode())

    assert problems == []
    assert persons == [first, other]


def test_a_source_identifier_too_long_for_the_store_is_shortened_stably():
    bundle = json.loads(json.dumps(REGISTRY_BUNDLE))
    bundle["entry"][1]["resource"]["identifier"][0]["value"] = "MT-" + "9" * 400

    (person,), _ = parse_bundle(json.dumps(bundle).encode())
    (again,), _ = parse_bundle(json.dumps(bundle).encode())

    identifier = person.immunizations[0].identifier
    assert len(identifier) <= 300
    assert identifier.startswith("https://tiemchung.vncdc.gov.vn/mui-tiem|MT-999")
    assert again.immunizations[0].identifier == identifier


def test_the_exchange_uses_only_the_r4b_models():
    """fhir.resources' default package is R5, which silently drops R4 fields: core/emr/fhir never imports it."""
    package = Path(__file__).parent.parent / "core" / "emr" / "fhir"
    imports = [
        line.strip()
        for source in package.glob("*.py")
        for line in source.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(from|import) fhir\.", line)
    ]
    assert imports
    assert all(line.startswith("from fhir.resources.R4B") for line in imports), imports
