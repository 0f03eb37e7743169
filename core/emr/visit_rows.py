"""A visit's record value (core.emr.records.VisitRecord) as rows of the record store, and back.

The mapping is exact both ways: what :func:`visit_rows` writes, :func:`visit_record` reads back equal to the
record that was imported (the FHIR round trip and the chat summary rely on it). Lists the schema keeps as one
";"-joined column (departments, doctors) must hold non-empty items without ";" — :func:`check_rows` refuses the
visit otherwise, as it refuses text longer than its column or a number the column would round, so that a value
is either stored exactly or the visit is refused with a reason (and never cut or rounded by the database).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, String, Table

from core.db import UTCDateTime

from . import models as m
from . import records as r

VISITS: Table = m.Visit.__table__
DIAGNOSES: Table = m.Diagnosis.__table__
MEDICATIONS: Table = m.Medication.__table__
SERVICES: Table = m.Service.__table__
RESULTS: Table = m.Result.__table__
COURSE_NOTES: Table = m.CourseNote.__table__
DOCUMENTS: Table = m.Document.__table__
REEXAM_SLIPS: Table = m.ReExamSlip.__table__

# The child tables of a visit, in the order they are written (and read).
CHILD_TABLES: tuple[Table, ...] = (DIAGNOSES, MEDICATIONS, SERVICES, RESULTS, COURSE_NOTES, DOCUMENTS, REEXAM_SLIPS)

SEPARATOR = ";"

# Where a stored column comes from in an XML 130 file, for the reasons a records clerk reads.
_SOURCE: dict[str, tuple[str, dict[str, str]]] = {
    "emr_visits": (
        "XML1",
        {
            "visit_key": "MA_LK",
            "facility_code": "MA_CSKCB",
            "care_type_code": "MA_LOAI_KCB",
            "departments": "MA_KHOA",
            "doctors": "MA_BAC_SI",
            "reason": "LY_DO_VV",
            "admission_diagnosis": "CHAN_DOAN_VAO",
            "discharge_diagnosis": "CHAN_DOAN_RV",
            "treatment": "PP_DIEU_TRI",
            "outcome": "KET_QUA_DTRI",
            "discharge_type": "MA_LOAI_RV",
            "advice": "GHI_CHU",
            "medical_record_number": "MA_HSBA",
            "re_exam_dates": "NGAY_TAI_KHAM",
            "arrived_at": "NGAY_VAO",
            "admitted_at": "NGAY_VAO_NOI_TRU",
            "discharged_at": "NGAY_RA",
        },
    ),
    "emr_diagnoses": ("XML1", {"code": "MA_BENH_CHINH / MA_BENH_KT", "text": "CHAN_DOAN_RV"}),
    "emr_medications": (
        "XML2",
        {
            "name": "TEN_THUOC",
            "ingredient_code": "MA_THUOC",
            "strength": "HAM_LUONG",
            "route": "DUONG_DUNG",
            "form": "DANG_BAO_CHE",
            "dose": "LIEU_DUNG",
            "instructions": "CACH_DUNG",
            "quantity": "SO_LUONG",
            "unit": "DON_VI_TINH",
            "doctor": "MA_BAC_SI",
            "ordered_at": "NGAY_YL",
            "registration_number": "SO_DANG_KY",
        },
    ),
    "emr_services": (
        "XML3",
        {
            "code": "MA_DICH_VU",
            "name": "TEN_DICH_VU",
            "group": "MA_NHOM",
            "quantity": "SO_LUONG",
            "unit": "DON_VI_TINH",
            "department": "MA_KHOA",
            "doctors": "MA_BAC_SI",
            "ordered_at": "NGAY_YL",
            "performed_at": "NGAY_TH_YL",
            "result_at": "NGAY_KQ",
        },
    ),
    "emr_results": (
        "XML4",
        {
            "service_code": "MA_DICH_VU",
            "name": "TEN_CHI_SO",
            "indicator_code": "MA_CHI_SO",
            "value": "GIA_TRI",
            "unit": "DON_VI_DO",
            "description": "MO_TA",
            "conclusion": "KET_LUAN",
            "result_at": "NGAY_KQ",
            "reader": "MA_BS_DOC_KQ",
        },
    ),
    "emr_course_notes": (
        "XML5",
        {
            "note": "DIEN_BIEN_LS",
            "stage": "GIAI_DOAN_BENH",
            "consultation": "HOI_CHAN",
            "surgery": "PHAU_THUAT",
            "at": "THOI_DIEM_DBLS",
            "by": "NGUOI_THUC_HIEN",
        },
    ),
    "emr_reexam_slips": (
        "XML14",
        {
            "due_date": "NGAY_HEN_KL",
            "number": "SO_GIAYHEN_KL",
            "facility_code": "MA_CSKCB",
            "diagnosis": "CHAN_DOAN_RV",
            "principal_code": "MA_BENH_CHINH",
            "doctor": "MA_BAC_SI",
        },
    ),
}
_DOCUMENT_TABLE = {
    m.DocumentKind.DISCHARGE.value: "XML7",
    m.DocumentKind.SUMMARY.value: "XML8",
    m.DocumentKind.REFERRAL.value: "XML13",
}


# --- record -> rows ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class VisitRows:
    """The rows of one visit version: the visit's own (without person, version, ids) and its children's
    (without visit_id), per child table."""

    visit: dict[str, Any]
    children: dict[Table, list[dict[str, Any]]]


def _joined(items: Iterable[str]) -> str:
    return SEPARATOR.join(items)


def _split(value: str) -> tuple[str, ...]:
    return tuple(value.split(SEPARATOR)) if value else ()


def identity_json(identity: r.Identity) -> dict[str, Any]:
    return {
        "full_name": identity.full_name,
        "birth_year": identity.birth_year,
        "birth_month": identity.birth_month,
        "birth_day": identity.birth_day,
        "sex": identity.sex,
        "cccd": identity.cccd,
        "insurance_cards": list(identity.insurance_cards),
        "his_patient_code": identity.his_patient_code,
        "phone": identity.phone,
        "address": identity.address,
        "blood_group": identity.blood_group,
    }


def identity_from_json(body: Mapping[str, Any] | str) -> r.Identity:
    """The Identity of a visit row's ``identity`` column: its JSON value, or its text (core.emr.reading reads
    JSON columns as text, so that the identity repeated on every visit of a person is decoded once)."""
    if isinstance(body, str):
        return _identity_from_text(body)
    values = dict(body)
    values["insurance_cards"] = tuple(values.get("insurance_cards") or ())
    return r.Identity(**values)


@functools.lru_cache(maxsize=4096)  # a person's visits repeat one identity; Identity is frozen, so shareable
def _identity_from_text(text: str) -> r.Identity:
    return identity_from_json(json.loads(text))


@functools.cache
def _document_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(field name, "datetime" / "date" / "") of a flat paper dataclass."""
    hints = typing.get_type_hints(cls, globalns=vars(r))
    out = []
    for f in dataclasses.fields(cls):
        args = typing.get_args(hints[f.name]) or (hints[f.name],)
        kind = "datetime" if dt.datetime in args else "date" if dt.date in args else ""
        out.append((f.name, kind))
    return tuple(out)


