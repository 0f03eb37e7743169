"""Closures by a hospital admin: which bookings a closure would hit, and closing with the patients told.

``close`` adds the closure (or finds the identical one a retried request already added), stops its slots being
offered, then takes the hit bookings one at a time, each in one transaction: the notice to the patient is queued
through the ``ClosureNotifier`` port (the Zalo channel implements it: bot/zalo_webhook/closure_notices.py) and the
booking is cancelled by the hospital with the reason, committed together. So a retry, a double click or a crash
half-way never tells a patient twice nor cancels a booking silently: a booking already cancelled is no longer
hit, and the outbox's idempotency key (``closure:<closure id>:<appointment id>``) refuses a second copy.

The notice offers the nearest free slots of the same department (the first open day after the closure, the
times nearest the visit's); a button books one of them for the same patient (``rebook``), once per cancelled booking.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, Select, select, update

from core import audit
from core.errors import Conflict, DomainError, InvalidInput, NotFound
from core.identifiers import mask_phone
from core.timeutil import local_today, to_local, utcnow
from core.uow import UnitOfWork

from . import appointments
from .models import (
    ACCOUNTS,
    APPOINTMENTS,
    PATIENTS,
    AppointmentStatus,
    CancelledBy,
    Closure,
    Department,
    Doctor,
    Slot,
)
from .slots import SEARCH_LIMIT, nearest_to, offer_slots, search_slots
from .views import AppointmentView, SlotView

OFFERED_SLOTS = 3  # slot buttons in the notice (with "another time" and "staff": Zalo shows 5)
MAX_DAYS = 366
LOOK_AHEAD_DAYS = 7  # how far after a closure the notice looks for a free day before it offers any
CHANNEL = "console"


class ClosureReason(enum.StrEnum):
    HOLIDAY = "holiday"
    DOCTOR_AWAY = "doctor_away"
    OTHER = "other"


REASONS_VI = {
    ClosureReason.HOLIDAY: "Nghỉ lễ",
    ClosureReason.DOCTOR_AWAY: "Bác sĩ vắng",
    ClosureReason.OTHER: "Lý do khác",
}
# How the reason reads inside the patient's message ("… phải hủy vì bệnh viện nghỉ lễ").
REASONS_FOR_PATIENT = {
    ClosureReason.HOLIDAY: "bệnh viện nghỉ lễ",
    ClosureReason.DOCTOR_AWAY: "bác sĩ vắng mặt",
    ClosureReason.OTHER: "bệnh viện có thay đổi lịch khám",
}


@dataclass(frozen=True)
class ClosureRequest:
    """A closure as the admin asks for it: the whole hospital, a department, or one doctor; one day or a range."""

    start: dt.date
    end: dt.date
    reason: str  # a ClosureReason value
    note: str = ""
    department_id: int | None = None
    doctor_id: int | None = None

    @property
    def stored_reason(self) -> str:
        label = REASONS_VI.get(ClosureReason(self.reason), self.reason)
        return f"{label}: {self.note.strip()}" if self.note.strip() else label

    @property
    def patient_reason(self) -> str:
        return REASONS_FOR_PATIENT[ClosureReason(self.reason)]


@dataclass(frozen=True)
class ClosureView:
    id: int
    start: dt.date
    end: dt.date
    reason: str
    department_name: str | None
    doctor_name: str | None

    @property
    def scope_vi(self) -> str:
        if self.doctor_name:
            return f"Bác sĩ {self.doctor_name}"
        return f"Khoa {self.department_name}" if self.department_name else "Toàn bệnh viện"


@dataclass(frozen=True)
class HitBooking:
    """A live booking a closure would cancel, as the confirmation page lists it (identifiers masked)."""

    appointment_id: int
    code: str
    patient_masked: str
    phone_masked: str
    start: dt.datetime  # local time
    department_name: str
    doctor: str | None


@dataclass(frozen=True)
class ClosureNotice:
    """One patient to tell: the cancelled visit, why, and the free slots to offer instead."""

    key: str  # unique per closure and appointment: the channel's idempotency key derives from it
    appointment: AppointmentView
    reason: str  # as it reads in the patient's message
    offers: tuple[SlotView, ...]
    account_provider: str
    account_key: str
    phone: str  # E.164


class ClosureNotifier(Protocol):
    def queue(self, uow: UnitOfWork, notice: ClosureNotice, now: dt.datetime) -> bool:
        """Queue the notice in the caller's transaction (not committed); False when the patient cannot be
        reached (no channel serves the hospital)."""


@dataclass(frozen=True)
class CloseResult:
    closure_id: int
    cancelled: int
    notified: int
    skipped: int  # bookings that changed meanwhile (checked in, cancelled by the patient): left as they are


def normalise(uow: UnitOfWork, hospital_id: int, request: ClosureRequest, now: dt.datetime) -> ClosureRequest:
    """Check the request; a doctor's closure takes the doctor's department. Vietnamese reasons for the admin."""
    if request.reason not in {r.value for r in ClosureReason}:
        raise _invalid("reason", "Chọn lý do: nghỉ lễ, bác sĩ vắng hoặc lý do khác.")
    if request.end < request.start:
        raise _invalid("end", "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu.")
    if request.start < local_today(now):
        raise _invalid("start", "Không thể đóng lịch cho ngày đã qua.")
    if (request.end - request.start).days >= MAX_DAYS:
        raise _invalid("end", "Một lần đóng lịch tối đa 366 ngày.")
    if len(request.note) > 150:
        raise _invalid("note", "Ghi chú tối đa 150 ký tự.")
    if request.reason == ClosureReason.OTHER and not request.note.strip():
        raise _invalid("note", "Với lý do khác, hãy ghi rõ lý do.")
    department_id = request.department_id
    if request.doctor_id is not None:
        doctor = uow.session.get(Doctor, request.doctor_id)
        if doctor is None or doctor.hospital_id != hospital_id:
            raise _invalid("doctor_id", "Bác sĩ không thuộc bệnh viện này.")
        if department_id is not None and department_id != doctor.department_id:
            raise _invalid("doctor_id", "Bác sĩ không thuộc khoa đã chọn.")
        department_id = doctor.department_id
    if department_id is not None:
        department = uow.session.get(Department, department_id)
        if department is None or department.hospital_id != hospital_id:
            raise _invalid("department_id", "Khoa không thuộc bệnh viện này.")
    return ClosureRequest(
        start=request.start,
        end=request.end,
        reason=request.reason,
        note=request.note.strip(),
        department_id=department_id,
        doctor_id=request.doctor_id,
    )


def list_closures(uow: UnitOfWork, hospital_id: int, *, now: dt.datetime | None = None) -> list[ClosureView]:
    """The hospital's closures that have not ended yet, soonest first."""
    return _closure_views(uow, Closure.hospital_id == hospital_id, Closure.end_date >= local_today(now))


