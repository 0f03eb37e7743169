"""The record store: persons (the deployment's master patient index), visits per facility and MA_LK with their
diagnoses, medications, services, results, clinical course, papers and re-exam slips, versioned on re-import;
person-level immunizations, allergies and "none known" statements; imports with their per-visit report.

A visit row is one *version*: a corrected re-import adds a new version (``current``) and marks the old one
``superseded_at``; the old one keeps its children, for audit. Identifiers are stored as written (normalised);
they are masked wherever they are shown or logged.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.timeutil import utcnow


class Person(Base):
    """One human across every hospital of the deployment. ``merged_into_id`` is set when records staff
    confirmed that this person is another one (their visits then belong to that one)."""

    __tablename__ = "emr_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255), index=True)  # lower case, no diacritics, single spaces
    birth_year: Mapped[int | None] = mapped_column(Integer)
    birth_month: Mapped[int | None] = mapped_column(Integer)
    birth_day: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(10))
    cccd: Mapped[str | None] = mapped_column(String(20))
    social_insurance_number: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164; indexed for the chat phone check
    address: Mapped[str] = mapped_column(String(1024), default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdentifierKind(enum.StrEnum):
    CCCD = "cccd"  # national personal id (facility "")
    SOCIAL_INSURANCE = "sin"  # the 10-digit social-insurance number inside a BHYT card (facility "")
    HIS_PATIENT = "his"  # a facility's own patient code, MA_BN (facility: its 5-digit code)


class PersonIdentifier(Base):
    """The index: an identifier belongs to at most one person (a conflicting holder gets none, and a match to
    review instead)."""

    __tablename__ = "emr_person_identifiers"
    __table_args__ = (
        UniqueConstraint("kind", "facility_code", "value"),
        Index("ix_emr_person_identifiers_person_kind", "person_id", "kind"),  # a person's CCCDs / numbers (0011)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    facility_code: Mapped[str] = mapped_column(String(5), default="")
    value: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MatchKind(enum.StrEnum):
    CANDIDATE = "candidate"  # same name, birth date and sex, no shared identifier: never merged automatically
    CCCD_CONFLICT = "cccd_conflict"  # same CCCD, different birth date (or sex)
    CARD_CONFLICT = "card_conflict"  # same social-insurance number, different name or birth date


class MatchStatus(enum.StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"  # the same person: merged
    REJECTED = "rejected"  # two people: kept apart, not proposed again


class PersonMatch(Base):
    """A possible identity of two persons for records staff to confirm or reject."""

    __tablename__ = "emr_person_matches"
    __table_args__ = (UniqueConstraint("person_id", "other_person_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    other_person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(300), default="")  # what agrees and what differs (no identifiers)
    status: Mapped[str] = mapped_column(String(10), default=MatchStatus.OPEN.value, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(80))


class ProfileLink(Base):
    """A booking profile (core.booking patients) that is this person, found by CCCD or insurance number."""

    __tablename__ = "emr_profile_links"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    matched_by: Mapped[str] = mapped_column(String(10))  # "cccd" / "sin"
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Import(Base):
    """One imported file (or API body): where it came from and what became of each visit."""

    __tablename__ = "emr_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    format: Mapped[str] = mapped_column(String(10))  # "xml130" / "fhir"
    channel: Mapped[str] = mapped_column(String(10))  # "cli" / "api" / "inbox" / "demo"
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))  # the importing key's hospital
    actor: Mapped[str] = mapped_column(String(80), default="")
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list | None] = mapped_column(JSON)  # file-level problems
    raw_deleted_at: Mapped[dt.datetime | None] = mapped_column()


class ImportFile(Base):
    """The raw bytes of an import, kept for the configured retention then deleted (the parsed record stays)."""

    __tablename__ = "emr_import_files"

    import_id: Mapped[int] = mapped_column(ForeignKey("emr_imports.id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ImportOutcome(enum.StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


class ImportItem(Base):
    """The report line of one visit of an import."""

    __tablename__ = "emr_import_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("emr_imports.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    facility_code: Mapped[str] = mapped_column(String(5), default="")
    visit_key: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(10))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("emr_visits.id"))
    problems: Mapped[list | None] = mapped_column(JSON)  # [{"table", "field", "row", "reason"}], warnings too


class Visit(Base):
    """One version of one visit (encounter) of a facility, keyed by facility code and MA_LK."""

    __tablename__ = "emr_visits"
    __table_args__ = (
        UniqueConstraint("facility_code", "visit_key", "version"),
        # At most one current version per visit: the constraint that makes concurrent imports of one visit safe.
        Index(
            "uq_emr_visits_current",
            "facility_code",
            "visit_key",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
            sqlite_where=text("superseded_at IS NULL"),
        ),
        Index("ix_emr_visits_person_arrived", "person_id", "arrived_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"))
    facility_code: Mapped[str] = mapped_column(String(5))
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"), index=True)
    visit_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))  # of the normalised record: same hash, same visit
    source: Mapped[str] = mapped_column(String(10))  # "xml130" / "fhir"
    import_id: Mapped[int | None] = mapped_column(ForeignKey("emr_imports.id"))
    identity: Mapped[dict] = mapped_column(JSON)  # the Identity as the facility wrote it (for review and merges)
    kind: Mapped[str] = mapped_column(String(15))
    care_type_code: Mapped[str] = mapped_column(String(2), default="")
    arrived_at: Mapped[dt.datetime | None] = mapped_column()
    admitted_at: Mapped[dt.datetime | None] = mapped_column()
    discharged_at: Mapped[dt.datetime | None] = mapped_column()
    departments: Mapped[str] = mapped_column(String(255), default="")  # ";"-joined MA_KHOA
    doctors: Mapped[str] = mapped_column(Text, default="")  # ";"-joined
    reason: Mapped[str] = mapped_column(Text, default="")
    admission_diagnosis: Mapped[str] = mapped_column(Text, default="")
    discharge_diagnosis: Mapped[str] = mapped_column(Text, default="")
    treatment: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(2), default="")
    discharge_type: Mapped[str] = mapped_column(String(2), default="")
    advice: Mapped[str] = mapped_column(Text, default="")
    medical_record_number: Mapped[str] = mapped_column(String(100), default="")
    re_exam_dates: Mapped[str] = mapped_column(String(100), default="")  # ";"-joined ISO dates (XML1)
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()  # the facility withdrew the visit


class Diagnosis(Base):
    __tablename__ = "emr_diagnoses"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(20))
    principal: Mapped[bool] = mapped_column()
    system: Mapped[str] = mapped_column(String(10), default="icd10")
    text: Mapped[str] = mapped_column(Text, default="")
    known_code: Mapped[bool] = mapped_column(default=True)  # found in the ICD-10 table


class Medication(Base):
    __tablename__ = "emr_medications"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(1024))
    ingredient_code: Mapped[str] = mapped_column(String(255), default="")
    strength: Mapped[str] = mapped_column(String(1024), default="")
    route: Mapped[str] = mapped_column(String(20), default="")
    form: Mapped[str] = mapped_column(String(1024), default="")
    dose: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[float | None] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(50), default="")
    days: Mapped[int | None] = mapped_column(Integer)
    doctor: Mapped[str] = mapped_column(String(255), default="")
    ordered_at: Mapped[dt.datetime | None] = mapped_column()
    registration_number: Mapped[str] = mapped_column(String(255), default="")


class Service(Base):
    __tablename__ = "emr_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(1024))
    group: Mapped[str] = mapped_column(String(4), default="")
    quantity: Mapped[float | None] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(50), default="")
    department: Mapped[str] = mapped_column(String(50), default="")
    doctors: Mapped[str] = mapped_column(String(255), default="")  # ";"-joined
    ordered_at: Mapped[dt.datetime | None] = mapped_column()
    performed_at: Mapped[dt.datetime | None] = mapped_column()
    result_at: Mapped[dt.datetime | None] = mapped_column()


class Result(Base):
    __tablename__ = "emr_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    service_code: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(1024))
    indicator_code: Mapped[str] = mapped_column(String(255), default="")
    value: Mapped[str] = mapped_column(String(255), default="")
    unit: Mapped[str] = mapped_column(String(50), default="")
    reference_range: Mapped[str] = mapped_column(String(255), default="")
    low: Mapped[float | None] = mapped_column(Numeric(18, 6))
    high: Mapped[float | None] = mapped_column(Numeric(18, 6))
    abnormal: Mapped[bool | None] = mapped_column()
    description: Mapped[str] = mapped_column(Text, default="")
    conclusion: Mapped[str] = mapped_column(Text, default="")
    result_at: Mapped[dt.datetime | None] = mapped_column()
    reader: Mapped[str] = mapped_column(String(255), default="")


class CourseNote(Base):
    __tablename__ = "emr_course_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text, default="")
    consultation: Mapped[str] = mapped_column(Text, default="")
    surgery: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime | None] = mapped_column()
    by: Mapped[str] = mapped_column(String(255), default="")  # ";"-joined


class DocumentKind(enum.StrEnum):
    DISCHARGE = "discharge"  # XML7
    SUMMARY = "summary"  # XML8
    REFERRAL = "referral"  # XML13


class Document(Base):
    """A paper of the visit (discharge paper, record summary, referral): the fields of its record value
    (core.emr.records DischargePaper / RecordSummary / Referral) as JSON, dates in ISO form."""

    __tablename__ = "emr_documents"
    __table_args__ = (UniqueConstraint("visit_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"))
    kind: Mapped[str] = mapped_column(String(10))
    body: Mapped[dict] = mapped_column(JSON)


class ReExamSlip(Base):
    """XML14: the re-exam appointment slip. The live one of a current visit feeds core.reminders' re-exams."""

    __tablename__ = "emr_reexam_slips"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"), unique=True)
    due_date: Mapped[dt.date] = mapped_column(index=True)
    due_time: Mapped[dt.time | None] = mapped_column()
    number: Mapped[str] = mapped_column(String(50), default="")
    facility_code: Mapped[str] = mapped_column(String(5), default="")
    diagnosis: Mapped[str] = mapped_column(Text, default="")
    principal_code: Mapped[str] = mapped_column(String(20), default="")
    doctor: Mapped[str] = mapped_column(String(255), default="")
    issued_on: Mapped[dt.date | None] = mapped_column()


