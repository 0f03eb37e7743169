"""The clinical record as importers read it: plain frozen values, free of XML, FHIR and the database.

Every importer (XML 130/4750 in ``core/emr/xml130``, FHIR R4 in ``core/emr/fhir``) produces these; the store
(``core/emr/importing.py``) writes them; the FHIR exporter reads the stored record back into them. Text is NFC,
trimmed, "" when absent; instants are aware UTC datetimes (the files hold Vietnam local time); codes that look
numeric stay strings (leading zeros kept).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal


class VisitKind(enum.StrEnum):
    """From MA_LOAI_KCB: 01 outpatient, 02 day treatment (outpatient treatment), 03 inpatient, 04 day inpatient,
    05/06/07/08/09/10 the other kinds of the code list; an emergency is a visit whose MA_DOITUONG_KCB is 2."""

    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"
    EMERGENCY = "emergency"
    DAY_TREATMENT = "day_treatment"
    OTHER = "other"


class BirthPrecision(enum.StrEnum):
    DAY = "day"
    MONTH = "month"  # day unknown (NGAY_SINH yyyyMM00…)
    YEAR = "year"  # day and month unknown (yyyy0000…)


@dataclass(frozen=True)
class Identity:
    """Who a visit is about, as the facility wrote it (the master patient index decides which person it is)."""

    full_name: str
    birth_year: int | None = None
    birth_month: int | None = None
    birth_day: int | None = None
    sex: str | None = None  # "male" / "female" (core.booking.models.Sex values); None when undetermined
    cccd: str | None = None  # 12-digit personal id (SO_CCCD; a 9-digit CMND or a passport is kept as written)
    insurance_cards: tuple[str, ...] = ()  # MA_THE_BHYT, every card of the visit
    his_patient_code: str = ""  # MA_BN: the facility's own patient code
    phone: str | None = None  # E.164 when it is a valid phone, else None
    address: str = ""
    blood_group: str = ""

    @property
    def birth_precision(self) -> BirthPrecision | None:
        if self.birth_year is None:
            return None
        if self.birth_month is None:
            return BirthPrecision.YEAR
        return BirthPrecision.MONTH if self.birth_day is None else BirthPrecision.DAY

    @property
    def date_of_birth(self) -> dt.date | None:
        """The full birth date when every part is known."""
        if self.birth_year is None or self.birth_month is None or self.birth_day is None:
            return None
        return dt.date(self.birth_year, self.birth_month, self.birth_day)

    @property
    def social_insurance_numbers(self) -> tuple[str, ...]:
        """The 10-digit social-insurance number inside each card (the last 10 of a 15-character card, a bare
        10-digit number as is)."""
        numbers = []
        for card in self.insurance_cards:
            number = card[-10:] if len(card) == 15 else card if len(card) == 10 else ""
            if number.isdigit() and number not in numbers:
                numbers.append(number)
        return tuple(numbers)


@dataclass(frozen=True)
class Diagnosis:
    code: str  # ICD-10 as written, upper case without spaces (e.g. "J06.9" or "J069")
    principal: bool
    text: str = ""  # the record's own Vietnamese wording, when it gives one
    system: str = "icd10"  # "icd10" or "yhct" (traditional medicine, MA_BENH_YHCT)


@dataclass(frozen=True)
class Medication:
    position: int  # STT
    name: str  # TEN_THUOC
    ingredient_code: str = ""  # MA_THUOC (the active-ingredient code; "+"-joined for combinations)
    strength: str = ""  # HAM_LUONG
    route: str = ""  # DUONG_DUNG code, e.g. "1.01" (oral)
    form: str = ""  # DANG_BAO_CHE
    dose: str = ""  # LIEU_DUNG as written
    instructions: str = ""  # CACH_DUNG as written
    quantity: Decimal | None = None  # SO_LUONG
    unit: str = ""  # DON_VI_TINH
    days: int | None = None  # read from the dose ("… * 5 ngày") when it says so
    doctor: str = ""  # MA_BAC_SI
    ordered_at: dt.datetime | None = None  # NGAY_YL
    registration_number: str = ""  # SO_DANG_KY


@dataclass(frozen=True)
class Service:
    """A service, test, imaging study, procedure, bed day or supply of XML3."""

    position: int
    code: str  # MA_DICH_VU (or MA_VAT_TU for a supply)
    name: str  # TEN_DICH_VU (or TEN_VAT_TU)
    group: str = ""  # MA_NHOM: "1" test, "2" imaging, "3" functional test, "8" procedure, "13" exam, ...
    quantity: Decimal | None = None
    unit: str = ""
    department: str = ""  # MA_KHOA
    doctors: tuple[str, ...] = ()  # MA_BAC_SI
    ordered_at: dt.datetime | None = None  # NGAY_YL
    performed_at: dt.datetime | None = None  # NGAY_TH_YL
    result_at: dt.datetime | None = None  # NGAY_KQ


@dataclass(frozen=True)
class Result:
    """One result line of XML4 (a blood count gives several for one XML3 service), or an imaging report."""

    position: int
    service_code: str  # joins Service.code
    name: str  # TEN_CHI_SO (or the service's name for an imaging report)
    indicator_code: str = ""  # MA_CHI_SO
    value: str = ""  # GIA_TRI as written ("5.2", "Âm tính", "<0.5")
    unit: str = ""  # DON_VI_DO
    reference_range: str = ""  # as written, e.g. "3.9 - 6.4" (XML 130 has no field for it: from MO_TA or FHIR)
    low: Decimal | None = None
    high: Decimal | None = None
    abnormal: bool | None = None  # True/False only when the range says so; None when it cannot be told
    description: str = ""  # MO_TA (imaging findings)
    conclusion: str = ""  # KET_LUAN
    result_at: dt.datetime | None = None  # NGAY_KQ
    reader: str = ""  # MA_BS_DOC_KQ


@dataclass(frozen=True)
class CourseNote:
    """A clinical-course entry of XML5."""

    position: int
    note: str  # DIEN_BIEN_LS
    stage: str = ""  # GIAI_DOAN_BENH
    consultation: str = ""  # HOI_CHAN
    surgery: str = ""  # PHAU_THUAT
    at: dt.datetime | None = None  # THOI_DIEM_DBLS
    by: tuple[str, ...] = ()  # NGUOI_THUC_HIEN


@dataclass(frozen=True)
class DischargePaper:
    """XML7, the discharge paper."""

    record_number: str = ""  # SO_LUU_TRU
    department: str = ""  # MA_KHOA_RV
    arrived_at: dt.datetime | None = None
    discharged_at: dt.datetime | None = None
    diagnosis: str = ""  # CHAN_DOAN_RV
    treatment: str = ""  # PP_DIEUTRI
    note: str = ""  # GHI_CHU
    doctor_code: str = ""  # MA_BS
    doctor_name: str = ""  # TEN_BS
    issued_on: dt.date | None = None  # NGAY_CT
    days_off: int | None = None  # SO_NGAY_NGHI
    leave_from: dt.date | None = None  # NGOAITRU_TUNGAY
    leave_to: dt.date | None = None  # NGOAITRU_DENNGAY
    father_name: str = ""
    mother_name: str = ""


@dataclass(frozen=True)
class RecordSummary:
    """XML8, the summary of the medical record (the natural source of a patient's chat summary)."""

    arrived_at: dt.datetime | None = None
    discharged_at: dt.datetime | None = None
    admission_diagnosis: str = ""  # CHAN_DOAN_VAO
    discharge_diagnosis: str = ""  # CHAN_DOAN_RV
    course: str = ""  # QT_BENHLY
    key_results: str = ""  # TOMTAT_KQ
    treatment: str = ""  # PP_DIEUTRI (also read from PP_DIEU_TRI)
    outcome: str = ""  # KET_QUA_DTRI code
    note: str = ""  # GHI_CHU
    issued_on: dt.date | None = None  # NGAY_CT
    father_name: str = ""
    mother_name: str = ""
    guardian: str = ""  # NGUOI_GIAM_HO


@dataclass(frozen=True)
class Referral:
    """XML13, the referral paper (QĐ 3176 names tolerated: MA_CSKCB_DI / MA_CSKCB_DEN / TINH_TRANG_CT)."""

    number: str = ""  # SO_CHUYENTUYEN
    from_facility: str = ""  # MA_NOI_DI / MA_CSKCB_DI
    to_facility: str = ""  # MA_NOI_DEN / MA_CSKCB_DEN
    clinical_signs: str = ""  # DAU_HIEU_LS
    diagnosis: str = ""  # CHAN_DOAN_RV
    course: str = ""  # QT_BENHLY
    key_results: str = ""  # TOMTAT_KQ
    treatment: str = ""  # PP_DIEUTRI
    condition: str = ""  # PP_DIEU_TRI (130/4750) / TINH_TRANG_CT (3176): the state at transfer
    reason_code: str = ""  # MA_LYDO_CT
    direction: str = ""  # HUONG_DIEU_TRI
    transport: str = ""  # PHUONGTIEN_VC
    escort: str = ""  # HOTEN_NGUOI_HT
    doctor: str = ""  # MA_BAC_SI
    issued_at: dt.datetime | None = None  # NGAY_RA of the referral (the day it was written)


@dataclass(frozen=True)
class ReExamSlip:
    """XML14, the re-exam appointment slip."""

    due_date: dt.date  # NGAY_HEN_KL (12 characters in QĐ 4750, 8 after QĐ 3176)
    number: str = ""  # SO_GIAYHEN_KL
    facility_code: str = ""  # MA_CSKCB
    due_time: dt.time | None = None  # when the 12-character form gives a time other than 00:00
    diagnosis: str = ""  # CHAN_DOAN_RV
    principal_code: str = ""  # MA_BENH_CHINH
    doctor: str = ""  # MA_BAC_SI
    issued_on: dt.date | None = None  # NGAY_CT


@dataclass(frozen=True)
class VisitRecord:
    """One visit (encounter) of one facility, keyed by the facility's 5-digit code and MA_LK."""

    facility_code: str  # MA_CSKCB
    visit_key: str  # MA_LK
    identity: Identity
    kind: VisitKind
    care_type_code: str = ""  # MA_LOAI_KCB as written ("01"…"10")
    arrived_at: dt.datetime | None = None  # NGAY_VAO
    admitted_at: dt.datetime | None = None  # NGAY_VAO_NOI_TRU
    discharged_at: dt.datetime | None = None  # NGAY_RA
    departments: tuple[str, ...] = ()  # MA_KHOA
    doctors: tuple[str, ...] = ()  # every MA_BAC_SI of the visit, first seen first
    reason: str = ""  # LY_DO_VV
    admission_diagnosis: str = ""  # CHAN_DOAN_VAO
    discharge_diagnosis: str = ""  # CHAN_DOAN_RV
    diagnoses: tuple[Diagnosis, ...] = ()  # principal first (MA_BENH_CHINH), then MA_BENH_KT, then YHCT
    treatment: str = ""  # PP_DIEU_TRI
    outcome: str = ""  # KET_QUA_DTRI code ("1" khỏi … "8")
    discharge_type: str = ""  # MA_LOAI_RV code ("1" ra viện, "2" chuyển tuyến, …)
    advice: str = ""  # GHI_CHU: the doctor's advice
    medical_record_number: str = ""  # MA_HSBA
    re_exam_dates: tuple[dt.date, ...] = ()  # XML1 NGAY_TAI_KHAM
    medications: tuple[Medication, ...] = ()
    services: tuple[Service, ...] = ()
    results: tuple[Result, ...] = ()
    course: tuple[CourseNote, ...] = ()
    discharge: DischargePaper | None = None
    summary: RecordSummary | None = None
    referral: Referral | None = None
    re_exam: ReExamSlip | None = None


@dataclass(frozen=True)
class Immunization:
    """A vaccination (from FHIR Immunization: XML 130 has none). Unique by its source identifier."""

    identifier: str  # "<system>|<value>" of the source resource
    vaccine_name: str
    occurred_on: dt.date
    vaccine_code: str = ""
    vaccine_system: str = ""
    dose_number: str = ""
    lot_number: str = ""
    facility_code: str = ""
    status: str = "completed"


@dataclass(frozen=True)
class Allergy:
    """An allergy or intolerance (from FHIR AllergyIntolerance: XML 130 has none)."""

    identifier: str  # "<system>|<value>" of the source resource
    substance: str
    code: str = ""
    code_system: str = ""
    reaction: str = ""
    criticality: str = ""  # low / high / unable-to-assess
    clinical_status: str = "active"
    recorded_on: dt.date | None = None


class Section(enum.StrEnum):
    """Sections of a record that can be stated as "none known" rather than left empty."""

    ALLERGIES = "allergies"
    IMMUNIZATIONS = "immunizations"
    MEDICATIONS = "medications"
    PROBLEMS = "problems"


@dataclass(frozen=True)
class PersonRecord:
    """What a FHIR Bundle brings about one person: visits, immunizations, allergies and the sections it states
    as "none known"."""

    identity: Identity
    visits: tuple[VisitRecord, ...] = ()
    immunizations: tuple[Immunization, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    none_known: frozenset[Section] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Problem:
    """Why a visit (or a file) was refused: the table, the field and a reason a records clerk can act on."""

    reason: str
    table: str = ""  # "XML1" … "XML15", "GIAMDINHHS", or a FHIR resource type
    field: str = ""  # the tag or element
    row: int | None = None  # STT of the row, when the problem is in one


@dataclass(frozen=True)
class ParsedVisit:
    """One visit of a file: its record, or the problems that refuse it (facility and key when they could be
    read)."""

    facility_code: str
    visit_key: str
    record: VisitRecord | None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()  # kept visits with something skipped (an unknown table, a bad row)


@dataclass(frozen=True)
class ParsedFile:
    """A submission file read whole: its facility, its visits, and problems that refuse the whole file."""

    facility_code: str
    visits: tuple[ParsedVisit, ...] = ()
    problems: tuple[Problem, ...] = ()
