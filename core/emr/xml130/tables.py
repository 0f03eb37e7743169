"""The inner tables of one visit (XML1…XML14) read into core.emr.records values.

A table reader takes the parsed inner document and a ``Notes`` collector: a bad required value is a refusal
(``notes.refuse``), a bad optional one a warning with the field left empty (``notes.warn``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from lxml import etree

from core.emr.records import (
    CourseNote,
    DischargePaper,
    Medication,
    Problem,
    RecordSummary,
    ReExamSlip,
    Referral,
    Result,
    Service,
)
from core.emr.xml130 import values
from core.emr.xml130.values import BadValue

T = TypeVar("T")

# The tables of QĐ 130/4750 (xml130.md §3): LOAIHOSO -> (inner root, list element, row element); a flat table
# has its fields right under the root. Written once: the parser reads by it and core/emr/writer.py writes by it.
STRUCTURE: dict[str, tuple[str, str | None, str | None]] = {
    "XML1": ("TONG_HOP", None, None),
    "XML2": ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    "XML3": ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    "XML5": ("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    "XML7": ("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN", None, None),
    "XML8": ("CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN", None, None),
    "XML13": ("CHI_TIEU_GIAYCHUYENTUYEN", None, None),
    "XML14": ("CHI_TIEU_GIAYHEN_KHAMLAI", None, None),
}
LIST_TABLES = {kind: (root, row) for kind, (root, listing, row) in STRUCTURE.items() if listing and row}
FLAT_TABLES = {kind: root for kind, (root, listing, _row) in STRUCTURE.items() if listing is None}
# The roots QĐ 4210 used instead (§5).
QD4210_ROOTS = {
    "DSACH_CHI_TIET_THUOC",
    "DSACH_CHI_TIET_DVKT",
    "DSACH_CHI_TIET_CLS",
    "DSACH_CHI_TIET_DIEN_BIEN_BENH",
}
QD4210_REASON = (
    "this is a QĐ 4210 file (the 2017 format, superseded by QĐ 130/QĐ 4750): please export the visits again "
    "in the QĐ 4750 format from the HIS"
)


@dataclass
class Notes:
    """Problems (refusals) and warnings of one visit."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def refuse(self, table: str, tag: str, reason: str, row: int | None = None) -> None:
        self.problems.append(Problem(reason=reason, table=table, field=tag, row=row))

    def warn(self, table: str, tag: str, reason: str, row: int | None = None) -> None:
        self.warnings.append(Problem(reason=reason, table=table, field=tag, row=row))


class Fields:
    """The child elements of one row (or of a flat table's root), read as clean values."""

    __slots__ = ("notes", "raw", "row", "table")

    def __init__(self, element: etree._Element, table: str, notes: Notes, row: int | None = None) -> None:
        # Comments and processing instructions are removed by the parser and a DOCTYPE is refused, so every
        # child is an element (no entity nodes); the document is NFC already (safexml.parse_document). Values
        # are trimmed once here; an empty tag and a missing one both read "".
        self.raw = {child.tag: text.strip() for child in element if (text := child.text)}
        self.table = table
        self.notes = notes
        self.row = row

    def text(self, tag: str, other: str = "") -> str:
        """The value of the tag, or of its other spelling when the first is empty."""
        value = self.raw.get(tag)
        if not value and other:
            value = self.raw.get(other)
        return value or ""

    def items(self, tag: str) -> tuple[str, ...]:
        return values.split_list(self.text(tag))

    def joined(self, tag: str) -> str:
        """A ';'-list kept as one string, its items trimmed and the empty ones dropped ("a ; b ;" -> "a;b")."""
        return ";".join(self.items(tag))

    def read(self, tag: str, reader: Callable[[str, str], T], *, required: bool = False) -> T | None:
        """A typed value; a bad one is a warning (None kept), or a refusal when required."""
        text = self.text(tag)
        try:
            value = reader(text, tag)
        except BadValue as exc:
            (self.notes.refuse if required else self.notes.warn)(self.table, tag, str(exc), self.row)
            return None
        if value is None and required:
            self.notes.refuse(self.table, tag, f"{tag} is missing", self.row)
        return value

    def instant(self, tag: str, *, required: bool = False) -> dt.datetime | None:
        return self.read(tag, values.instant, required=required)

    def day(self, tag: str) -> dt.date | None:
        return self.read(tag, values.day)

    def decimal(self, tag: str) -> Decimal | None:
        return self.read(tag, values.decimal)

    def integer(self, tag: str) -> int | None:
        return self.read(tag, values.integer)

    def code(self, tag: str) -> str:
        """A code that may look numeric: as written ("01", "1.1"); a numeric code written "2.00" is not a
        code the lists know, so it stays as written too."""
        return self.raw.get(tag) or ""