class Immunization(Base):
    __tablename__ = "emr_immunizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(300), unique=True)  # "<system>|<value>" of the source
    vaccine_name: Mapped[str] = mapped_column(String(255))
    vaccine_code: Mapped[str] = mapped_column(String(50), default="")
    vaccine_system: Mapped[str] = mapped_column(String(255), default="")
    occurred_on: Mapped[dt.date] = mapped_column()
    dose_number: Mapped[str] = mapped_column(String(20), default="")
    lot_number: Mapped[str] = mapped_column(String(50), default="")
    facility_code: Mapped[str] = mapped_column(String(5), default="")
    status: Mapped[str] = mapped_column(String(20), default="completed")
    import_id: Mapped[int | None] = mapped_column(ForeignKey("emr_imports.id"))


class Allergy(Base):
    __tablename__ = "emr_allergies"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(300), unique=True)
    substance: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(50), default="")
    code_system: Mapped[str] = mapped_column(String(255), default="")
    reaction: Mapped[str] = mapped_column(String(255), default="")
    criticality: Mapped[str] = mapped_column(String(20), default="")
    clinical_status: Mapped[str] = mapped_column(String(20), default="active")
    recorded_on: Mapped[dt.date | None] = mapped_column()
    import_id: Mapped[int | None] = mapped_column(ForeignKey("emr_imports.id"))