def document_json(paper: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, kind in _document_fields(type(paper)):
        value = getattr(paper, name)
        body[name] = value.isoformat() if kind and value is not None else value
    return body


def document_from_json(cls: type, body: Mapping[str, Any] | str) -> Any:
    """The paper ``cls`` of a document row's ``body``: its JSON value, or its text."""
    if isinstance(body, str):
        body = json.loads(body)
    values: dict[str, Any] = {}
    for name, kind in _document_fields(cls):
        if name not in body:
            continue
        value = body[name]
        if kind == "datetime" and value is not None:
            value = dt.datetime.fromisoformat(value)
        elif kind == "date" and value is not None:
            value = dt.date.fromisoformat(value)
        values[name] = value
    return cls(**values)


_PAPERS: tuple[tuple[str, str, type], ...] = (
    ("discharge", m.DocumentKind.DISCHARGE.value, r.DischargePaper),
    ("summary", m.DocumentKind.SUMMARY.value, r.RecordSummary),
    ("referral", m.DocumentKind.REFERRAL.value, r.Referral),
)


def visit_rows(record: r.VisitRecord, *, known_code: typing.Callable[[str], bool]) -> VisitRows:
    """The rows of ``record`` (``known_code`` tells whether a diagnosis code is in the ICD-10 table)."""
    visit = {
        "facility_code": record.facility_code,
        "visit_key": record.visit_key,
        "identity": identity_json(record.identity),
        "kind": record.kind.value,
        "care_type_code": record.care_type_code,
        "arrived_at": record.arrived_at,
        "admitted_at": record.admitted_at,
        "discharged_at": record.discharged_at,
        "departments": _joined(record.departments),
        "doctors": _joined(record.doctors),
        "reason": record.reason,
        "admission_diagnosis": record.admission_diagnosis,
        "discharge_diagnosis": record.discharge_diagnosis,
        "treatment": record.treatment,
        "outcome": record.outcome,
        "discharge_type": record.discharge_type,
        "advice": record.advice,
        "medical_record_number": record.medical_record_number,
        "re_exam_dates": _joined(day.isoformat() for day in record.re_exam_dates),
    }
    children: dict[Table, list[dict[str, Any]]] = {
        DIAGNOSES: [
            {
                "position": i,
                "code": d.code,
                "principal": d.principal,
                "system": d.system,
                "text": d.text,
                "known_code": known_code(d.code),
            }
            for i, d in enumerate(record.diagnoses)
        ],
        MEDICATIONS: [
            {
                "position": x.position,
                "name": x.name,
                "ingredient_code": x.ingredient_code,
                "strength": x.strength,
                "route": x.route,
                "form": x.form,
                "dose": x.dose,
                "instructions": x.instructions,
                "quantity": x.quantity,
                "unit": x.unit,
                "days": x.days,
                "doctor": x.doctor,
                "ordered_at": x.ordered_at,
                "registration_number": x.registration_number,
            }
            for x in record.medications
        ],
        SERVICES: [
            {
                "position": x.position,
                "code": x.code,
                "name": x.name,
                "group": x.group,
                "quantity": x.quantity,
                "unit": x.unit,
                "department": x.department,
                "doctors": _joined(x.doctors),
                "ordered_at": x.ordered_at,
                "performed_at": x.performed_at,
                "result_at": x.result_at,
            }
            for x in record.services
        ],
        RESULTS: [
            {
                "position": x.position,
                "service_code": x.service_code,
                "name": x.name,
                "indicator_code": x.indicator_code,
                "value": x.value,
                "unit": x.unit,
                "reference_range": x.reference_range,
                "low": x.low,
                "high": x.high,
                "abnormal": x.abnormal,
                "description": x.description,
                "conclusion": x.conclusion,
                "result_at": x.result_at,
                "reader": x.reader,
            }
            for x in record.results
        ],
        COURSE_NOTES: [
            {
                "position": x.position,
                "note": x.note,
                "stage": x.stage,
                "consultation": x.consultation,
                "surgery": x.surgery,
                "at": x.at,
                "by": _joined(x.by),
            }
            for x in record.course
        ],
        DOCUMENTS: [
            {"kind": kind, "body": document_json(getattr(record, attribute))}
            for attribute, kind, _cls in _PAPERS
            if getattr(record, attribute) is not None
        ],
        REEXAM_SLIPS: [],
    }
    slip = record.re_exam
    if slip is not None:
        children[REEXAM_SLIPS].append(
            {
                "due_date": slip.due_date,
                "due_time": slip.due_time,
                "number": slip.number,
                "facility_code": slip.facility_code,
                "diagnosis": slip.diagnosis,
                "principal_code": slip.principal_code,
                "doctor": slip.doctor,
                "issued_on": slip.issued_on,
            }
        )
    return VisitRows(visit, children)


# --- checks: stored exactly, or refused ----------------------------------------------------------------------

_INT32 = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class _Limits:
    strings: tuple[tuple[str, int], ...]  # (column, length)
    numbers: tuple[tuple[str, int, int], ...]  # (column, precision, scale)
    integers: tuple[str, ...]
    timestamps: tuple[str, ...]


@functools.cache
def _limits(table: Table) -> _Limits:
    """The columns of ``table`` a value can overflow (or, for a timestamp, lack its zone in)."""
    strings, numbers, integers, timestamps = [], [], [], []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, String) and kind.length:
            strings.append((column.name, kind.length))
        elif isinstance(kind, Numeric) and kind.precision:
            numbers.append((column.name, kind.precision, kind.scale or 0))
        elif isinstance(kind, Integer) and not column.primary_key and not column.foreign_keys:
            integers.append(column.name)
        elif isinstance(kind, UTCDateTime):
            timestamps.append(column.name)
    return _Limits(tuple(strings), tuple(numbers), tuple(integers), tuple(timestamps))


