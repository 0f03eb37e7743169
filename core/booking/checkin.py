"""Reception: check a booked patient in with one lookup and one action; mark no-shows after a session."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Row, Update, bindparam, select, update

from core import tenancy
from core.db import UTCDateTime
from core.errors import Conflict, NotFound, RuleViolation
from core.identifiers import mask_phone, normalise_phone
from core.timeutil import local_today, to_local, utcnow
from core.uow import UnitOfWork
from core.wording import vnd

from .appointments import find_appointment_row, record_event
from .models import APPOINTMENTS, PATIENTS, Appointment, AppointmentStatus, VisitKind
from .rules import LIVE
from .views import AppointmentView, CheckInResult


def check_in(
    uow: UnitOfWork,
    code: str,
    *,
    channel: str,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> CheckInResult:
    """Mark the appointment checked in and tell the desk the queue number, room and what is missing.

    ``hospital_id`` restricts a kiosk or desk to its own hospital. Checking in twice is harmless.
    The desk's hot path: one locked lookup, one update, one audit row.
    """
    now = now or utcnow()
    row = find_appointment_row(uow, code, hospital_id=hospital_id, lock=True)  # another hospital's: 403
    result = check_in_locked(uow, row, channel=channel, now=now)
    uow.commit()
    return result


def check_in_locked(uow: UnitOfWork, row: Row, *, channel: str, now: dt.datetime) -> CheckInResult:
    """Check in the appointment of ``row`` (its row lock held, with the reception columns of
    ``AppointmentView.query(reception=True)``): the one rule of every entry point (CLI, API, the console's
    desk). Not committed: the caller commits, with whatever it records beside (the desk's timing)."""
    view = AppointmentView.from_row(row)
    already = row.status == AppointmentStatus.CHECKED_IN
    if not already:
        refusal = check_in_refusal(row, now)
        if refusal is not None:
            raise refusal
        _move_to(uow, row.id, AppointmentStatus.CHECKED_IN, channel, now)
        view = view.model_copy(update={"status": AppointmentStatus.CHECKED_IN.value, "checked_in_at": to_local(now)})
    return CheckInResult(
        appointment=view,
        already_checked_in=already,
        queue_number=row.queue_number,
        room=row.room,
        location=row.location,
        still_needed=still_needed(row),
    )


def check_in_refusal(row: Row, now: dt.datetime) -> RuleViolation | None:
    """Why the appointment of ``row`` cannot be checked in now (None: it can, or it already is)."""
    if row.status == AppointmentStatus.CHECKED_IN:
        return None
    if row.status != AppointmentStatus.BOOKED:
        return RuleViolation(
            "not_checkin_able",
            f"an appointment in status {row.status} cannot be checked in",
            f"Dạ, lịch hẹn {row.code} {_status_vi(row.status)}, không tiếp đón được ạ.",
            status=row.status,
        )
    today = local_today(now)
    if row.day != today:
        return RuleViolation(
            "wrong_day",
            f"this appointment is for {row.day.isoformat()}, not today ({today.isoformat()})",
            f"Dạ, lịch hẹn {row.code} là ngày {row.day:%d/%m/%Y}, không phải hôm nay ạ.",
            day=row.day.isoformat(),
        )
    return None


def check_in_by_phone(
    uow: UnitOfWork,
    phone: str,
    *,
    channel: str,
    day: dt.date | None = None,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> CheckInResult:
    """Fallback when the patient has no code: their phone and today's (or the given) date."""
    now = now or utcnow()
    e164 = normalise_phone(phone)
    query = (
        AppointmentView.query()
        .where(
            PATIENTS.c.phone == e164,
            APPOINTMENTS.c.day == (day or local_today(now)),
            APPOINTMENTS.c.status.in_(LIVE),
        )
        .order_by(APPOINTMENTS.c.starts_at)
    )
    confined = tenancy.confinement(uow, hospital_id)
    if confined is not None:
        # A phone is a person, not a record of this hospital: a confined desk searches its own hospital only,
        # and another hospital's visits of that phone are not even hinted at (its answer is "none found").
        query = query.where(APPOINTMENTS.c.hospital_id == confined)
    matches = uow.session.execute(query).all()
    if not matches:
        raise NotFound(
            f"no appointment for phone {mask_phone(e164)} on that day",
            "Dạ, em không tìm thấy lịch hẹn nào với số điện thoại này trong ngày. "
            "Anh/chị kiểm tra lại số hoặc đưa mã đặt lịch giúp em ạ.",
        )
    if len(matches) > 1:
        raise Conflict(
            "several appointments match; choose one by code",
            "Dạ, số điện thoại này có nhiều lịch hẹn trong ngày. Anh/chị chọn đúng người khám giúp em ạ.",
            candidates=[
                {"code": m.code, "patient_name": m.patient_name, "department": m.department_name} for m in matches
            ],
        )
    return check_in(uow, matches[0].code, channel=channel, hospital_id=hospital_id, now=now)


def complete(
    uow: UnitOfWork, code: str, *, channel: str, hospital_id: int | None = None, now: dt.datetime | None = None
) -> AppointmentView:
    """The visit is over (reported by the HIS)."""
    now = now or utcnow()
    row = find_appointment_row(uow, code, hospital_id=hospital_id, lock=True)
    if row.status == AppointmentStatus.COMPLETED:
        return AppointmentView.from_row(row)
    if row.status != AppointmentStatus.CHECKED_IN:
        raise RuleViolation(
            "not_checked_in",
            "only a checked-in appointment can be completed",
            f"Dạ, lịch hẹn {row.code} chưa được tiếp đón ạ.",
            status=row.status,
        )
    _move_to(uow, row.id, AppointmentStatus.COMPLETED, channel, now)
    uow.commit()
    return AppointmentView.from_row(row).model_copy(update={"status": AppointmentStatus.COMPLETED.value})


def mark_no_shows(
    uow: UnitOfWork, *, now: dt.datetime | None = None, grace_minutes: int = 30, batch: int = 500
) -> list[str]:
    """Booked appointments whose session ended more than ``grace_minutes`` ago become no-shows.

    Returns their codes (the scheduler sends each patient one message offering to rebook). Rows are
    claimed with SKIP LOCKED, so several schedulers or a concurrent check-in never collide.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(minutes=grace_minutes)
    marked: list[str] = []
    while True:
        rows = uow.session.scalars(
            select(Appointment)
            .where(
                Appointment.status == AppointmentStatus.BOOKED.value,
                Appointment.session_end_at < cutoff,
            )
            .order_by(Appointment.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return marked
        for appointment in rows:
            appointment.status = AppointmentStatus.NO_SHOW.value
            appointment.updated_at = now
            record_event(uow, appointment.id, "no_show", "scheduler", "", now)
            marked.append(appointment.code)
        uow.commit()


def _move_to(uow: UnitOfWork, appointment_id: int, status: AppointmentStatus, channel: str, now: dt.datetime) -> None:
    """Set the status (and its time stamp) with one UPDATE and write the audit row (its kind is the status)."""
    uow.session.execute(_STATUS_UPDATES[status], {"appointment_id": appointment_id, "now": now})
    record_event(uow, appointment_id, status.value, channel, "", now)


def still_needed(row: Row) -> list[str]:
    """What the desk must still collect before the exam slip is printed (Vietnamese, for staff and patient)."""
    needs: list[str] = []
    if row.visit_kind == VisitKind.INSURANCE:
        if row.insurance_number:
            needs.append("Xuất trình thẻ BHYT hoặc CCCD gắn chip / VNeID để đối chiếu")
        else:
            needs.append("Cung cấp mã thẻ BHYT (hồ sơ chưa có mã thẻ)")
    elif row.visit_kind is not None and row.price_vnd > 0:
        needs.append(f"Đóng phí {row.visit_name.lower()}: {vnd(row.price_vnd)} tại quầy thu ngân")
    if not row.cccd:
        needs.append("Cung cấp số CCCD của người bệnh (hồ sơ chưa có)")
    return needs


def _status_vi(status: str) -> str:
    return {
        AppointmentStatus.CANCELLED: "đã bị hủy",
        AppointmentStatus.COMPLETED: "đã khám xong",
        AppointmentStatus.NO_SHOW: "đã quá giờ khám",
    }.get(AppointmentStatus(status), "không còn hiệu lực")


def _status_update(status: AppointmentStatus, stamp: str) -> Update:
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(APPOINTMENTS)
        .where(APPOINTMENTS.c.id == bindparam("appointment_id"))
        .values({"status": status.value, "updated_at": now, stamp: now})
    )


# Built once: the desk's hot path should not pay for building statements.
_STATUS_UPDATES = {
    AppointmentStatus.CHECKED_IN: _status_update(AppointmentStatus.CHECKED_IN, "checked_in_at"),
    AppointmentStatus.COMPLETED: _status_update(AppointmentStatus.COMPLETED, "completed_at"),
}