class NoneKnown(Base):
    """A source's statement that a section of the person's record is empty ("no known allergies")."""

    __tablename__ = "emr_none_known"
    __table_args__ = (UniqueConstraint("person_id", "section"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"))
    section: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(80), default="")
    asserted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReaderLink(Base):
    """A booking account (a Zalo user of one OA) allowed to read a person's record in chat: the person
    themself (``relation`` "self") or a child's guardian ("guardian"), verified by a one-time code sent to the
    phone on record ("otp") or by staff who saw the CCCD ("desk"). Removed links keep their row (audit)."""

    __tablename__ = "emr_reader_links"
    __table_args__ = (
        Index(
            "uq_emr_reader_links_live",
            "account_id",
            "person_id",
            unique=True,
            postgresql_where=text("removed_at IS NULL"),
            sqlite_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("emr_persons.id"), index=True)
    relation: Mapped[str] = mapped_column(String(10))  # "self" / "guardian"
    verified_by: Mapped[str] = mapped_column(String(10))  # "otp" / "desk"
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))  # the desk's hospital
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    removed_at: Mapped[dt.datetime | None] = mapped_column()
    removed_by: Mapped[str | None] = mapped_column(String(80))


class CodeChallenge(Base):
    """A one-time code given to an account: an OTP sent to a phone ("otp") or a desk code shown in chat
    ("desk"). Only the code's digest is stored, never the code."""

    __tablename__ = "emr_code_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "otp" / "desk"
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, the verified phone (otp)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column()  # used, replaced or killed
    locked_until: Mapped[dt.datetime | None] = mapped_column()  # set by the last wrong try


class ConsentDecision(Base):
    """An account's decision on a purpose (append-only: the current decision is the latest row)."""

    __tablename__ = "emr_consents"
    __table_args__ = (Index("ix_emr_consents_account_purpose", "account_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool] = mapped_column()
    text_version: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ResultNoticeRow(Base):
    """The one "your results are ready" notice of a visit version to an account (exactly once)."""

    __tablename__ = "emr_result_notices"
    __table_args__ = (UniqueConstraint("visit_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("emr_visits.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