def rows(root: etree._Element, table: str, notes: Notes) -> Iterator[tuple[int, Fields]]:
    """The rows of a list table, with their position (STT, or the order in the file when STT is unreadable)."""
    _root_tag, row_tag = LIST_TABLES[table]
    for index, element in enumerate(root.iter(row_tag), start=1):
        fields = Fields(element, table, notes)
        stt = fields.text("STT")
        position = index
        if stt.isascii() and stt.isdigit():
            position = int(stt) or index
        elif stt:
            try:
                position = values.integer(stt, "STT") or index
            except BadValue as exc:
                notes.warn(table, "STT", str(exc), index)
        fields.row = position
        yield position, fields


_DAYS = re.compile(r"(\d{1,3})\s*ngày", re.IGNORECASE)


def dose_days(dose: str) -> int | None:
    """The number of days a dose says ("2 viên/lần * 2 lần/ngày * 5 ngày [4 viên/ngày]" -> 5)."""
    match = _DAYS.search(dose)
    if not match:
        return None
    days = int(match.group(1))
    return days or None


def medication(position: int, row: Fields) -> Medication:
    get = row.raw.get  # the row's trimmed values: the hot path of a file
    dose = get("LIEU_DUNG", "")
    return Medication(
        position=position,
        name=get("TEN_THUOC", ""),
        ingredient_code=get("MA_THUOC", ""),
        strength=get("HAM_LUONG", ""),
        route=get("DUONG_DUNG", ""),
        form=get("DANG_BAO_CHE", ""),
        dose=dose,
        instructions=get("CACH_DUNG", ""),
        quantity=row.decimal("SO_LUONG"),
        unit=get("DON_VI_TINH", ""),
        days=dose_days(dose),
        doctor=row.joined("MA_BAC_SI"),
        ordered_at=row.instant("NGAY_YL"),
        registration_number=get("SO_DANG_KY", ""),
    )


def service(position: int, row: Fields) -> Service:
    get = row.raw.get  # the row's trimmed values: the hot path of a file
    code = get("MA_DICH_VU", "") or get("MA_VAT_TU", "")
    return Service(
        position=position,
        code=code,
        name=get("TEN_DICH_VU", "") or get("TEN_VAT_TU", ""),
        group=get("MA_NHOM", ""),
        quantity=row.decimal("SO_LUONG"),
        unit=get("DON_VI_TINH", ""),
        department=row.joined("MA_KHOA"),
        doctors=row.items("MA_BAC_SI"),
        ordered_at=row.instant("NGAY_YL"),
        performed_at=row.instant("NGAY_TH_YL"),
        result_at=row.instant("NGAY_KQ"),
    )


_NUM = r"[+-]?\d+(?:\.\d+)?"
_BETWEEN = re.compile(rf"^\(?\s*({_NUM})\s*(?:-|–|—|~|đến)\s*({_NUM})\s*\)?\s*([^\d\s][^\d]{{0,19}})?$")
_BOUND = re.compile(rf"^\(?\s*(<=|>=|≤|≥|<|>)\s*({_NUM})\s*\)?\s*([^\d\s][^\d]{{0,19}})?$")


@dataclass(frozen=True)
class Range:
    low: Decimal | None
    high: Decimal | None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def abnormal(self, value: Decimal) -> bool:
        if self.low is not None and (value < self.low if self.low_inclusive else value <= self.low):
            return True
        return self.high is not None and (value > self.high if self.high_inclusive else value >= self.high)


def reference_range(text: str) -> Range | None:
    """A range the way labs write one in MO_TA: "3.9 - 6.4", "< 5", "> 40", "≤ 1.0" (a unit may follow)."""
    if not text or len(text) > 60:
        return None
    match = _BETWEEN.match(text)
    if match:
        low, high = Decimal(match.group(1)), Decimal(match.group(2))
        return Range(low, high) if low <= high else None
    match = _BOUND.match(text)
    if match:
        sign, bound = match.group(1), Decimal(match.group(2))
        if sign in ("<", "<=", "≤"):
            return Range(None, bound, high_inclusive=sign != "<")
        return Range(bound, None, low_inclusive=sign != ">")
    return None


def result(position: int, row: Fields, services_by_code: dict[str, Service]) -> Result:
    get = row.raw.get  # the row's trimmed values: the hot path of a file
    code = get("MA_DICH_VU", "")
    value = get("GIA_TRI", "")
    description = get("MO_TA", "")
    reference = ""
    low = high = None
    abnormal = None
    limits = reference_range(description)
    if limits is not None:
        reference, description = description, ""
        low, high = limits.low, limits.high
        try:
            number = values.decimal(value, "GIA_TRI")
        except BadValue:
            number = None
        if number is not None:
            abnormal = limits.abnormal(number)
    owner = services_by_code.get(code)
    name = get("TEN_CHI_SO", "") or (owner.name if owner else "")
    if code and owner is None:
        row.notes.warn(row.table, "MA_DICH_VU", f"no XML3 service {code} for this result", row.row)
    return Result(
        position=position,
        service_code=code,
        name=name,
        indicator_code=get("MA_CHI_SO", ""),
        value=value,
        unit=get("DON_VI_DO", ""),
        reference_range=reference,
        low=low,
        high=high,
        abnormal=abnormal,
        description=description,
        conclusion=get("KET_LUAN", ""),
        result_at=row.instant("NGAY_KQ"),
        reader=get("MA_BS_DOC_KQ", ""),
    )