def get_closure(uow: UnitOfWork, hospital_id: int, closure_id: int) -> ClosureView:
    """One closure of the hospital (another hospital's is not found: its existence is not revealed)."""
    found = _closure_views(uow, Closure.hospital_id == hospital_id, Closure.id == closure_id)
    if not found:
        raise NotFound(f"no closure {closure_id}", "Không tìm thấy lịch nghỉ này.", closure_id=closure_id)
    return found[0]


def _closure_views(uow: UnitOfWork, *conditions: ColumnElement[bool]) -> list[ClosureView]:
    rows = uow.session.execute(
        select(Closure, Department.name, Doctor.full_name)
        .outerjoin(Department, Department.id == Closure.department_id)
        .outerjoin(Doctor, Doctor.id == Closure.doctor_id)
        .where(*conditions)
        .order_by(Closure.start_date, Closure.id)
    ).all()
    return [ClosureView(c.id, c.start_date, c.end_date, c.reason, department, doctor) for c, department, doctor in rows]


def closure_impact(
    uow: UnitOfWork, hospital_id: int, request: ClosureRequest, *, now: dt.datetime | None = None
) -> list[HitBooking]:
    """The live bookings the closure would cancel, in time order (their reads audited)."""
    now = now or utcnow()
    request = normalise(uow, hospital_id, request, now)
    rows = uow.session.execute(_hits(hospital_id, request, now)).all()
    audit.record_reads(uow, "appointment", [row.id for row in rows])
    return [
        HitBooking(
            appointment_id=row.id,
            code=row.code,
            patient_masked=mask_name(row.patient_name),
            phone_masked=mask_phone(row.phone),
            start=to_local(row.starts_at),
            department_name=row.department_name,
            doctor=row.doctor,
        )
        for row in rows
    ]


def close(
    uow: UnitOfWork,
    hospital_id: int,
    request: ClosureRequest,
    notifier: ClosureNotifier,
    *,
    now: dt.datetime | None = None,
) -> CloseResult:
    """Add the closure, then cancel each hit booking by the hospital with the patient told once (see above)."""
    now = now or utcnow()
    request = normalise(uow, hospital_id, request, now)
    closure_id = _add_closure(uow, hospital_id, request)
    uow.commit()
    cancelled = notified = skipped = 0
    for row in uow.session.execute(_hits(hospital_id, request, now)).all():
        view = AppointmentView.from_row(row)
        notice = ClosureNotice(
            key=f"closure:{closure_id}:{row.id}",
            appointment=view,
            reason=request.patient_reason,
            offers=_offers(uow, view, request.end, now),
            account_provider=row.account_provider,
            account_key=row.account_key,
            phone=row.phone,
        )
        queued = notifier.queue(uow, notice, now)
        try:
            done = appointments.cancel(
                uow,
                row.code,
                by=CancelledBy.HOSPITAL.value,
                channel=CHANNEL,
                reason=request.stored_reason,
                hospital_id=hospital_id,
                now=now,
            )  # commits the cancellation and the queued notice together
        except DomainError:
            done = None
        if done is None or done.cancelled_by != CancelledBy.HOSPITAL or done.cancel_reason != request.stored_reason:
            uow.rollback()  # it changed meanwhile (checked in, cancelled by the patient): no notice either
            skipped += 1
            continue
        cancelled += 1
        notified += int(queued)
    return CloseResult(closure_id, cancelled, notified, skipped)


