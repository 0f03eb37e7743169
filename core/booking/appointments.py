"""Booking, rescheduling and cancelling appointments: the services every entry point calls.

Concurrency: each service locks rows in one order — patient, then appointment, then slots by id — so
concurrent requests queue instead of deadlocking. A slot's seat is taken by a conditional UPDATE
(``booked < capacity``), so a slot is never booked past its capacity whatever the number of callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Row

from core import audit, tenancy
from core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from core.timeutil import to_local, utcnow
from core.uow import UnitOfWork

from . import appointment_sql as sql
from . import caps, rules
from .codes import new_booking_code, normalise_booking_code
from .models import (
    APPOINTMENTS,
    Appointment,
    AppointmentStatus,
    CancelledBy,
    Hospital,
    Slot,
)
from .patients import find_patient, patient_not_found
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
    # Who sends the request (e.g. "key:12" for an API key): idempotency keys are that client's own, so two
    # clients of the same kind never share one; None: the channel itself is the client (the chat).
    client: str | None = None
    caps: caps.Caps | None = None  # the client's limits on live bookings (API clients)
    # The hospital and department (slugs) the patient chose and confirmed, when the request comes from a
    # conversation: a slot elsewhere is refused, whatever id was sent.
    place: tuple[str, str] | None = None


def book(uow: UnitOfWork, request: BookingRequest, now: dt.datetime | None = None) -> tuple[AppointmentView, bool]:
    """Book a slot for a patient. Returns the appointment and whether it was created now.

    A repeated request with the same idempotency key returns the first appointment instead of a new one.
    The path is six statements: the patient's lock; their live appointments and any earlier booking under
    the key; the slot with all the view needs; the seat; the appointment; its audit row.
    """
    now = now or utcnow()
    session = uow.session
    key = _namespaced_key(request) if request.idempotency_key else None
    patient = session.execute(sql.LOCK_PATIENT, {"patient_id": request.patient_id}).first()
    if patient is None or (request.account_id is not None and patient.account_id != request.account_id):
        raise patient_not_found(request.patient_id)
    if request.account_id is None:
        tenancy.ensure_patient_visible(uow, request.patient_id)
    # A statement of its own after the lock: on PostgreSQL a statement that waited for a row lock still
    # reads from the snapshot it started with, and would miss the booking that held the lock.
    state = session.execute(sql.PATIENT_STATE, {"patient_id": request.patient_id, "key": key}).all()
    if state[0].previous_id is not None:
        return _repeated_booking(uow, state[0].previous_id, request.patient_id), False

    slot = _slot_facts(uow, request.slot_id, request.visit_type)
    if request.place is not None and (slot.hospital, slot.department) != request.place:
        raise RuleViolation(
            "slot_elsewhere",
            f"slot {request.slot_id} is not a slot of {'/'.join(request.place)}",
            "Dạ, giờ khám này không thuộc khoa anh/chị đã chọn. Anh/chị chọn lại giờ khám giúp em ạ.",
        )
    hospital = slot  # the same row carries the hospital's rules
    rules.check_slot_bookable(hospital, slot, now)
    if request.visit_type is not None and slot.visit_type_id is None:
        raise InvalidInput(
            f"{slot.hospital} has no visit type {request.visit_type!r}",
            "Dạ, anh/chị chọn khám BHYT hoặc khám dịch vụ giúp em ạ.",
            field="visit_type",
        )
    rules.check_patient_may_book(hospital, [row for row in state if row.id is not None], slot, now)
    if request.caps is not None:
        caps.check_new_booking(uow, request.caps, patient.account_id)
    _take_seat(uow, slot)
    values = {
        "hospital_id": slot.hospital_id,
        "department_id": slot.department_id,
        "doctor_id": slot.doctor_id,
        "slot_id": slot.id,
        "patient_id": request.patient_id,
        "visit_type_id": slot.visit_type_id,
        "status": AppointmentStatus.BOOKED.value,
        "day": slot.day,
        "part_of_day": slot.part_of_day,
        "starts_at": slot.start_at,
        "session_end_at": slot.session_end_at,
        "channel": request.channel,
        "idempotency_key": key,
        "reason": (request.reason or "").strip()[:2000],
        "created_at": now,
        "updated_at": now,
        "number_slot": slot.id,
        "moving": 0,  # no appointment is being moved: every live number of the slot is held
    }
    insert_new = sql.INSERT_NEW[session.get_bind().dialect.name]
    for _ in range(_CODE_ATTEMPTS):
        values["code"] = new_booking_code()
        inserted = session.execute(insert_new, values).first()  # None: the code was taken, draw another
        if inserted is not None:
            break
    else:
        raise RuntimeError("could not find a free booking code")  # 32**6 codes: practically unreachable
    record_event(uow, inserted.id, "booked", request.channel, f"slot {slot.id}", now)
    # The view from what this transaction read and wrote (AppointmentView.query() would give the same).
    view = AppointmentView(
        code=values["code"],
        status=AppointmentStatus.BOOKED.value,
        hospital=slot.hospital,
        hospital_name=slot.hospital_name,
        department=slot.department,
        department_name=slot.department_name,
        location=slot.location,
        room=slot.room,
        doctor=slot.doctor,
        patient_id=request.patient_id,
        patient_name=patient.full_name,
        day=slot.day,
        part_of_day=slot.part_of_day,
        start=to_local(slot.start_at),
        queue_number=inserted.queue_number,
        visit_type=request.visit_type if slot.visit_type_id is not None else None,
        channel=request.channel,
        what_to_bring=slot.what_to_bring,
    )
    uow.commit()
    return view, True


def _repeated_booking(uow: UnitOfWork, appointment_id: int, patient_id: int) -> AppointmentView:
    view = load_appointment_view(uow, appointment_id)
    if view.patient_id != patient_id:
        raise Conflict(
            "this idempotency key was already used for another patient",
            "Dạ, yêu cầu này trùng với một yêu cầu trước. Anh/chị thử đặt lại giúp em ạ.",
            field="idempotency_key",
        )
    return view


def get_appointment(
    uow: UnitOfWork, code: str, account_id: int | None = None, *, hospital_id: int | None = None
) -> AppointmentView:
    row = find_appointment_row(uow, code, account_id, hospital_id=hospital_id)
    return AppointmentView.from_row(row)


def patient_appointments(
    uow: UnitOfWork,
    patient_id: int,
    account_id: int | None = None,
    *,
    upcoming_only: bool = False,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[AppointmentView]:
    """The patient's appointments, newest first (upcoming ones: soonest first); ``hospital_id`` (else the
    hospital the unit of work is confined to) narrows."""
    find_patient(uow, patient_id, account_id)
    a = APPOINTMENTS
    query = AppointmentView.query().where(a.c.patient_id == patient_id).order_by(a.c.starts_at.desc())
    confined = tenancy.confinement(uow, hospital_id)
    if confined is not None:
        query = query.where(a.c.hospital_id == confined)
    if upcoming_only:
        query = query.where(a.c.status == AppointmentStatus.BOOKED.value, a.c.starts_at > (now or utcnow()))
        query = query.order_by(None).order_by(a.c.starts_at)
    rows = uow.session.execute(query).all()
    audit.record_reads(uow, "patient", [patient_id])
    audit.record_reads(uow, "appointment", [row.id for row in rows])
    return [AppointmentView.from_row(row) for row in rows]


def account_upcoming(
    uow: UnitOfWork, account_id: int, *, hospital_id: int | None = None, now: dt.datetime | None = None
) -> list[AppointmentView]:
    """The upcoming booked appointments of every profile the account manages, soonest first, in one query;
    ``hospital_id`` (else the hospital the unit of work is confined to) narrows."""
    params = {"account_id": account_id, "now": now or utcnow(), "hospital_id": tenancy.confinement(uow, hospital_id)}
    rows = uow.session.execute(sql.ACCOUNT_UPCOMING, params).all()
    audit.record_reads(uow, "patient", sorted({row.patient_id for row in rows}))
    audit.record_reads(uow, "appointment", [row.id for row in rows])
    return [AppointmentView.from_row(row) for row in rows]


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
    new_slot = _slot_facts(uow, new_slot_id)
    if new_slot.department_id != appointment.department_id:
        raise InvalidInput(
            "a reschedule keeps the department; cancel and book to change department",
            "Dạ, đổi lịch chỉ đổi ngày giờ trong cùng khoa. Muốn khám khoa khác, anh/chị hủy lịch này "
            "và đặt lịch mới giúp em ạ.",
            field="slot_id",
        )
    rules.check_slot_bookable(hospital, new_slot, now)
    live = rules.live_appointments(uow.session, appointment.patient_id)
    rules.check_patient_may_book(hospital, live, new_slot, now, ignore_appointment_id=appointment.id)
    old_slot_id = appointment.slot_id
    # Lock both slots in id order (deadlock-free against concurrent moves the other way).
    uow.session.execute(sql.LOCK_SLOTS, {"ids": [old_slot_id, new_slot_id]}).all()
    _take_seat(uow, new_slot)
    _release_seat(uow, old_slot_id)  # only now that the new seat is secured
    uow.session.execute(
        sql.MOVE_TO_SLOT,
        {
            "moving": appointment.id,
            "number_slot": new_slot.id,
            "slot_id": new_slot.id,
            "doctor_id": new_slot.doctor_id,
            "day": new_slot.day,
            "part_of_day": new_slot.part_of_day,
            "starts_at": new_slot.start_at,
            "session_end_at": new_slot.session_end_at,
            "updated_at": now,
        },
    )
    record_event(uow, appointment.id, "rescheduled", channel, f"slot {old_slot_id} -> {new_slot.id}", now)
    view = load_appointment_view(uow, appointment.id)
    uow.commit()
    return view


def confirm_attendance(
    uow: UnitOfWork,
    code: str,
    *,
    channel: str,
    account_id: int | None = None,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> AppointmentView:
    """The patient confirms they will come (from a reminder): ``confirmed_at`` is set once, and confirming
    again changes nothing. Only a booked appointment that has not begun can be confirmed."""
    now = now or utcnow()
    appointment = _lock_appointment(uow, code, account_id, hospital_id)
    if appointment.status != AppointmentStatus.BOOKED:
        raise _not_changeable(appointment, "confirm")
    if appointment.starts_at <= now:
        raise RuleViolation(
            "already_started",
            "the appointment has already started",
            f"Dạ, lịch hẹn {appointment.code} đã đến giờ khám nên không cần xác nhận nữa ạ.",
        )
    if appointment.confirmed_at is None:
        appointment.confirmed_at = now
        appointment.updated_at = now
        record_event(uow, appointment.id, "confirmed", channel, "", now)
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
    """The view row of the appointment with this code, if the account (None: staff) may see it (else not found)
    and it is of the hospital (``hospital_id``, else the unit of work's confinement; None: any; else 403);
    ``lock`` takes the appointment's row lock."""
    normalised = normalise_booking_code(code)
    row = None
    if normalised is not None:
        query = APPOINTMENT_BY_CODE_LOCKED if lock else APPOINTMENT_BY_CODE
        row = uow.session.execute(query, {"code": normalised}).first()
    if row is None or (account_id is not None and row.account_id != account_id):
        raise NotFound(
            f"no appointment with code {code!r}",
            "Dạ, em không tìm thấy lịch hẹn với mã này. Anh/chị kiểm tra lại mã đặt lịch giúp em ạ.",
            code=code,
        )
    tenancy.ensure_same_hospital(uow, row.hospital_id, "appointment", hospital_id)
    # Every service that answers with an appointment found by its code passes here (look-up, check-in, cancel,
    # reschedule, confirm, complete): its read is audited once, here; a refused one writes nothing.
    audit.record_reads(uow, "appointment", [row.id])
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
    uow.session.execute(sql.LOCK_APPOINTMENT, {"id": appointment.id})
    uow.session.refresh(appointment)  # the state as of the lock, not as first read
    return appointment


def _slot_facts(uow: UnitOfWork, slot_id: int, visit_type: str | None = None) -> Row:
    """The slot with its hospital's rules, what the view shows of the hospital, department and doctor, and
    the id of the hospital's visit type with code ``visit_type`` (None if it has none): see
    appointment_sql.SLOT_FACTS. A slot of another hospital than the unit of work's is refused (403)."""
    found = uow.session.execute(sql.SLOT_FACTS, {"id": slot_id, "visit_type": visit_type}).first()
    if found is None:
        raise NotFound(
            f"no slot {slot_id}",
            "Dạ, khung giờ này không còn. Anh/chị chọn khung giờ khác giúp em ạ.",
            slot_id=slot_id,
        )
    tenancy.ensure_same_hospital(uow, found.hospital_id, "slot")
    return found


def _take_seat(uow: UnitOfWork, slot: Slot) -> None:
    taken = uow.session.execute(sql.TAKE_SEAT, {"slot_id": slot.id}).rowcount
    if taken != 1:
        raise RuleViolation(
            "slot_full",
            "this slot is fully booked",
            "Dạ, khung giờ này vừa hết chỗ. Anh/chị chọn khung giờ khác giúp em ạ.",
            slot_id=slot.id,
        )


def _release_seat(uow: UnitOfWork, slot_id: int) -> None:
    uow.session.execute(sql.RELEASE_SEAT, {"slot_id": slot_id})


def record_event(uow: UnitOfWork, appointment_id: int, kind: str, channel: str, detail: str, now: dt.datetime) -> None:
    """Append to the appointment's audit trail (a plain INSERT: nothing for the ORM to track)."""
    uow.session.execute(
        sql.ADD_EVENT, {"appointment_id": appointment_id, "kind": kind, "channel": channel, "detail": detail, "at": now}
    )


def _not_changeable(appointment: Appointment, action: str) -> RuleViolation:
    status_vi = {
        AppointmentStatus.CHECKED_IN: "đã được tiếp đón",
        AppointmentStatus.COMPLETED: "đã khám xong",
        AppointmentStatus.NO_SHOW: "đã qua giờ khám",
    }.get(AppointmentStatus(appointment.status), "không còn hiệu lực")
    verb_vi = {"cancel": "hủy", "confirm": "xác nhận"}.get(action, "đổi")
    return RuleViolation(
        "not_changeable",
        f"an appointment in status {appointment.status} cannot be changed",
        f"Dạ, lịch hẹn {appointment.code} {status_vi} nên không {verb_vi} được nữa ạ.",
        status=appointment.status,
    )


def _namespaced_key(request: BookingRequest) -> str:
    """The stored form of an idempotency key: the client's own (its API key, else the channel), then the account."""
    return f"{request.client or request.channel}:{request.account_id or 'staff'}:{request.idempotency_key}"[:200]