def course_note(position: int, row: Fields) -> CourseNote:
    get = row.raw.get  # the row's trimmed values: the hot path of a file
    return CourseNote(
        position=position,
        note=row.text("DIEN_BIEN_LS", "DIEN_BIEN"),
        stage=get("GIAI_DOAN_BENH", ""),
        consultation=get("HOI_CHAN", ""),
        surgery=get("PHAU_THUAT", ""),
        at=row.instant("THOI_DIEM_DBLS"),
        by=row.items("NGUOI_THUC_HIEN"),
    )


def discharge_paper(doc: Fields) -> DischargePaper:
    return DischargePaper(
        record_number=doc.text("SO_LUU_TRU"),
        department=doc.code("MA_KHOA_RV"),
        arrived_at=doc.instant("NGAY_VAO"),
        discharged_at=doc.instant("NGAY_RA"),
        diagnosis=doc.text("CHAN_DOAN_RV"),
        treatment=doc.text("PP_DIEUTRI", "PP_DIEU_TRI"),
        note=doc.text("GHI_CHU"),
        doctor_code=doc.text("MA_BS"),
        doctor_name=doc.text("TEN_BS"),
        issued_on=doc.day("NGAY_CT"),
        days_off=doc.integer("SO_NGAY_NGHI"),
        leave_from=doc.day("NGOAITRU_TUNGAY"),
        leave_to=doc.day("NGOAITRU_DENNGAY"),
        father_name=doc.text("HO_TEN_CHA"),
        mother_name=doc.text("HO_TEN_ME"),
    )


def record_summary(doc: Fields) -> RecordSummary:
    return RecordSummary(
        arrived_at=doc.instant("NGAY_VAO"),
        discharged_at=doc.instant("NGAY_RA"),
        admission_diagnosis=doc.text("CHAN_DOAN_VAO"),
        discharge_diagnosis=doc.text("CHAN_DOAN_RV"),
        course=doc.text("QT_BENHLY"),
        key_results=doc.text("TOMTAT_KQ"),
        treatment=doc.text("PP_DIEUTRI", "PP_DIEU_TRI"),
        outcome=doc.code("KET_QUA_DTRI"),
        note=doc.text("GHI_CHU"),
        issued_on=doc.day("NGAY_CT"),
        father_name=doc.text("HO_TEN_CHA"),
        mother_name=doc.text("HO_TEN_ME"),
        guardian=doc.text("NGUOI_GIAM_HO"),
    )


def referral(doc: Fields) -> Referral:
    # XML13 has both PP_DIEUTRI (treatment) and PP_DIEU_TRI (the state at transfer; TINH_TRANG_CT in QĐ 3176).
    return Referral(
        number=doc.text("SO_CHUYENTUYEN"),
        from_facility=doc.code("MA_CSKCB_DI") or doc.code("MA_NOI_DI"),
        to_facility=doc.code("MA_CSKCB_DEN") or doc.code("MA_NOI_DEN"),
        clinical_signs=doc.text("DAU_HIEU_LS"),
        diagnosis=doc.text("CHAN_DOAN_RV"),
        course=doc.text("QT_BENHLY"),
        key_results=doc.text("TOMTAT_KQ"),
        treatment=doc.text("PP_DIEUTRI"),
        condition=doc.text("TINH_TRANG_CT", "PP_DIEU_TRI"),
        reason_code=doc.code("MA_LYDO_CT"),
        direction=doc.text("HUONG_DIEU_TRI"),
        transport=doc.text("PHUONGTIEN_VC"),
        escort=doc.text("HOTEN_NGUOI_HT"),
        doctor=doc.joined("MA_BAC_SI"),
        issued_at=doc.instant("NGAY_RA"),
    )


def re_exam_slip(doc: Fields) -> ReExamSlip | None:
    """None (with a warning) when the slip has no readable NGAY_HEN_KL."""
    try:
        due_date, due_time = values.day_and_time(doc.text("NGAY_HEN_KL"), "NGAY_HEN_KL")
    except BadValue as exc:
        doc.notes.warn(doc.table, "NGAY_HEN_KL", f"{exc}; the re-exam slip is skipped")
        return None
    if due_date is None:
        doc.notes.warn(doc.table, "NGAY_HEN_KL", "NGAY_HEN_KL is missing; the re-exam slip is skipped")
        return None
    return ReExamSlip(
        due_date=due_date,
        number=doc.text("SO_GIAYHEN_KL"),
        facility_code=doc.code("MA_CSKCB"),
        due_time=due_time,
        diagnosis=doc.text("CHAN_DOAN_RV"),
        principal_code=doc.text("MA_BENH_CHINH").upper(),
        doctor=doc.joined("MA_BAC_SI"),
        issued_on=doc.day("NGAY_CT"),
    )