def rebook(
    uow: UnitOfWork, code: str, slot_id: int, *, account_id: int, channel: str, now: dt.datetime | None = None
) -> AppointmentView:
    """Book one of the slots a closure notice offered, for the patient of the cancelled booking ``code``.

    Once per cancelled booking: a second tap (another offered slot, or the same one again) returns the booking
    the first one made. The booking rules apply as to any booking (the slot free, in the same department)."""
    row = appointments.find_appointment_row(uow, code, account_id)
    if row.status != AppointmentStatus.CANCELLED or row.cancelled_by != CancelledBy.HOSPITAL:
        raise Conflict(
            "only a booking the hospital cancelled can be booked again this way",
            f"Dạ, lịch hẹn {row.code} vẫn còn hiệu lực nên không cần đặt lại ạ.",
        )
    view, _created = appointments.book(
        uow,
        appointments.BookingRequest(
            slot_id=slot_id,
            patient_id=row.patient_id,
            channel=channel,
            account_id=account_id,
            idempotency_key=f"rebook:{row.id}",
            reason=f"đặt lại sau khi lịch {row.code} bị hủy",
            place=(row.hospital, row.department),
        ),
        now=now,
    )
    return view


def mask_name(full_name: str) -> str:
    """ "Nguyễn Văn An" → "N. V. An": the given name (last) and the initials, enough for the desk to recognise."""
    words = full_name.split()
    if not words:
        return ""
    return " ".join([*(f"{w[0]}." for w in words[:-1]), words[-1]])


def _add_closure(uow: UnitOfWork, hospital_id: int, request: ClosureRequest) -> int:
    """The closure's id: the identical one already stored (a retried request), else a new one; its slots close."""
    reason = request.stored_reason
    found = uow.session.scalar(
        select(Closure.id).where(
            Closure.hospital_id == hospital_id,
            _same(Closure.department_id, request.department_id),
            _same(Closure.doctor_id, request.doctor_id),
            Closure.start_date == request.start,
            Closure.end_date == request.end,
            Closure.reason == reason,
        )
    )
    if found is None:
        closure = Closure(
            hospital_id=hospital_id,
            department_id=request.department_id,
            doctor_id=request.doctor_id,
            start_date=request.start,
            end_date=request.end,
            reason=reason,
        )
        uow.session.add(closure)
        uow.session.flush()
        found = closure.id
    uow.session.execute(update(Slot).where(*_slot_scope(hospital_id, request)).values(closed=True))
    return found


def _same(column: ColumnElement, value: int | None) -> ColumnElement[bool]:
    """``column = value``, NULL matching NULL."""
    return column.is_(None) if value is None else column == value


def _slot_scope(hospital_id: int, request: ClosureRequest) -> list:
    conditions = [Slot.hospital_id == hospital_id, Slot.day >= request.start, Slot.day <= request.end]
    if request.department_id is not None:
        conditions.append(Slot.department_id == request.department_id)
    if request.doctor_id is not None:
        conditions.append(Slot.doctor_id == request.doctor_id)
    return conditions


def _hits(hospital_id: int, request: ClosureRequest, now: dt.datetime) -> Select:
    a = APPOINTMENTS
    query = (
        AppointmentView.query()
        .add_columns(
            PATIENTS.c.phone,
            ACCOUNTS.c.provider.label("account_provider"),
            ACCOUNTS.c.external_id.label("account_key"),
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == PATIENTS.c.account_id)
        .where(
            a.c.hospital_id == hospital_id,
            a.c.status == AppointmentStatus.BOOKED.value,
            a.c.day >= request.start,
            a.c.day <= request.end,
            a.c.starts_at > now,
        )
        .order_by(a.c.starts_at, a.c.id)
    )
    if request.department_id is not None:
        query = query.where(a.c.department_id == request.department_id)
    if request.doctor_id is not None:
        query = query.where(a.c.doctor_id == request.doctor_id)
    return query


def _offers(uow: UnitOfWork, view: AppointmentView, after: dt.date, now: dt.datetime) -> tuple[SlotView, ...]:
    """The free slots nearest the cancelled visit: its department, the first open day after the closure (within
    a week; else the earliest day with room from now), the times nearest the visit's time."""
    where = {"hospital_slug": view.hospital, "department_slug": view.department, "now": now}
    try:
        for offset in range(1, LOOK_AHEAD_DAYS + 1):
            found = search_slots(uow, **where, day=after + dt.timedelta(days=offset), limit=SEARCH_LIMIT)
            if found:
                return tuple(nearest_to(found, view.start.time(), OFFERED_SLOTS))
        return offer_slots(uow, **where, wanted=view.start.time(), limit=OFFERED_SLOTS).slots
    except NotFound:
        return ()


def _invalid(field: str, message_vi: str) -> InvalidInput:
    return InvalidInput(f"invalid closure: {field}", message_vi, field=field)