def _where(table: Table, column: str, row: Mapping[str, Any]) -> tuple[str, str]:
    if table is DOCUMENTS:
        return _DOCUMENT_TABLE.get(row.get("kind", ""), "XML"), column
    source, tags = _SOURCE.get(table.name, (table.name, {}))
    return source, tags.get(column, column)


def _row_number(table: Table, row: Mapping[str, Any]) -> int | None:
    if table is VISITS or table is DIAGNOSES:
        return None
    position = row.get("position")
    return position if isinstance(position, int) else None


def _number_problem(value: Decimal, precision: int, scale: int) -> str | None:
    if not value.is_finite():
        return "not a number"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -scale:
        return f"more than {scale} decimal places"
    if abs(value) >= Decimal(10) ** (precision - scale):
        return "too large"
    return None


def _row_problems(table: Table, row: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(column, reason) of what in ``row`` cannot be stored exactly."""
    limits = _limits(table)
    for column, size in limits.strings:
        value = row.get(column)
        if value is not None and len(value) > size:
            yield column, f"too long: {len(value)} characters, at most {size} are kept"
    for column, precision, scale in limits.numbers:
        value = row.get(column)
        if value is not None:
            reason = _number_problem(value, precision, scale)
            if reason:
                yield column, reason
    for column in limits.integers:
        value = row.get(column)
        if value is not None and not -_INT32 <= value <= _INT32:
            yield column, "too large"
    for column in limits.timestamps:
        value = row.get(column)
        if value is not None and value.tzinfo is None:
            yield column, "a time without its time zone"


def check_rows(rows: VisitRows) -> list[r.Problem]:
    """Why these rows cannot be stored exactly (empty when they can)."""
    problems: list[r.Problem] = []
    tables: list[tuple[Table, Sequence[Mapping[str, Any]]]] = [(VISITS, [rows.visit])]
    tables.extend(rows.children.items())
    for table, table_rows in tables:
        for row in table_rows:
            for column, reason in _row_problems(table, row):
                source, tag = _where(table, column, row)
                problems.append(r.Problem(reason, source, tag, _row_number(table, row)))
    return problems


def check_lists(record: r.VisitRecord) -> list[r.Problem]:
    """The lists kept ";"-joined must hold non-empty items without ";" (else they would not read back)."""
    problems = []

    def check(items: Sequence[str], table: str, tag: str, row: int | None = None) -> None:
        if any(not item or SEPARATOR in item for item in items):
            problems.append(r.Problem("an empty item or a ';' inside an item of the list", table, tag, row))

    check(record.departments, "XML1", "MA_KHOA")
    check(record.doctors, "XML1", "MA_BAC_SI")
    for service in record.services:
        check(service.doctors, "XML3", "MA_BAC_SI", service.position)
    for note in record.course:
        check(note.by, "XML5", "NGUOI_THUC_HIEN", note.position)
    return problems


# --- rows -> record -----------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    """A stored number as the Decimal it was (PostgreSQL returns Decimal; SQLite a float-derived one)."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return _trim(value)


_ONE = Decimal(1)


@functools.lru_cache(maxsize=4096)  # quantities and ranges repeat: 1, 10, 3.9…
def _trim(value: Decimal) -> Decimal:
    """Without the trailing zeros the column's scale added ("5.200" -> "5.2", "100.000" -> "100")."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(_ONE) if isinstance(exponent, int) and exponent > 0 else normal


def visit_record(visit: Mapping[str, Any], children: Mapping[Table, Sequence[Mapping[str, Any]]]) -> r.VisitRecord:
    """The VisitRecord of a stored visit row and its child rows (each list in the order written)."""
    papers: dict[str, Any] = {}
    for row in children.get(DOCUMENTS, ()):
        for attribute, kind, cls in _PAPERS:
            if row["kind"] == kind:
                papers[attribute] = document_from_json(cls, row["body"])
    slips = children.get(REEXAM_SLIPS, ())
    slip = None
    if slips:
        s = slips[0]
        slip = r.ReExamSlip(
            due_date=s["due_date"],
            number=s["number"],
            facility_code=s["facility_code"],
            due_time=s["due_time"],
            diagnosis=s["diagnosis"],
            principal_code=s["principal_code"],
            doctor=s["doctor"],
            issued_on=s["issued_on"],
        )
    return r.VisitRecord(
        facility_code=visit["facility_code"],
        visit_key=visit["visit_key"],
        identity=identity_from_json(visit["identity"]),
        kind=r.VisitKind(visit["kind"]),
        care_type_code=visit["care_type_code"],
        arrived_at=visit["arrived_at"],
        admitted_at=visit["admitted_at"],
        discharged_at=visit["discharged_at"],
        departments=_split(visit["departments"]),
        doctors=_split(visit["doctors"]),
        reason=visit["reason"],
        admission_diagnosis=visit["admission_diagnosis"],
        discharge_diagnosis=visit["discharge_diagnosis"],
        diagnoses=tuple(
            r.Diagnosis(code=d["code"], principal=d["principal"], text=d["text"], system=d["system"])
            for d in children.get(DIAGNOSES, ())
        ),
        treatment=visit["treatment"],
        outcome=visit["outcome"],
        discharge_type=visit["discharge_type"],
        advice=visit["advice"],
        medical_record_number=visit["medical_record_number"],
        re_exam_dates=tuple(dt.date.fromisoformat(day) for day in _split(visit["re_exam_dates"])),
        medications=tuple(
            r.Medication(
                position=x["position"],
                name=x["name"],
                ingredient_code=x["ingredient_code"],
                strength=x["strength"],
                route=x["route"],
                form=x["form"],
                dose=x["dose"],
                instructions=x["instructions"],
                quantity=_decimal(x["quantity"]),
                unit=x["unit"],
                days=x["days"],
                doctor=x["doctor"],
                ordered_at=x["ordered_at"],
                registration_number=x["registration_number"],
            )
            for x in children.get(MEDICATIONS, ())
        ),
        services=tuple(
            r.Service(
                position=x["position"],
                code=x["code"],
                name=x["name"],
                group=x["group"],
                quantity=_decimal(x["quantity"]),
                unit=x["unit"],
                department=x["department"],
                doctors=_split(x["doctors"]),
                ordered_at=x["ordered_at"],
                performed_at=x["performed_at"],
                result_at=x["result_at"],
            )
            for x in children.get(SERVICES, ())
        ),
        results=tuple(
            r.Result(
                position=x["position"],
                service_code=x["service_code"],
                name=x["name"],
                indicator_code=x["indicator_code"],
                value=x["value"],
                unit=x["unit"],
                reference_range=x["reference_range"],
                low=_decimal(x["low"]),
                high=_decimal(x["high"]),
                abnormal=x["abnormal"],
                description=x["description"],
                conclusion=x["conclusion"],
                result_at=x["result_at"],
                reader=x["reader"],
            )
            for x in children.get(RESULTS, ())
        ),
        course=tuple(
            r.CourseNote(
                position=x["position"],
                note=x["note"],
                stage=x["stage"],
                consultation=x["consultation"],
                surgery=x["surgery"],
                at=x["at"],
                by=_split(x["by"]),
            )
            for x in children.get(COURSE_NOTES, ())
        ),
        discharge=papers.get("discharge"),
        summary=papers.get("summary"),
        referral=papers.get("referral"),
        re_exam=slip,
    )
