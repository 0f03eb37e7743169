"""One HOSO (one visit, one MA_LK): its tables decoded, checked and read into a ParsedVisit."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from core.emr import icd10
from core.emr.records import Diagnosis, Identity, ParsedVisit, Problem, Service, VisitKind, VisitRecord
from core.emr.xml130 import tables, values
from core.emr.xml130.safexml import UnsafeXml, parse_document
from core.emr.xml130.tables import Fields, Notes
from core.emr.xml130.values import BadValue
from core.errors import InvalidInput
from core.identifiers import normalise_phone

READ = ("XML1", "XML2", "XML3", "XML4", "XML5", "XML7", "XML8", "XML13", "XML14")
# Known tables the record does not hold (HIV care, birth and leave certificates, TB treatment): skipped quietly.
SKIPPED = frozenset({"XML6", "XML9", "XML10", "XML11", "XML15"})
# Tables with their own flow (check-in, medical assessment), not carried in GIAMDINHHS.
SEPARATE = frozenset({"XML0", "XML12"})
_KINDS = {
    "01": VisitKind.OUTPATIENT,
    "02": VisitKind.DAY_TREATMENT,
    "03": VisitKind.INPATIENT,
    "04": VisitKind.DAY_TREATMENT,
}
_SEX = {"1": "male", "2": "female"}
_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")


@dataclass(frozen=True)
class Limits:
    """Sizes past which a file (or a visit) is refused rather than read."""

    max_file_bytes: int = 512 * 1024 * 1024
    max_table_bytes: int = 16 * 1024 * 1024  # one decoded inner table
    max_visits: int = 100_000  # HOSO per file


def decode_payload(text: str | None, table: str, limits: Limits, notes: Notes) -> bytes | None:
    """NOIDUNGFILE: standard base64 wrapped at 76 characters, CRLF, blanks, padding; None (with a refusal)
    when it cannot be read."""
    if text and len(text) // 4 * 3 <= limits.max_table_bytes:
        try:  # the usual payload: one unbroken, padded line
            return binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError):
            pass  # wrapped lines, blanks, missing padding, or not base64 at all: see below
    compact = (text or "").translate(_WHITESPACE)
    if not compact:
        notes.refuse(table, "NOIDUNGFILE", f"{table} is empty")
        return None
    if len(compact) // 4 * 3 > limits.max_table_bytes:
        notes.refuse(
            table,
            "NOIDUNGFILE",
            f"{table} is larger than {limits.max_table_bytes} bytes once decoded; split the visit's export",
        )
        return None
    compact += "=" * (-len(compact) % 4) if len(compact) % 4 != 1 else ""
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        notes.refuse(table, "NOIDUNGFILE", f"{table} is not valid base64")
        return None


def parse_table(payload: bytes, table: str, notes: Notes) -> etree._Element | None:
    try:
        return parse_document(payload)
    except UnsafeXml as exc:
        notes.refuse(table, "NOIDUNGFILE", f"{table}: {exc}")
    except etree.XMLSyntaxError as exc:
        if "Resource limit exceeded" in (exc.msg or ""):
            notes.refuse(table, "NOIDUNGFILE", f"{table} has a value too long to read (over 10 MB)")
        elif "encoding" in (exc.msg or "") or "UTF-8" in (exc.msg or ""):
            notes.refuse(
                table,
                "NOIDUNGFILE",
                f"{table} is not UTF-8 and declares no other encoding ({exc.msg}); export it as UTF-8",
            )
        else:
            notes.refuse(table, "NOIDUNGFILE", f"{table} is not well-formed XML ({exc.msg})")
    return None


def _is_4210(documents: dict[str, etree._Element]) -> bool:
    if any(root.tag in tables.QD4210_ROOTS for root in documents.values()):
        return True
    xml1 = documents.get("XML1")
    if xml1 is None:
        return False
    if xml1.find("MA_THE_BHYT") is not None or xml1.find("MA_BENH_CHINH") is not None:
        return False
    return xml1.find("MA_THE") is not None or xml1.find("MA_BENH") is not None


def read_visit(
    facility_code: str, files: list[tuple[str, str | None]], limits: Limits, *, file_facility: str = ""
) -> ParsedVisit:
    """files: (LOAIHOSO, NOIDUNGFILE text) of one HOSO, in file order."""
    notes = Notes()
    documents: dict[str, etree._Element] = {}
    for table, text in files:
        if table in SKIPPED:
            continue
        if table in SEPARATE:
            notes.warn(table, "LOAIHOSO", f"{table} is sent on its own, not in GIAMDINHHS; ignored")
            continue
        if table not in READ:
            notes.warn(table or "HOSO", "LOAIHOSO", f"unknown table '{table}' ignored")
            continue
        if table in documents:
            notes.warn(table, "LOAIHOSO", f"{table} sent twice in one visit; the first is kept")
            continue
        payload = decode_payload(text, table, limits, notes)
        root = parse_table(payload, table, notes) if payload is not None else None
        if root is not None:
            documents[table] = root
    if _is_4210(documents):
        notes.problems.insert(0, Problem(reason=tables.QD4210_REASON, table="XML1"))
        return _refused(documents, facility_code, notes)
    if "XML1" not in documents:
        if not any(problem.table == "XML1" for problem in notes.problems):
            notes.refuse("XML1", "LOAIHOSO", "the visit has no XML1 (TONG_HOP)")
        return _refused(documents, facility_code, notes)
    if notes.problems:
        return _refused(documents, facility_code, notes)
    return _build(documents, facility_code or file_facility, file_facility, notes)


def _refused(documents: dict[str, etree._Element], facility_code: str, notes: Notes) -> ParsedVisit:
    xml1 = documents.get("XML1")
    key = values.clean(xml1.findtext("MA_LK")) if xml1 is not None else ""
    facility = (values.clean(xml1.findtext("MA_CSKCB")) if xml1 is not None else "") or facility_code
    return ParsedVisit(facility, key, None, tuple(notes.problems), tuple(notes.warnings))


def _root_matches(root: etree._Element, table: str, expected: str, notes: Notes) -> bool:
    if root.tag == expected:
        return True
    notes.refuse(table, root.tag, f"{table} root is <{root.tag}>; expected <{expected}>")
    return False


def _build(documents: dict[str, etree._Element], facility_code: str, file_facility: str, notes: Notes) -> ParsedVisit:
    xml1_root = documents["XML1"]
    if not _root_matches(xml1_root, "XML1", tables.FLAT_TABLES["XML1"], notes):
        return _refused(documents, facility_code, notes)
    xml1 = Fields(xml1_root, "XML1", notes)
    key = xml1.text("MA_LK")
    facility = xml1.code("MA_CSKCB")
    if not key:
        notes.refuse("XML1", "MA_LK", "MA_LK is missing")
    if not facility:
        notes.refuse("XML1", "MA_CSKCB", "MA_CSKCB is missing")
    elif file_facility and facility != file_facility:
        notes.refuse("XML1", "MA_CSKCB", f"the visit's MA_CSKCB {facility} is not the file's facility {file_facility}")
    arrived_at = xml1.instant("NGAY_VAO", required=True)

    flat: dict[str, Fields] = {}
    for table in ("XML7", "XML8", "XML13", "XML14"):
        root = documents.get(table)
        if root is not None and _root_matches(root, table, tables.FLAT_TABLES[table], notes):
            flat[table] = Fields(root, table, notes)
    listed: dict[str, list[tuple[int, Fields]]] = {}
    for table in ("XML2", "XML3", "XML4", "XML5"):
        root = documents.get(table)
        if root is not None and _root_matches(root, table, tables.LIST_TABLES[table][0], notes):
            listed[table] = list(tables.rows(root, table, notes))
    if key:
        for doc in flat.values():
            _check_key(doc, key, notes)
        for table_rows in listed.values():
            for _position, row in table_rows:
                _check_key(row, key, notes)
    if notes.problems:
        return ParsedVisit(facility or facility_code, key, None, tuple(notes.problems), tuple(notes.warnings))

    medications = tuple(tables.medication(position, row) for position, row in listed.get("XML2", ()))
    services = tuple(tables.service(position, row) for position, row in listed.get("XML3", ()))
    by_code: dict[str, Service] = {}
    for item in services:
        by_code.setdefault(item.code, item)
    results = tuple(tables.result(position, row, by_code) for position, row in listed.get("XML4", ()))
    course = tuple(tables.course_note(position, row) for position, row in listed.get("XML5", ()))
    discharge = tables.discharge_paper(flat["XML7"]) if "XML7" in flat else None
    summary = tables.record_summary(flat["XML8"]) if "XML8" in flat else None
    referral = tables.referral(flat["XML13"]) if "XML13" in flat else None
    re_exam = tables.re_exam_slip(flat["XML14"]) if "XML14" in flat else None

    doctors: list[str] = []
    for item in medications:
        doctors.extend(values.split_list(item.doctor))
    for item in services:
        doctors.extend(item.doctors)
    for table, tag in (("XML7", "MA_BS"), ("XML13", "MA_BAC_SI"), ("XML14", "MA_BAC_SI")):
        if table in flat:
            doctors.extend(flat[table].items(tag))
    departments = list(xml1.items("MA_KHOA"))
    for item in services:
        departments.extend(values.split_list(item.department))

    re_exam_dates = []
    for text in xml1.items("NGAY_TAI_KHAM"):
        try:
            on = values.day(text, "NGAY_TAI_KHAM")
        except BadValue as exc:
            notes.warn("XML1", "NGAY_TAI_KHAM", str(exc))
            continue
        if on is not None:
            re_exam_dates.append(on)

    record = VisitRecord(
        facility_code=facility,
        visit_key=key,
        identity=_identity(xml1),
        kind=_kind(xml1),
        care_type_code=xml1.code("MA_LOAI_KCB"),
        arrived_at=arrived_at,
        admitted_at=xml1.instant("NGAY_VAO_NOI_TRU"),
        discharged_at=xml1.instant("NGAY_RA"),
        departments=_unique(departments),
        doctors=_unique(doctors),
        reason=xml1.text("LY_DO_VV"),
        admission_diagnosis=xml1.text("CHAN_DOAN_VAO"),
        discharge_diagnosis=xml1.text("CHAN_DOAN_RV"),
        diagnoses=_diagnoses(xml1),
        treatment=xml1.text("PP_DIEU_TRI", "PP_DIEUTRI"),
        outcome=xml1.code("KET_QUA_DTRI"),
        discharge_type=xml1.code("MA_LOAI_RV"),
        advice=xml1.text("GHI_CHU"),
        medical_record_number=xml1.text("MA_HSBA"),
        re_exam_dates=tuple(re_exam_dates),
        medications=medications,
        services=services,
        results=results,
        course=course,
        discharge=discharge,
        summary=summary,
        referral=referral,
        re_exam=re_exam,
    )
    return ParsedVisit(facility, key, record, (), tuple(notes.warnings))


def _check_key(doc: Fields, key: str, notes: Notes) -> None:
    own = doc.text("MA_LK")
    if not own:
        notes.warn(doc.table, "MA_LK", "MA_LK is missing; the row is taken as the visit's", doc.row)
    elif own != key:
        notes.refuse(doc.table, "MA_LK", f"MA_LK '{own}' is not the visit's MA_LK '{key}' (XML1)", doc.row)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _kind(xml1: Fields) -> VisitKind:
    if xml1.code("MA_DOITUONG_KCB") == "2":
        return VisitKind.EMERGENCY
    care_type = xml1.code("MA_LOAI_KCB")
    if len(care_type) == 1 and care_type.isdigit():
        care_type = "0" + care_type  # QĐ 130 before QĐ 4750 typed it as a number: "1" for "01"
    return _KINDS.get(care_type, VisitKind.OTHER)


@lru_cache(maxsize=4096)
def _phone(raw: str) -> str | None:
    """E.164 when DIEN_THOAI is a valid Vietnamese mobile number (core.identifiers.normalise_phone), else None."""
    try:
        return normalise_phone(raw)
    except InvalidInput:
        return None


def _identity(xml1: Fields) -> Identity:
    year = month = day = None
    text = xml1.text("NGAY_SINH")
    try:
        year, month, day = values.birth(text)
    except BadValue as exc:
        xml1.notes.warn("XML1", "NGAY_SINH", str(exc))
    phone = None
    raw_phone = xml1.text("DIEN_THOAI")
    if raw_phone:
        phone = _phone(raw_phone)
        if phone is None:
            xml1.notes.warn("XML1", "DIEN_THOAI", "DIEN_THOAI is not a Vietnamese mobile number; not kept")
    return Identity(
        full_name=xml1.text("HO_TEN"),
        birth_year=year,
        birth_month=month,
        birth_day=day,
        sex=_SEX.get(xml1.code("GIOI_TINH")),
        cccd=xml1.code("SO_CCCD").translate(_WHITESPACE) or None,  # "0791 9000 1234", as typed at the desk
        insurance_cards=_unique([card.translate(_WHITESPACE).upper() for card in xml1.items("MA_THE_BHYT")]),
        his_patient_code=xml1.text("MA_BN"),
        phone=phone,
        address=xml1.text("DIA_CHI"),
        blood_group=xml1.text("NHOM_MAU"),
    )


def _diagnoses(xml1: Fields) -> tuple[Diagnosis, ...]:
    coded: list[tuple[str, bool, str]] = []
    principal = icd10.normalise(xml1.text("MA_BENH_CHINH"))
    if principal:
        coded.append((principal, True, "icd10"))
    for item in xml1.items("MA_BENH_KT"):
        code = icd10.normalise(item)
        if code and code != principal:
            coded.append((code, False, "icd10"))
    for item in xml1.items("MA_BENH_YHCT"):
        coded.append((icd10.normalise(item), False, "yhct"))
    coded = list(dict.fromkeys(coded))
    for code, is_principal, system in coded:
        if system == "icd10" and not icd10.is_valid(code):
            tag = "MA_BENH_CHINH" if is_principal else "MA_BENH_KT"
            xml1.notes.warn("XML1", tag, f"{code} is not a WHO ICD-10 code (kept as written)")
    texts = _wording(coded, xml1.text("CHAN_DOAN_RV"))
    return tuple(
        Diagnosis(code=code, principal=is_principal, text=texts.get(code, ""), system=system)
        for code, is_principal, system in coded
    )


_LEAD_CODE = re.compile(r"^[\s(\[]*([A-Za-z]{1,2}\d{2}(?:\.?\w{1,4})?)(?![\w.])[\s)\]:\-–—,.]*")


def _wording(coded: list[tuple[str, bool, str]], text: str) -> dict[str, str]:
    """Each code's wording from CHAN_DOAN_RV: items that begin with their code ("J06.9 - Viêm họng cấp",
    "(J069) Viêm họng"), else a ';'-list parallel to the codes (all of them, or the ICD-10 ones)."""
    items = values.split_list(text)
    if not items or not coded:
        return {}
    plain = {code.replace(".", ""): code for code, _principal, _system in coded}
    found: dict[str, str] = {}
    for item in items:
        match = _LEAD_CODE.match(item)
        code = plain.get(match.group(1).replace(".", "").upper()) if match else None
        if match and code and code not in found:
            found[code] = item[match.end() :].strip()
    if found:
        return found
    codes = [code for code, _principal, _system in coded]
    icd = [code for code, _principal, system in coded if system == "icd10"]
    for candidates in (codes, icd):
        if len(items) == len(candidates):
            return dict(zip(candidates, items, strict=True))
    return {}
