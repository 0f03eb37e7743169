"""Booking, rescheduling and cancelling appointments: the services every entry point calls.

Concurrency: each service locks rows in one order — patient, then appointment, then slots by id — so
concurrent requests queue instead of deadlocking. A slot's seat is taken by a conditional UPDATE
(``booked < capacity``), so a slot is never booked past its capacity whatever the number of callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Row, bindparam, insert, select, update

from core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from core.timeutil import utcnow
from core.uow import UnitOfWork

from . import rules
from .codes import new_booking_code, normalise_booking_code
from .models import Appointment, AppointmentEvent, AppointmentStatus, CancelledBy, Hospital, Slot, VisitType
from .patients import find_patient
from .views import APPOINTMENT_BY_CODE, APPOINTMENT_BY_CODE_LOCKED, AppointmentView, load_appointment_view

_CODE_ATTEMPTS = 8


@dataclass(frozen=True)
class BookingRequest:
    slot_id: int
    patient_id: int
    channel: str
    account_id: int | None = None  # who acts; None means hospital staff (CLI, console)
    visit_type: str | None = None  # a visit type code of the hospital, e.g. "bhyt" or "dich_vu"
    idempotency_key: str | None = None
    reason: str = ""


def book(uow: UnitOfWork, request: BookingRequest, now: dt.datetime | None = None) -> tuple[AppointmentView, bool]:
    """Book a slot for a patient. Returns the appointment and whether it was created now.

    A repeated request with the same idempotency key returns the first appointment instead of a new one.
    """
    now = now or utcnow()
    session = uow.session
    patient_id = find_patient(uow, request.patient_id, request.account_id, lock=True)

    key = _namespaced_key(request) if request.idempotency_key else None
    if key is not None:
        previous = session.execute(_BY_IDEMPOTENCY_KEY, {"key": key}).first()
        if previous is not None:
            if previous.patient_id != patient_id:
                raise Conflict(
                    "this idempotency key was already used for another patient",
                    "Dạ, yêu cầu này trùng với một yêu cầu trước. Anh/chị thử đặt lại giúp em ạ.",
                    field="idempotency_key",
                )
            return load_appointment_view(uow, previous.id), False

    slot, hospital = _find_slot(uow, request.slot_id)
    rules.check_slot_bookable(hospital, slot, now)
    visit_type_id = _find_visit_type(uow, hospital, request.visit_type)
    rules.check_patient_may_book(session, hospital, patient_id, slot, now)
    _take_seat(uow, slot)

    appointment = Appointment(
        hospital_id=hospital.id,
        department_id=slot.department_id,
        patient_id=patient_id,
        visit_type_id=visit_type_id,
        status=AppointmentStatus.BOOKED.value,
        channel=request.channel,
        idempotency_key=key,
        reason=(request.reason or "").strip()[:2000],
        created_at=now,
        updated_at=now,
    )
    _place_in_slot(uow, appointment, slot)
    _insert_with_code(uow, appointment)
    record_event(uow, appointment.id, "booked", request.channel, f"slot {slot.id}", now)
    view = load_appointment_view(uow, appointment.id)
    uow.commit()
    return view, True


def get_appointment(
    uow: UnitOfWork, code: str, account_id: int | None = None, *, hospital_id: int | None = None
) -> AppointmentView:
    return AppointmentView.from_row(find_appointment_row(uow, code, account_id, hospital_id=hospital_id))


def patient_appointments(
    uow: UnitOfWork,
    patient_id: int,
    account_id: int | None = None,
    *,
    upcoming_only: bool = False,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[AppointmentView]:
    """The patient's appointments, newest first (upcoming ones: soonest first); ``hospital_id`` narrows."""
    find_patient(uow, patient_id, account_id)
    query = AppointmentView.query().where(Appointment.patient_id == patient_id).order_by(Appointment.starts_at.desc())
    if hospital_id is not None:
        query = query.where(Appointment.hospital_id == hospital_id)
    if upcoming_only:
        query = query.where(
            Appointment.status == AppointmentStatus.BOOKED.value, Appointment.starts_at > (now or utcnow())
        )
        query = query.order_by(None).order_by(Appointment.starts_at)
    return [AppointmentView.from_row(row) for row in uow.session.execute(query)]


