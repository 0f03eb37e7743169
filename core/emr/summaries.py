"""Record summaries in chat: what a linked Zalo user reads of a person's record, as plain values for the bot.

:func:`chat_record` is the gate and the look-up: the account's link to the person (core.emr.record_access,
which also checks the consent to ``record_summary_chat``), the visit asked for (a button's visit id must be one
of the person's current visits, else an audited refusal :class:`VisitNotInRecord`; a day; a hospital; the
latest by default; section ``tai_kham``: the latest visit with a re-exam date), read with the narrower audited
read of the chat (core.emr.reading.visit_read, channel "zalo": the visits' headers, the chosen visit in full, the
immunizations only for ``tiem_chung``) and the names of facilities and departments, in a handful of queries
whatever the number of visits.

:func:`summarize` turns one visit of a stored record into its summary, without a database: facility, day,
departments, diagnoses in the record's own Vietnamese wording with the ICD-10 code, medications with dose and
how to take them, lab results with value, unit, range and the abnormal mark the lab gave, imaging conclusions,
the doctor's advice (XML1 / XML7 / XML8 GHI_CHU) and the re-exam date. Nothing is interpreted. What
core/emr/exclusions.py excludes is withheld: the whole visit ("please see the doctor") or single result lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import bindparam, select

from core import audit
from core.audit import Actor
from core.booking.models import Department, Hospital
from core.errors import DomainError, InvalidInput
from core.identifiers import mask_identifier
from core.timeutil import local_today, to_local, utcnow
from core.uow import UnitOfWork

from . import icd10
from .consent import SUMMARY
from .exclusions import Exclusions
from .models import Person, Visit
from .persons import survivor
from .reading import StoredRecord, StoredVisit, visit_read
from .record_access import Linked, NotLinked, linked_persons, require_link
from .records import Identity, VisitRecord

SECTIONS = ("chan_doan", "don_thuoc", "xet_nghiem", "chan_doan_hinh_anh", "tiem_chung", "tai_kham")
CHANNEL = "zalo"
MAX_OTHERS = 9
IMAGING_GROUPS = frozenset({"2", "3"})  # MA_NHOM: 2 imaging, 3 functional tests (ECG, endoscopy...)


# --- values --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitRef:
    """A visit as a list item or a header: where and when (departments empty for a withheld visit)."""

    visit_id: int
    facility_code: str
    facility_name: str
    hospital_slug: str | None  # None: a facility that is no henkham hospital
    day: dt.date | None  # the local day the visit began
    departments: tuple[str, ...]  # department names (the hospital's own, by its HIS codes)


@dataclass(frozen=True)
class DiagnosisLine:
    code: str
    name_vi: str  # the record's own wording; else the WHO title (English); "" when neither is known
    principal: bool


@dataclass(frozen=True)
class MedicationLine:
    name: str
    strength: str
    dose: str  # LIEU_DUNG as written
    instructions: str  # CACH_DUNG as written
    quantity: str  # "10", "1.5"; "" when not given
    unit: str
    days: int | None


@dataclass(frozen=True)
class ResultLine:
    name: str
    value: str
    unit: str
    reference_range: str
    abnormal: bool | None  # as the range tells (None: it cannot be told)
    conclusion: str
    description: str = ""  # the findings of an imaging report (MO_TA)


@dataclass(frozen=True)
class VaccineLine:
    name: str
    day: dt.date
    dose_number: str


@dataclass(frozen=True)
class VisitSummary:
    ref: VisitRef
    diagnoses: tuple[DiagnosisLine, ...]
    medications: tuple[MedicationLine, ...]
    lab: tuple[ResultLine, ...]
    imaging: tuple[ResultLine, ...]
    advice: str
    re_exam: dt.date | None
    withheld: bool  # True: an excluded diagnosis; only "please see the doctor" is shown
    withheld_lines: int = 0  # result lines left out (an excluded service)


@dataclass(frozen=True)
class ChatRecord:
    person: Linked
    section: str | None
    visit: VisitSummary | None  # None: section tiem_chung, or no visit on record
    others: tuple[VisitRef, ...]  # the other visits, newest first, at most MAX_OTHERS
    vaccines: tuple[VaccineLine, ...]  # newest first
    masked_ids: tuple[str, ...]  # "CCCD ********2345", "Thẻ BHYT ***********5678"
    total_visits: int = 0


# --- refusals ------------------------------------------------------------------------------------------------


class ChoosePerson(DomainError):
    """The account is linked to several persons and did not say whose record."""

    code = "invalid_input"

    def __init__(self, links: Sequence[Linked]) -> None:
        super().__init__(
            "several linked persons: say whose record",
            "Dạ, anh/chị muốn xem hồ sơ của ai ạ?",
            field="person_id",
        )
        self.links = list(links)


class VisitNotInRecord(DomainError):
    """A visit id (a button's payload) that is no current visit of the person: refused and audited."""

    code = "forbidden"

    def __init__(self) -> None:
        super().__init__(
            "that visit is not in this person's record",
            "Dạ, lần khám này không có trong hồ sơ của anh/chị nên em không mở được ạ.",
        )


class NoVisitFound(DomainError):
    """No visit on the day, at the hospital, or with a re-exam date that was asked for."""

    code = "not_found"

    def __init__(self, message_vi: str) -> None:
        super().__init__("no visit of the record matches", message_vi)


# --- names of places -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Places:
    """Names of facilities (henkham hospitals by facility code) and of their departments (by HIS code)."""

    hospitals: Mapping[str, tuple[int, str, str]] = field(default_factory=dict)  # code -> (id, name, slug)
    departments: Mapping[tuple[int, str], str] = field(default_factory=dict)  # (hospital id, MA_KHOA) -> name

    def facility_name(self, facility_code: str) -> str:
        hospital = self.hospitals.get(facility_code)
        return hospital[1] if hospital else f"Cơ sở khám chữa bệnh {facility_code}"

    def slug(self, facility_code: str) -> str | None:
        hospital = self.hospitals.get(facility_code)
        return hospital[2] if hospital else None

    def department_names(self, facility_code: str, hospital_id: int | None, codes: Iterable[str]) -> tuple[str, ...]:
        """The names of the visit's departments (MA_KHOA), in the visit's order; unknown codes left out."""
        hospital = hospital_id if hospital_id is not None else self.hospitals.get(facility_code, (None,))[0]
        if hospital is None:
            return ()
        names = (self.departments.get((hospital, code.strip().upper())) for code in codes)
        return tuple(dict.fromkeys(name for name in names if name))


_PLACES = (
    select(Hospital.id, Hospital.name, Hospital.slug, Hospital.facility_code, Department.name, Department.his_codes)
    .outerjoin(Department, (Department.hospital_id == Hospital.id) & (Department.his_codes != ""))
    .where(Hospital.facility_code.in_(bindparam("codes", expanding=True)))
    .order_by(Hospital.id, Department.id)
)


def load_places(session, facility_codes: Iterable[str]) -> Places:
    """The names for these facilities: one query."""
    codes = sorted(set(facility_codes))
    if not codes:
        return Places()
    hospitals: dict[str, tuple[int, str, str]] = {}
    departments: dict[tuple[int, str], str] = {}
    for hospital_id, hospital_name, slug, facility_code, name, his_codes in session.execute(_PLACES, {"codes": codes}):
        hospitals[facility_code] = (hospital_id, hospital_name, slug)
        for code in (his_codes or "").split(";"):
            if code.strip():
                departments.setdefault((hospital_id, code.strip().upper()), name)
    return Places(hospitals, departments)


# --- the pure part -------------------------------------------------------------------------------------------


def visit_day(record: VisitRecord) -> dt.date | None:
    """The local day the visit began."""
    at = record.arrived_at or record.admitted_at or record.discharged_at
    return to_local(at).date() if at is not None else None


def _last_day(record: VisitRecord) -> dt.date | None:
    at = record.discharged_at or record.admitted_at or record.arrived_at
    return to_local(at).date() if at is not None else None


def withheld(record: VisitRecord, exclusions: Exclusions) -> bool:
    """True when the visit has an excluded diagnosis (by code, or a word of its wording)."""
    codes = [d.code for d in record.diagnoses if d.system == "icd10"]
    if record.re_exam is not None and record.re_exam.principal_code:
        codes.append(record.re_exam.principal_code)
    if any(exclusions.code_excluded(code) for code in codes):
        return True
    texts = [d.text for d in record.diagnoses]
    texts += [record.admission_diagnosis, record.discharge_diagnosis]
    if record.discharge is not None:
        texts.append(record.discharge.diagnosis)
    if record.summary is not None:
        texts += [record.summary.admission_diagnosis, record.summary.discharge_diagnosis]
    if record.referral is not None:
        texts.append(record.referral.diagnosis)
    if record.re_exam is not None:
        texts.append(record.re_exam.diagnosis)
    return exclusions.names_excluded(*texts)


def visit_ref(
    meta: StoredVisit, record: VisitRecord, places: Places, exclusions: Exclusions
) -> tuple[VisitRef, bool, Exclusions]:
    """The visit's reference, whether it is withheld, and the exclusions in force for it (its hospital's)."""
    slug = places.slug(meta.facility_code)
    rules = exclusions.at(slug)
    hidden = withheld(record, rules)
    departments = () if hidden else places.department_names(meta.facility_code, meta.hospital_id, record.departments)
    ref = VisitRef(
        visit_id=meta.visit_id,
        facility_code=meta.facility_code,
        facility_name=places.facility_name(meta.facility_code),
        hospital_slug=slug,
        day=visit_day(record),
        departments=departments,
    )
    return ref, hidden, rules


def re_exam_date(record: VisitRecord, today: dt.date) -> dt.date | None:
    """The XML14 slip's due date, else the XML1 NGAY_TAI_KHAM date: the first from today on, else the last."""
    if record.re_exam is not None:
        return record.re_exam.due_date
    dates = sorted(record.re_exam_dates)
    if not dates:
        return None
    return next((d for d in dates if d >= today), dates[-1])


def _quantity(value: Decimal | None) -> str:
    if value is None:
        return ""
    return format(value.normalize(), "f")


def _diagnosis(code: str, text: str, principal: bool) -> DiagnosisLine:
    return DiagnosisLine(code=code, name_vi=text or icd10.english_name(code), principal=principal)


def _advice(record: VisitRecord) -> str:
    notes = [record.advice]
    if record.discharge is not None:
        notes.append(record.discharge.note)
    if record.summary is not None:
        notes.append(record.summary.note)
    return "\n".join(dict.fromkeys(note.strip() for note in notes if note and note.strip()))


def summarize(
    stored: StoredRecord, visit_id: int, *, places: Places, exclusions: Exclusions, today: dt.date
) -> VisitSummary:
    """The summary of the visit ``visit_id`` of ``stored`` (KeyError when it is none of its visits)."""
    index = stored.visit_ids.index(visit_id) if visit_id in stored.visit_ids else None
    if index is None:
        raise KeyError(visit_id)
    meta, record = stored.visits[index], stored.record.visits[index]
    ref, hidden, rules = visit_ref(meta, record, places, exclusions)
    due = re_exam_date(record, today)
    if hidden:
        return VisitSummary(ref, (), (), (), (), "", due, withheld=True)
    services = {s.code: s for s in record.services}
    lab: list[ResultLine] = []
    imaging: list[ResultLine] = []
    left_out = 0
    for result in record.results:
        service = services.get(result.service_code)
        service_name = service.name if service is not None else ""
        if rules.service_excluded(result.service_code, result.name, service_name):
            left_out += 1
            continue
        line = ResultLine(
            name=result.name or service_name,
            value=result.value,
            unit=result.unit,
            reference_range=result.reference_range,
            abnormal=result.abnormal,
            conclusion=result.conclusion,
            description=result.description,
        )
        group = service.group if service is not None else ""
        is_imaging = group in IMAGING_GROUPS or (
            not group and not result.value and bool(result.conclusion or result.description)
        )
        (imaging if is_imaging else lab).append(line)
    diagnoses = tuple(_diagnosis(d.code, d.text, d.principal) for d in record.diagnoses)
    medications = tuple(
        MedicationLine(
            name=m.name,
            strength=m.strength,
            dose=m.dose,
            instructions=m.instructions,
            quantity=_quantity(m.quantity),
            unit=m.unit,
            days=m.days,
        )
        for m in record.medications
    )
    return VisitSummary(
        ref, diagnoses, medications, tuple(lab), tuple(imaging), _advice(record), due, False, withheld_lines=left_out
    )


def masked_ids(identity: Identity) -> tuple[str, ...]:
    """The person's identifiers, masked (the last four characters shown)."""
    out = [f"CCCD {mask_identifier(identity.cccd)}"] if identity.cccd else []
    out += [f"Thẻ BHYT {mask_identifier(card)}" for card in identity.insurance_cards]
    return tuple(out)


def vaccines(stored: StoredRecord) -> tuple[VaccineLine, ...]:
    """The person's immunizations (completed ones), newest first."""
    done = [x for x in stored.record.immunizations if x.status in ("completed", "")]
    done.sort(key=lambda x: x.occurred_on, reverse=True)
    return tuple(VaccineLine(x.vaccine_name, x.occurred_on, x.dose_number) for x in done)


def _day_text(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def choose_visit(
    stored: StoredRecord,
    refs: Sequence[VisitRef],
    *,
    section: str | None,
    visit_id: int | None,
    on_day: dt.date | None,
    hospital_slug: str | None,
    today: dt.date,
) -> int | None:
    """The index of the visit to summarise (``refs`` parallel to ``stored.visits``); None for the
    immunizations, or a record without visits. NoVisitFound when a filter matches nothing."""
    if visit_id is not None:
        if visit_id not in stored.visit_ids:  # corrected or withdrawn since the caller checked it
            raise NoVisitFound("Dạ, lần khám này vừa được bệnh viện cập nhật, anh/chị hỏi lại giúp em ạ.")
        return stored.visit_ids.index(visit_id)
    if section == "tiem_chung":
        return None
    candidates = list(range(len(refs)))
    if hospital_slug is not None:
        candidates = [i for i in candidates if refs[i].hospital_slug == hospital_slug]
        if not candidates:
            raise NoVisitFound("Dạ, em không thấy lần khám nào tại bệnh viện này trong hồ sơ ạ.")
    if on_day is not None:
        began = [i for i in candidates if refs[i].day == on_day]
        during = [
            i
            for i in candidates
            if (first := refs[i].day) is not None and first <= on_day <= (_last_day(stored.record.visits[i]) or first)
        ]
        candidates = began or during
        if not candidates:
            raise NoVisitFound(f"Dạ, em không thấy lần khám nào ngày {_day_text(on_day)} trong hồ sơ ạ.")
    if section == "tai_kham":
        candidates = [i for i in candidates if re_exam_date(stored.record.visits[i], today) is not None]
        if not candidates:
            raise NoVisitFound("Dạ, trong hồ sơ chưa có lịch tái khám nào ạ.")
    return candidates[0] if candidates else None


def visit_refs(stored: StoredRecord, places: Places, exclusions: Exclusions) -> list[VisitRef]:
    """The references of the record's visits, in its order."""
    return [
        visit_ref(meta, record, places, exclusions)[0]
        for meta, record in zip(stored.visits, stored.record.visits, strict=True)
    ]


def chat_view(
    stored: StoredRecord,
    person: Linked,
    *,
    places: Places,
    exclusions: Exclusions,
    today: dt.date,
    section: str | None = None,
    visit_id: int | None = None,
    on_day: dt.date | None = None,
    hospital_slug: str | None = None,
    refs: Sequence[VisitRef] | None = None,
) -> ChatRecord:
    """What the chat shows of ``stored`` (pure: the record and the names already read); ``refs``: the
    :func:`visit_refs` of ``stored`` when the caller has them."""
    if refs is None:
        refs = visit_refs(stored, places, exclusions)
    index = choose_visit(
        stored, refs, section=section, visit_id=visit_id, on_day=on_day, hospital_slug=hospital_slug, today=today
    )
    summary = None
    if index is not None:
        summary = summarize(stored, stored.visit_ids[index], places=places, exclusions=exclusions, today=today)
    others = tuple(ref for i, ref in enumerate(refs) if i != index)[:MAX_OTHERS]
    return ChatRecord(
        person=person,
        section=section,
        visit=summary,
        others=others,
        vaccines=vaccines(stored),
        masked_ids=masked_ids(stored.record.identity),
        total_visits=len(refs),
    )


# --- the gate ------------------------------------------------------------------------------------------------


def _refuse(
    uow: UnitOfWork, error: DomainError, reason: str, reader: Actor, kind: str, record_id: int | str, at: dt.datetime
) -> NoReturn:
    """Audit the refused read (outcome "refused", the reason in detail), commit, raise ``error``."""
    audit.record_record_read(
        uow,
        reader,
        kind,
        record_id,
        purpose=SUMMARY,
        channel=CHANNEL,
        detail=f"refused={reason}",
        outcome="refused",
        now=at,
    )
    uow.commit()
    raise error


def _current_visit(uow: UnitOfWork, person_id: int, visit_id: int, reader: Actor, at: dt.datetime) -> int:
    """``visit_id`` when it is a current visit of the person (``person_id`` a survivor); an older version of
    one of its visits reads as the current version. Else refused and audited."""
    session = uow.session
    row = session.execute(
        select(Visit.person_id, Visit.facility_code, Visit.visit_key, Visit.superseded_at, Visit.cancelled_at).where(
            Visit.id == visit_id
        )
    ).first()
    current = visit_id
    if row is not None and row.superseded_at is not None:
        current = session.scalar(
            select(Visit.id).where(
                Visit.facility_code == row.facility_code,
                Visit.visit_key == row.visit_key,
                Visit.superseded_at.is_(None),
                Visit.cancelled_at.is_(None),
            )
        )
    elif row is not None and row.cancelled_at is not None:
        current = None
    owner = session.get(Person, row.person_id) if row is not None else None
    if current is None or owner is None or survivor(session, owner).id != person_id:
        _refuse(uow, VisitNotInRecord(), "visit_not_in_record", reader, "emr_visit", visit_id, at)
    return current


def chat_record(
    uow: UnitOfWork,
    account_id: int,
    *,
    reader: Actor,
    exclusions: Exclusions,
    person_id: int | None = None,
    section: str | None = None,
    visit_id: int | None = None,
    on_day: dt.date | None = None,
    hospital_slug: str | None = None,
    now: dt.datetime | None = None,
) -> ChatRecord:
    """The record summary the account asked for (see the module docstring). Refusals: NotLinked, NotGuardian,
    NoConsent (core.emr.record_access, audited), ChoosePerson (several links, none named), VisitNotInRecord
    (audited), NoVisitFound. The audit rows are committed."""
    at = now or utcnow()
    if section is not None and section not in SECTIONS:
        raise InvalidInput(f"unknown section {section[:30]!r}", "Dạ, em chưa hiểu anh/chị muốn xem phần nào ạ.")
    links = linked_persons(uow, account_id, now=at)
    if person_id is None:
        if len(links) > 1:
            raise ChoosePerson(links)
        if not links:
            _refuse(uow, NotLinked(), NotLinked.code, reader, "emr_person", "", at)
        person_id = links[0].person_id
    person = require_link(uow, account_id, person_id, reader=reader, purpose=SUMMARY, now=at, links=links)
    if visit_id is not None:
        visit_id = _current_visit(uow, person.person_id, visit_id, reader, at)
    today = local_today(at)
    found: dict[str, Any] = {}

    def choose(headers: StoredRecord) -> int | None:
        places = found["places"] = load_places(uow.session, (v.facility_code for v in headers.visits))
        refs = found["refs"] = visit_refs(headers, places, exclusions)
        index = choose_visit(
            headers, refs, section=section, visit_id=visit_id, on_day=on_day, hospital_slug=hospital_slug, today=today
        )
        return headers.visit_ids[index] if index is not None else None

    stored, chosen = visit_read(
        uow,
        person.person_id,
        choose,
        immunizations=section == "tiem_chung",
        reader=reader,
        purpose=SUMMARY,
        channel=CHANNEL,
        now=at,
    )
    places = found.get("places") or Places()
    refs = found.get("refs")
    view = chat_view(
        stored,
        person,
        places=places,
        exclusions=exclusions,
        today=today,
        section=section,
        visit_id=chosen if chosen is not None else visit_id,
        on_day=on_day,
        hospital_slug=hospital_slug,
        refs=refs,
    )
    if not uow.read_only:
        uow.commit()
    return view
