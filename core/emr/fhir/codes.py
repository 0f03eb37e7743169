"""The identifier systems and code systems the exchange uses (what another system must know to read us).

Identifiers (``Identifier.system``):

- ``urn:vn:cccd`` — the 12-digit personal identification number (CCCD);
- ``urn:vn:bhyt`` — a health-insurance (BHYT) card number as written on the card (15 characters, or the
  10-digit number, or since 2025 the CCCD);
- ``urn:vn:bhxh`` — the 10-digit social-insurance number inside the card (what the master patient index uses);
- ``urn:vn:cskcb`` — a facility's 5-digit code (mã CSKCB), on Organization;
- ``urn:vn:cskcb:<code>:ma-bn`` — the facility's own patient code (MA_BN), on Patient;
- ``urn:vn:cskcb:<code>:ma-lk`` — the visit link key (MA_LK), on Encounter: the visit's identity;
- ``urn:vn:cskcb:<code>:ma-hsba`` — the medical-record number (MA_HSBA), on Encounter;
- ``urn:vn:cskcb:<code>:ma-khoa`` — a department (MA_KHOA), on Encounter.location (a logical reference);
- ``urn:vn:cskcb:<code>:so-giayhen-kl`` — the re-exam slip number (XML14 SO_GIAYHEN_KL), on Appointment;
- ``urn:vn:byt:ma-bac-si`` — a practitioner's code (MA_BAC_SI, the practising-certificate number);
- ``https://henkham.vn/fhir/sid/booking-code`` — a henkham booking code, on Appointment;
- ``https://henkham.vn/fhir/sid/re-exam`` — a re-exam date of henkham's reminders, on Appointment.

Code systems: ICD-10 ``http://hl7.org/fhir/sid/icd-10`` (the national table's codes as the record writes them),
traditional-medicine codes ``urn:vn:byt:yhct``, drug active-ingredient codes ``urn:vn:byt:ma-thuoc``, routes
``urn:vn:byt:duong-dung``, service codes ``urn:vn:byt:ma-dich-vu``, result indicator codes
``urn:vn:byt:ma-chi-so``, discharge types (MA_LOAI_RV) ``urn:vn:byt:ma-loai-rv``.
"""

from __future__ import annotations

from core.booking.vocabulary import AppointmentStatus
from core.emr.records import Section, VisitKind

from .fields import BASE_URL

CCCD = "urn:vn:cccd"
BHYT = "urn:vn:bhyt"
BHXH = "urn:vn:bhxh"
CSKCB = "urn:vn:cskcb"
DOCTOR = "urn:vn:byt:ma-bac-si"
BOOKING_CODE = f"{BASE_URL}/sid/booking-code"
RE_EXAM_ID = f"{BASE_URL}/sid/re-exam"


def his_patient_system(facility: str) -> str:
    return f"urn:vn:cskcb:{facility}:ma-bn"


def visit_system(facility: str) -> str:
    return f"urn:vn:cskcb:{facility}:ma-lk"


def record_number_system(facility: str) -> str:
    return f"urn:vn:cskcb:{facility}:ma-hsba"


def department_system(facility: str) -> str:
    return f"urn:vn:cskcb:{facility}:ma-khoa"


def slip_system(facility: str) -> str:
    return f"urn:vn:cskcb:{facility}:so-giayhen-kl"


def facility_of(system: str, suffix: str) -> str | None:
    """The facility code of a ``urn:vn:cskcb:<code>:<suffix>`` system, or None."""
    prefix = "urn:vn:cskcb:"
    if system.startswith(prefix) and system.endswith(":" + suffix):
        return system[len(prefix) : -len(suffix) - 1]
    return None


ICD10 = "http://hl7.org/fhir/sid/icd-10"
YHCT = "urn:vn:byt:yhct"
DIAGNOSIS_SYSTEMS = {"icd10": ICD10, "yhct": YHCT}
INGREDIENT = "urn:vn:byt:ma-thuoc"
ROUTE = "urn:vn:byt:duong-dung"
SERVICE = "urn:vn:byt:ma-dich-vu"
INDICATOR = "urn:vn:byt:ma-chi-so"
DISCHARGE_TYPE = "urn:vn:byt:ma-loai-rv"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
DIAGNOSIS_RANK = f"{BASE_URL}/CodeSystem/diagnosis-rank"  # principal / secondary, beside diagnosis-role
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
LIST_EMPTY = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
IPS_ABSENT = "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips"
APPOINTMENT_SOURCE = f"{BASE_URL}/CodeSystem/appointment-source"

# Encounter.class for each kind (v3 ActCode); a day treatment is a short stay.
CLASS_OF_KIND = {
    VisitKind.OUTPATIENT: "AMB",
    VisitKind.INPATIENT: "IMP",
    VisitKind.EMERGENCY: "EMER",
    VisitKind.DAY_TREATMENT: "SS",
    VisitKind.OTHER: "AMB",  # the record-fields extension says "other"
}
KIND_OF_CLASS = {
    "AMB": VisitKind.OUTPATIENT,
    "IMP": VisitKind.INPATIENT,
    "ACUTE": VisitKind.INPATIENT,
    "NONAC": VisitKind.INPATIENT,
    "EMER": VisitKind.EMERGENCY,
    "SS": VisitKind.DAY_TREATMENT,
}

# henkham's appointment states → FHIR Appointment.status (a confirmed booking is still "booked").
APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED.value: "booked",
    AppointmentStatus.CHECKED_IN.value: "checked-in",
    AppointmentStatus.COMPLETED.value: "fulfilled",
    AppointmentStatus.CANCELLED.value: "cancelled",
    AppointmentStatus.NO_SHOW.value: "noshow",
}

# Where an Appointment comes from (Appointment.serviceCategory, henkham's code system).
SOURCE_NEXT_VISIT = "ngay-tai-kham"  # XML1 NGAY_TAI_KHAM of a visit
SOURCE_SLIP = "giay-hen-kham-lai"  # the XML14 re-exam slip of a visit
SOURCE_BOOKING = "booking"  # a henkham booking
SOURCE_REMINDER = "re-exam-reminder"  # a re-exam date of henkham's reminders

# IPS sections (LOINC) and the "none known" codes of their entries.
SECTION_LOINC = {
    Section.PROBLEMS: "11450-4",
    Section.ALLERGIES: "48765-2",
    Section.MEDICATIONS: "10160-0",
    Section.IMMUNIZATIONS: "11369-6",
}
SECTION_OF_LOINC = {code: section for section, code in SECTION_LOINC.items()}
RESULTS_LOINC = "30954-2"
PATIENT_SUMMARY_LOINC = "60591-5"
NO_KNOWN_ALLERGY_SNOMED = "716186003"
NO_KNOWN_IPS = {
    Section.ALLERGIES: "no-known-allergies",
    Section.MEDICATIONS: "no-known-medications",
    Section.PROBLEMS: "no-known-problems",
}
# Codes that state "none known" in an entry, as other systems write them.
NONE_KNOWN_CODES = {
    (IPS_ABSENT, "no-known-allergies"): Section.ALLERGIES,
    (IPS_ABSENT, "no-known-medication-allergies"): Section.ALLERGIES,
    (IPS_ABSENT, "no-known-medications"): Section.MEDICATIONS,
    (IPS_ABSENT, "no-known-problems"): Section.PROBLEMS,
    (SNOMED, NO_KNOWN_ALLERGY_SNOMED): Section.ALLERGIES,
    (SNOMED, "409137002"): Section.ALLERGIES,  # no known drug allergy
    (SNOMED, "160245001"): Section.PROBLEMS,  # no current problems or disability
}
