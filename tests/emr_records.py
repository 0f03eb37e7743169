"""Realistic visit records (core.emr.records values) built directly, for the store's tests and bench.

Deterministic: ``visit(n)`` is always the same record, so a child process and its parent (the kill test) or
two runs (the bench) agree on what a file holds. A visit carries about ten rows across the child tables
(diagnoses, drugs, services, results, course notes, papers, a re-exam slip), like a real outpatient or
inpatient XML 130 export.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from core.emr import records as r
from core.timeutil import LOCAL_TZ, UTC

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
MIDDLE = ("Văn", "Thị", "Minh", "Ngọc", "Hữu", "Thu")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Mai", "Nam", "Phúc", "Quân", "Thảo", "Yến")
DIAGNOSES = (
    ("J06.9", "Nhiễm trùng hô hấp trên cấp"),
    ("I10", "Tăng huyết áp vô căn (nguyên phát)"),
    ("E11.9", "Đái tháo đường týp 2 không biến chứng"),
    ("K29.7", "Viêm dạ dày, không đặc hiệu"),
    ("M54.5", "Đau thắt lưng"),
    ("J18.9", "Viêm phổi, không đặc hiệu"),
)
DRUGS = (
    ("Paracetamol 500mg", "40.65", "500mg", "Viên", "1.01"),
    ("Amoxicilin 500mg", "40.117", "500mg", "Viên", "1.01"),
    ("Amlodipin 5mg", "40.458", "5mg", "Viên", "1.01"),
    ("Metformin 850mg", "40.681", "850mg", "Viên", "1.01"),
    ("Omeprazol 20mg", "40.677", "20mg", "Viên", "1.01"),
)


def local(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


def identity(p: int) -> r.Identity:
    """Person ``p``: a CCCD, a card, a name with diacritics."""
    name = f"{FAMILY[p % len(FAMILY)]} {MIDDLE[p % len(MIDDLE)]} {GIVEN[p % len(GIVEN)]}"
    return r.Identity(
        full_name=name,
        birth_year=1950 + p % 60,
        birth_month=1 + p % 12,
        birth_day=1 + p % 28,
        sex="male" if p % 2 else "female",
        cccd=f"0{p % 100:02d}0{90 + p % 10:02d}{p:06d}"[:12],
        insurance_cards=(f"GD4{p % 100:02d}{p:010d}",),
        his_patient_code=f"BN{p:08d}",
        phone=f"+8491{p:07d}",
        address="Số 12, đường Trần Hưng Đạo, phường 1, TP Cà Mau",
        blood_group=("O+", "A+", "B+", "AB+")[p % 4],
    )


def visit(n: int, *, facility_code: str = "99999", person: int | None = None, revision: int = 0) -> r.VisitRecord:
    """Visit ``n`` (MA_LK "LK<n>") of person ``person`` (default: n // 3, so persons have several visits);
    ``revision`` changes the record (a corrected re-export)."""
    p = n // 3 if person is None else person
    day = dt.date(2020, 1, 1) + dt.timedelta(days=n % 2000)
    arrived = local(day.year, day.month, day.day, 7 + n % 8, (n * 7) % 60)
    inpatient = n % 5 == 0
    discharged = arrived + (dt.timedelta(days=3, hours=2) if inpatient else dt.timedelta(hours=2))
    (code1, text1), (code2, text2) = DIAGNOSES[n % 6], DIAGNOSES[(n + 1) % 6]
    drugs = tuple(
        r.Medication(
            position=i + 1,
            name=DRUGS[(n + i) % 5][0],
            ingredient_code=DRUGS[(n + i) % 5][1],
            strength=DRUGS[(n + i) % 5][2],
            route=DRUGS[(n + i) % 5][4],
            form="Viên nén",
            dose="1 viên/lần * 2 lần/ngày * 5 ngày [2 viên/ngày]",
            instructions="Uống sau ăn",
            quantity=Decimal(10 + i),
            unit=DRUGS[(n + i) % 5][3],
            days=5,
            doctor="000123/CM-GPHN",
            ordered_at=arrived + dt.timedelta(minutes=40),
            registration_number=f"VD-{10000 + n % 900}-19",
        )
        for i in range(3)
    )
    services = (
        r.Service(
            position=1,
            code="01.0001.1778",
            name="Khám Nội",
            group="13",
            quantity=Decimal(1),
            unit="Lần",
            department="K01",
            doctors=("000123/CM-GPHN",),
            ordered_at=arrived,
            performed_at=arrived + dt.timedelta(minutes=5),
        ),
        r.Service(
            position=2,
            code="22.0120.1370",
            name="Tổng phân tích tế bào máu ngoại vi",
            group="1",
            quantity=Decimal(1),
            unit="Lần",
            department="K01",
            doctors=("000123/CM-GPHN", "000456/CM-GPHN"),
            ordered_at=arrived + dt.timedelta(minutes=10),
            performed_at=arrived + dt.timedelta(minutes=20),
            result_at=arrived + dt.timedelta(minutes=50),
        ),
    )
    results = (
        r.Result(
            position=1,
            service_code="22.0120.1370",
            name="Số lượng hồng cầu (RBC)",
            indicator_code="RBC",
            value=f"{4 + n % 3}.{n % 10}",
            unit="T/L",
            reference_range="3.8 - 5.5",
            low=Decimal("3.8"),
            high=Decimal("5.5"),
            abnormal=(4 + n % 3) >= 6,
            result_at=arrived + dt.timedelta(minutes=50),
            reader="000456/CM-GPHN",
        ),
        r.Result(
            position=2,
            service_code="22.0120.1370",
            name="Số lượng bạch cầu (WBC)",
            indicator_code="WBC",
            value="Âm tính" if n % 7 == 0 else "<0.5",
            unit="G/L",
            result_at=arrived + dt.timedelta(minutes=50),
            reader="000456/CM-GPHN",
        ),
    )
    record = r.VisitRecord(
        facility_code=facility_code,
        visit_key=f"LK{n:08d}",
        identity=identity(p),
        kind=r.VisitKind.INPATIENT if inpatient else r.VisitKind.OUTPATIENT,
        care_type_code="03" if inpatient else "01",
        arrived_at=arrived,
        admitted_at=arrived + dt.timedelta(hours=1) if inpatient else None,
        discharged_at=discharged,
        departments=("K01", "K19") if inpatient else ("K01",),
        doctors=("000123/CM-GPHN", "000456/CM-GPHN"),
        reason="Sốt, ho 3 ngày",
        admission_diagnosis=text1,
        discharge_diagnosis=f"{text1}; {text2}",
        diagnoses=(
            r.Diagnosis(code1, True, text1),
            r.Diagnosis(code2, False, text2),
        ),
        treatment="Điều trị nội khoa",
        outcome="1",
        discharge_type="1",
        advice="Uống thuốc theo đơn, tái khám sau 7 ngày" + (f" (bản sửa {revision})" if revision else ""),
        medical_record_number=f"HS{n:08d}",
        re_exam_dates=(day + dt.timedelta(days=7),),
        medications=drugs,
        services=services,
        results=results,
        course=(
            r.CourseNote(
                position=1,
                note="CSST<M75_T37_HA120/70_NT18_HL2> Tỉnh, tiếp xúc tốt",
                at=arrived + dt.timedelta(hours=1),
                by=("000123/CM-GPHN",),
            ),
        )
        if inpatient
        else (),
        discharge=r.DischargePaper(
            record_number=f"LT{n:06d}",
            department="K19",
            arrived_at=arrived,
            discharged_at=discharged,
            diagnosis=text1,
            treatment="Kháng sinh, hạ sốt",
            doctor_code="000123/CM-GPHN",
            doctor_name="Bs. Lê Văn Hùng",
            issued_on=discharged.astimezone(LOCAL_TZ).date(),
            days_off=5,
        )
        if inpatient
        else None,
        summary=r.RecordSummary(
            arrived_at=arrived,
            discharged_at=discharged,
            admission_diagnosis=text1,
            discharge_diagnosis=text1,
            course="Bệnh nhân vào viện vì sốt cao, ho đờm",
            key_results="Bạch cầu tăng",
            treatment="Kháng sinh đường uống",
            outcome="1",
        )
        if inpatient
        else None,
        re_exam=r.ReExamSlip(
            due_date=day + dt.timedelta(days=7),
            number=f"GH{n:06d}",
            facility_code=facility_code,
            due_time=dt.time(7, 30),
            diagnosis=text1,
            principal_code=code1,
            doctor="000123/CM-GPHN",
            issued_on=day,
        ),
    )
    return record


def visits(count: int, *, start: int = 0, facility_code: str = "99999") -> list[r.VisitRecord]:
    return [visit(n, facility_code=facility_code) for n in range(start, start + count)]


def child_rows(record: r.VisitRecord) -> int:
    """How many rows the store writes for ``record`` (the visit's own included)."""
    papers = sum(1 for paper in (record.discharge, record.summary, record.referral) if paper is not None)
    return (
        1
        + len(record.diagnoses)
        + len(record.medications)
        + len(record.services)
        + len(record.results)
        + len(record.course)
        + papers
        + (record.re_exam is not None)
    )


def corrected(record: r.VisitRecord, **changes: object) -> r.VisitRecord:
    return dataclasses.replace(record, **changes)