def cancel(
    uow: UnitOfWork,
    code: str,
    *,
    by: str,
    channel: str,
    reason: str = "",
    account_id: int | None = None,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> AppointmentView:
    """Cancel a booked appointment and free its seat; cancelling twice is harmless."""
    now = now or utcnow()
    if by not in {b.value for b in CancelledBy}:
        raise InvalidInput("by must be patient or hospital", "Dạ, yêu cầu hủy chưa hợp lệ ạ.", field="by")
    reason = (reason or "").strip()
    if by == CancelledBy.HOSPITAL and not reason:
        raise InvalidInput(
            "a hospital cancellation needs a reason for the patient",
            "Dạ, bệnh viện cần ghi lý do hủy để báo cho người bệnh ạ.",
            field="reason",
        )
    appointment = _lock_appointment(uow, code, account_id, hospital_id)
    if appointment.status == AppointmentStatus.CANCELLED:
        return load_appointment_view(uow, appointment.id)
    if appointment.status != AppointmentStatus.BOOKED:
        raise _not_changeable(appointment, "cancel")
    hospital = uow.session.get(Hospital, appointment.hospital_id)
    if by == CancelledBy.PATIENT:
        rules.check_change_allowed(hospital, appointment, now, "cancel")
    _release_seat(uow, appointment.slot_id)
    appointment.status = AppointmentStatus.CANCELLED.value
    appointment.cancelled_at = now
    appointment.cancelled_by = by
    appointment.cancel_reason = reason[:300] or None
    appointment.updated_at = now
    record_event(uow, appointment.id, "cancelled", channel, f"by {by}: {reason}"[:500], now)
    view = load_appointment_view(uow, appointment.id)
    uow.commit()
    return view


def reschedule(
    uow: UnitOfWork,
    code: str,
    new_slot_id: int,
    *,
    channel: str,
    account_id: int | None = None,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> AppointmentView:
    """Move a booked appointment to another slot of the same department in one transaction.

    The old seat is released only once the new one is taken; if the new slot is full nothing changes.
    The booking code stays the same; the queue number follows the new slot.
    """
    now = now or utcnow()
    appointment = _lock_appointment(uow, code, account_id, hospital_id)
    if appointment.status != AppointmentStatus.BOOKED:
        raise _not_changeable(appointment, "reschedule")
    hospital = uow.session.get(Hospital, appointment.hospital_id)
    rules.check_change_allowed(hospital, appointment, now, "reschedule")
    if new_slot_id == appointment.slot_id:
        raise InvalidInput(
            "the appointment is already in this slot",
            "Dạ, lịch hẹn đang ở đúng khung giờ này rồi ạ.",
            field="slot_id",
        )
    new_slot, _ = _find_slot(uow, new_slot_id)
    if new_slot.department_id != appointment.department_id:
        raise InvalidInput(
            "a reschedule keeps the department; cancel and book to change department",
            "Dạ, đổi lịch chỉ đổi ngày giờ trong cùng khoa. Muốn khám khoa khác, anh/chị hủy lịch này "
            "và đặt lịch mới giúp em ạ.",
            field="slot_id",
        )
    rules.check_slot_bookable(hospital, new_slot, now)
    rules.check_patient_may_book(
        uow.session, hospital, appointment.patient_id, new_slot, now, ignore_appointment_id=appointment.id
    )
    old_slot_id = appointment.slot_id
    # Lock both slots in id order (deadlock-free against concurrent moves the other way).
    uow.session.execute(
        select(Slot.id).where(Slot.id.in_([old_slot_id, new_slot_id])).order_by(Slot.id).with_for_update()
    ).all()
    _take_seat(uow, new_slot)
    _release_seat(uow, old_slot_id)  # only now that the new seat is secured
    _place_in_slot(uow, appointment, new_slot)
    appointment.updated_at = now
    record_event(uow, appointment.id, "rescheduled", channel, f"slot {old_slot_id} -> {new_slot.id}", now)
    view = load_appointment_view(uow, appointment.id)
    uow.commit()
    return view


def find_appointment_row(
    uow: UnitOfWork,
    code: str,
    account_id: int | None = None,
    *,
    hospital_id: int | None = None,
    lock: bool = False,
) -> Row:
    """The view row of the appointment with this code, if the account (None: staff) and hospital (None: any)
    may see it; ``lock`` takes the appointment's row lock."""
    normalised = normalise_booking_code(code)
    row = None
    if normalised is not None:
        query = APPOINTMENT_BY_CODE_LOCKED if lock else APPOINTMENT_BY_CODE
        row = uow.session.execute(query, {"code": normalised}).first()
    if (
        row is None
        or (account_id is not None and row.account_id != account_id)
        or (hospital_id is not None and row.hospital_id != hospital_id)
    ):
        raise NotFound(
            f"no appointment with code {code!r}",
            "Dạ, em không tìm thấy lịch hẹn với mã này. Anh/chị kiểm tra lại mã đặt lịch giúp em ạ.",
            code=code,
        )
    return row


def find_appointment(
    uow: UnitOfWork, code: str, account_id: int | None = None, *, hospital_id: int | None = None
) -> Appointment:
    """The appointment (ORM object, to be changed) with this code, under the same access rules."""
    row = find_appointment_row(uow, code, account_id, hospital_id=hospital_id)
    return uow.session.get(Appointment, row.id)


def _lock_appointment(uow: UnitOfWork, code: str, account_id: int | None, hospital_id: int | None) -> Appointment:
    """Lock the patient, then the appointment (the order every changing service uses)."""
    appointment = find_appointment(uow, code, account_id, hospital_id=hospital_id)
    find_patient(uow, appointment.patient_id, None, lock=True)
    uow.session.execute(select(Appointment.id).where(Appointment.id == appointment.id).with_for_update())
    uow.session.refresh(appointment)  # the state as of the lock, not as first read
    return appointment


def _find_slot(uow: UnitOfWork, slot_id: int) -> tuple[Slot, Hospital]:
    found = uow.session.execute(_SLOT_AND_HOSPITAL, {"id": slot_id}).first()
    if found is None:
        raise NotFound(
            f"no slot {slot_id}",
            "Dạ, khung giờ này không còn. Anh/chị chọn khung giờ khác giúp em ạ.",
            slot_id=slot_id,
        )
    return found.Slot, found.Hospital


def _find_visit_type(uow: UnitOfWork, hospital: Hospital, code: str | None) -> int | None:
    if code is None:
        return None
    visit_type_id = uow.session.scalar(_VISIT_TYPE_ID, {"hospital_id": hospital.id, "code": code})
    if visit_type_id is None:
        raise InvalidInput(
            f"{hospital.slug} has no visit type {code!r}",
            "Dạ, anh/chị chọn khám BHYT hoặc khám dịch vụ giúp em ạ.",
            field="visit_type",
        )
    return visit_type_id


def _take_seat(uow: UnitOfWork, slot: Slot) -> None:
    taken = uow.session.execute(_TAKE_SEAT, {"slot_id": slot.id}).rowcount
    if taken != 1:
        raise RuleViolation(
            "slot_full",
            "this slot is fully booked",
            "Dạ, khung giờ này vừa hết chỗ. Anh/chị chọn khung giờ khác giúp em ạ.",
            slot_id=slot.id,
        )


def _release_seat(uow: UnitOfWork, slot_id: int) -> None:
    uow.session.execute(_RELEASE_SEAT, {"slot_id": slot_id})


def _place_in_slot(uow: UnitOfWork, appointment: Appointment, slot: Slot) -> None:
    """Give the appointment the slot's lowest free queue number (the slot row is locked by now)."""
    held = set(uow.session.scalars(_HELD_NUMBERS, {"slot_id": slot.id, "moving": appointment.id or 0}))
    appointment.queue_number = next(
        n for n in range(slot.queue_base, slot.queue_base + slot.capacity + len(held) + 1) if n not in held
    )
    appointment.slot_id = slot.id
    appointment.doctor_id = slot.doctor_id
    appointment.day = slot.day
    appointment.part_of_day = slot.part_of_day
    appointment.starts_at = slot.start_at
    appointment.session_end_at = slot.session_end_at


def _insert_with_code(uow: UnitOfWork, appointment: Appointment) -> None:
    for _ in range(_CODE_ATTEMPTS):
        appointment.code = new_booking_code()
        if uow.session.scalar(_CODE_TAKEN, {"code": appointment.code}) is None:
            uow.session.add(appointment)
            uow.session.flush()
            return
    raise RuntimeError("could not find a free booking code")  # 32**6 codes: practically unreachable


def record_event(uow: UnitOfWork, appointment_id: int, kind: str, channel: str, detail: str, now: dt.datetime) -> None:
    """Append to the appointment's audit trail (a plain INSERT: nothing for the ORM to track)."""
    uow.session.execute(
        _ADD_EVENT, {"appointment_id": appointment_id, "kind": kind, "channel": channel, "detail": detail, "at": now}
    )


def _not_changeable(appointment: Appointment, action: str) -> RuleViolation:
    status_vi = {
        AppointmentStatus.CHECKED_IN: "đã được tiếp đón",
        AppointmentStatus.COMPLETED: "đã khám xong",
        AppointmentStatus.NO_SHOW: "đã qua giờ khám",
    }.get(AppointmentStatus(appointment.status), "không còn hiệu lực")
    verb_vi = "hủy" if action == "cancel" else "đổi"
    return RuleViolation(
        "not_changeable",
        f"an appointment in status {appointment.status} cannot be changed",
        f"Dạ, lịch hẹn {appointment.code} {status_vi} nên không {verb_vi} được nữa ạ.",
        status=appointment.status,
    )


def _namespaced_key(request: BookingRequest) -> str:
    return f"{request.channel}:{request.account_id or 'staff'}:{request.idempotency_key}"[:200]


# Statements of the booking path, built once (building a statement costs more CPU than running it).
_BY_IDEMPOTENCY_KEY = select(Appointment.id, Appointment.patient_id).where(
    Appointment.idempotency_key == bindparam("key")
)
_SLOT_AND_HOSPITAL = (
    select(Slot, Hospital).join(Hospital, Hospital.id == Slot.hospital_id).where(Slot.id == bindparam("id"))
)
_VISIT_TYPE_ID = select(VisitType.id).where(
    VisitType.hospital_id == bindparam("hospital_id"), VisitType.code == bindparam("code")
)
_TAKE_SEAT = (
    update(Slot)
    .where(Slot.id == bindparam("slot_id"), Slot.booked < Slot.capacity, Slot.closed.is_(False))
    .values(booked=Slot.booked + 1)
    .execution_options(synchronize_session=False)
)
_RELEASE_SEAT = (
    update(Slot)
    .where(Slot.id == bindparam("slot_id"))
    .values(booked=Slot.booked - 1)
    .execution_options(synchronize_session=False)
)
_HELD_NUMBERS = select(Appointment.queue_number).where(
    Appointment.slot_id == bindparam("slot_id"),
    Appointment.status != AppointmentStatus.CANCELLED.value,
    Appointment.id != bindparam("moving"),  # the appointment being moved keeps no number here
)
_CODE_TAKEN = select(Appointment.id).where(Appointment.code == bindparam("code"))
_ADD_EVENT = insert(AppointmentEvent)
