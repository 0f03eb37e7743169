"""The reception desk: look a booking up by its code (or the patient's phone), check the patient in, today's list.

The province measures reception of a booked patient (about 20 seconds, from 10 minutes): every look-up that
finds a booking to check in writes a ``ReceptionTiming`` row (``looked_up_at``) and the check-in that follows
stamps its ``checked_in_at``. The check-in itself is core/booking/checkin.py's, the one rule of every entry
point; this module adds the desk's view of a booking, the timing and the list.

Everything here is confined to the hospital passed in: another hospital's booking is "not found", never hinted
at. The services do not commit: the console adds its staff-action row to the same transaction, then commits.
Messages are for staff (neutral Vietnamese), not for patients.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

from sqlalchemy import ColumnElement, Row, Select, bindparam, case, func, or_, select, update

from core import audit
from core.errors import InvalidInput, NotFound, RuleViolation
from core.identifiers import mask_phone, normalise_phone
from core.staff.models import ReceptionTiming
from core.timeutil import local_today, to_local, utcnow
from core.uow import UnitOfWork

from .checkin import check_in_locked, check_in_refusal, still_needed
from .codes import normalise_booking_code
from .models import APPOINTMENTS, DEPARTMENTS, PATIENTS, AppointmentStatus
from .views import AppointmentView, View

LIST_CAP = 200  # today's list shows at most this many rows (a search narrows it)
CODE, PHONE = "code", "phone"
# The states the desk shows and filters by; "confirmed": booked, and the patient confirmed they will come.
BOOKED, CONFIRMED = "booked", "confirmed"
STATES = (BOOKED, CONFIRMED, "checked_in", "no_show", "completed", "cancelled")
STATE_NAMES_VI = {
    BOOKED: "Đã đặt",
    CONFIRMED: "Đã xác nhận",
    "checked_in": "Đã tiếp đón",
    "no_show": "Vắng mặt",
    "completed": "Đã khám xong",
    "cancelled": "Đã hủy",
}
_DIGITS = re.compile(r"\D")
TIMINGS = ReceptionTiming.__table__


class DeskBooking(View):
    """A booking as the receptionist sees it (the phone masked)."""

    appointment_id: int
    code: str
    state: str  # one of STATES
    hospital_name: str
    patient_name: str
    birth_year: int
    phone_masked: str
    department: str  # slug
    department_name: str
    location: str
    room: str
    doctor: str | None
    day: dt.date
    start: dt.datetime  # local time
    queue_number: int
    visit_type_name: str
    still_needed: list[str]
    checked_in_at: dt.datetime | None  # local time


class DeskLookup(View):
    """A look-up's answer: the booking, and the timing row to stamp at check-in (None: already checked in)."""

    booking: DeskBooking
    timing_id: int | None


class DeskCheckIn(View):
    """A check-in's answer: what the exam slip prints."""

    booking: DeskBooking
    already_checked_in: bool


class TodayRow(View):
    appointment_id: int
    code: str
    state: str
    start: dt.datetime  # local time
    patient_name: str
    phone_masked: str
    department_name: str
    queue_number: int
    checked_in_at: dt.datetime | None


class TodayList(View):
    rows: list[TodayRow]
    counts: dict[str, int]  # per state, of the day and department (before the state filter and the search)
    capped: bool  # more rows matched than LIST_CAP


@cache
def _desk_query() -> Select:
    """The appointment with the reception columns, and what the desk shows of the patient."""
    return AppointmentView.query(reception=True).add_columns(PATIENTS.c.phone, PATIENTS.c.date_of_birth)


@cache
def _by_code() -> Select:
    return _desk_query().where(
        APPOINTMENTS.c.code == bindparam("code"), APPOINTMENTS.c.hospital_id == bindparam("hospital_id")
    )


@cache
def _by_id_locked() -> Select:
    return (
        _desk_query()
        .where(APPOINTMENTS.c.id == bindparam("id"), APPOINTMENTS.c.hospital_id == bindparam("hospital_id"))
        .with_for_update(of=APPOINTMENTS)
    )


def _state(status: str, confirmed_at: dt.datetime | None) -> str:
    if status == AppointmentStatus.BOOKED:
        return CONFIRMED if confirmed_at is not None else BOOKED
    return status


def _booking(row: Row, **changes: object) -> DeskBooking:
    data = {
        "appointment_id": row.id,
        "code": row.code,
        "state": _state(row.status, row.confirmed_at),
        "hospital_name": row.hospital_name,
        "patient_name": row.patient_name,
        "birth_year": row.date_of_birth.year,
        "phone_masked": mask_phone(row.phone),
        "department": row.department,
        "department_name": row.department_name,
        "location": row.location,
        "room": row.room,
        "doctor": row.doctor,
        "day": row.day,
        "start": to_local(row.starts_at),
        "queue_number": row.queue_number,
        "visit_type_name": row.visit_name or "",
        "still_needed": still_needed(row),
        "checked_in_at": to_local(row.checked_in_at) if row.checked_in_at else None,
    }
    data.update(changes)
    return DeskBooking(**data)


def _not_found() -> NotFound:
    return NotFound(
        "no appointment with that code at this hospital",
        "Không tìm thấy lịch hẹn có mã này tại bệnh viện. Kiểm tra lại mã hoặc tìm theo số điện thoại.",
    )


def _for_staff(error: RuleViolation, row: Row) -> RuleViolation:
    """checkin.py's refusal, worded for the receptionist."""
    if error.code == "wrong_day":
        message = f"Lịch hẹn {row.code} là ngày {row.day:%d/%m/%Y}, không phải hôm nay: chưa tiếp đón được."
    elif row.status == AppointmentStatus.CANCELLED:
        by = {"patient": " (người bệnh hủy)", "hospital": " (bệnh viện hủy)"}.get(row.cancelled_by or "", "")
        message = f"Lịch hẹn {row.code} đã bị hủy{by}: không tiếp đón được."
    elif row.status == AppointmentStatus.NO_SHOW:
        message = f"Lịch hẹn {row.code} đã bị đánh dấu vắng mặt (quá giờ khám): không tiếp đón được."
    elif row.status == AppointmentStatus.COMPLETED:
        message = f"Lịch hẹn {row.code} đã khám xong."
    else:
        message = f"Lịch hẹn {row.code} không tiếp đón được."
    error.message_vi = message  # the same refusal (its code unchanged), in the desk's words
    return error


def desk_lookup(
    uow: UnitOfWork,
    hospital_id: int,
    code: str,
    *,
    staff_id: int | None,
    desk: str = "",
    kind: str = CODE,
    now: dt.datetime | None = None,
) -> DeskLookup:
    """The booking of ``code`` at ``hospital_id`` (a scanner's text: any case, spaces, a trailing newline), for
    check-in today. A booking to check in gets a timing row (``looked_up_at``); one already checked in is
    shown again without one. Refused (Vietnamese for staff): unknown here, cancelled, no-show, another day."""
    now = now or utcnow()
    normalised = normalise_booking_code(code)
    if normalised is None:
        raise InvalidInput(
            "not a booking code",
            "Mã đặt lịch gồm 6 ký tự chữ và số (không có 0, O, 1, I). Kiểm tra lại mã.",
            field="code",
        )
    row = uow.session.execute(_by_code(), {"code": normalised, "hospital_id": hospital_id}).first()
    if row is None:
        raise _not_found()
    audit.record_reads(uow, "appointment", [row.id])
    refusal = check_in_refusal(row, now)
    if refusal is not None:
        raise _for_staff(refusal, row)
    timing_id = None
    if row.status != AppointmentStatus.CHECKED_IN:
        timing_id = uow.session.execute(
            TIMINGS.insert().returning(TIMINGS.c.id),
            {
                "hospital_id": hospital_id,
                "appointment_id": row.id,
                "staff_id": staff_id,
                "desk": (desk or "")[:40],
                "lookup_kind": kind if kind in (CODE, PHONE) else CODE,
                "looked_up_at": now,
            },
        ).scalar_one()
    return DeskLookup(booking=_booking(row), timing_id=timing_id)


def desk_lookup_by_phone(
    uow: UnitOfWork, hospital_id: int, phone: str, day: dt.date | None = None, *, now: dt.datetime | None = None
) -> list[DeskBooking]:
    """The fallback when the patient has no code: that day's bookings (today by default) at ``hospital_id`` of
    the patients with this phone (a parent books for their children: several), earliest first. The receptionist
    then picks one, which is looked up by its code (``kind="phone"``)."""
    e164 = normalise_phone(phone)  # InvalidInput (422) for a number that is not a Vietnamese mobile
    day = day or local_today(now or utcnow())
    rows = uow.session.execute(
        _desk_query()
        .where(
            PATIENTS.c.phone == e164,
            APPOINTMENTS.c.day == day,
            APPOINTMENTS.c.hospital_id == hospital_id,
        )
        .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
    ).all()
    if not rows:
        raise NotFound(
            "no appointment for that phone on that day",
            f"Không có lịch hẹn nào của số điện thoại {mask_phone(e164)} ngày {day:%d/%m/%Y} tại bệnh viện.",
        )
    audit.record_reads(uow, "appointment", [row.id for row in rows])
    return [_booking(row) for row in rows]


def desk_check_in(
    uow: UnitOfWork,
    hospital_id: int,
    appointment_id: int,
    *,
    timing_id: int | None,
    staff_id: int | None,
    now: dt.datetime | None = None,
) -> DeskCheckIn:
    """Check the patient in (checkin.check_in_locked) and stamp the look-up's timing. A second Enter on a
    booking already checked in answers the same slip, without an error (and stamps nothing)."""
    now = now or utcnow()
    row = uow.session.execute(_by_id_locked(), {"id": appointment_id, "hospital_id": hospital_id}).first()
    if row is None:
        raise NotFound("no such appointment at this hospital", "Không tìm thấy lịch hẹn này tại bệnh viện.")
    audit.record_reads(uow, "appointment", [row.id])  # the slip shows the patient
    try:
        result = check_in_locked(uow, row, channel="desk", now=now)
    except RuleViolation as error:
        raise _for_staff(error, row) from None
    if not result.already_checked_in and timing_id is not None:
        uow.session.execute(
            update(TIMINGS)
            .where(
                TIMINGS.c.id == timing_id,
                TIMINGS.c.appointment_id == appointment_id,
                TIMINGS.c.hospital_id == hospital_id,
                TIMINGS.c.staff_id == staff_id if staff_id is not None else TIMINGS.c.staff_id.is_(None),
                TIMINGS.c.checked_in_at.is_(None),
            )
            .values(checked_in_at=now)
        )
    booking = _booking(row, state=AppointmentStatus.CHECKED_IN.value, checked_in_at=result.appointment.checked_in_at)
    return DeskCheckIn(booking=booking, already_checked_in=result.already_checked_in)


def todays_list(
    uow: UnitOfWork,
    hospital_id: int,
    day: dt.date,
    *,
    department: str | None = None,
    status: str | None = None,
    query: str = "",
    limit: int = LIST_CAP,
) -> TodayList:
    """The day's bookings at ``hospital_id`` (of one department), by time: their state (STATES), filtered by
    ``status`` and by ``query`` (a code, part of a phone or of a name). At most ``limit`` rows; the counts per
    state are of the whole day (and department)."""
    a = APPOINTMENTS
    where = [a.c.hospital_id == hospital_id, a.c.day == day]
    if department:
        where.append(DEPARTMENTS.c.slug == department)
    state = _state_sql()
    counts = {name: 0 for name in STATES}
    for name, count in uow.session.execute(
        select(state, func.count())
        .select_from(a.join(DEPARTMENTS, DEPARTMENTS.c.id == a.c.department_id))
        .where(*where)
        .group_by(state)
    ):
        counts[name] = count
    if status in STATES:
        where.append(state == status)
    text = (query or "").strip()[:60]
    if text:
        where.append(or_(*_matches(text)))
    rows = uow.session.execute(
        select(
            a.c.id,
            a.c.code,
            state.label("state"),
            a.c.starts_at,
            PATIENTS.c.full_name,
            PATIENTS.c.phone,
            DEPARTMENTS.c.name,
            a.c.queue_number,
            a.c.checked_in_at,
        )
        .select_from(
            a.join(DEPARTMENTS, DEPARTMENTS.c.id == a.c.department_id).join(PATIENTS, PATIENTS.c.id == a.c.patient_id)
        )
        .where(*where)
        .order_by(a.c.starts_at, a.c.queue_number, a.c.id)
        .limit(limit + 1)
    ).all()
    capped = len(rows) > limit
    rows = rows[:limit]
    audit.record_reads(uow, "appointment", [row.id for row in rows])
    return TodayList(
        rows=[
            TodayRow(
                appointment_id=row.id,
                code=row.code,
                state=row.state,
                start=to_local(row.starts_at),
                patient_name=row.full_name,
                phone_masked=mask_phone(row.phone),
                department_name=row.name,
                queue_number=row.queue_number,
                checked_in_at=to_local(row.checked_in_at) if row.checked_in_at else None,
            )
            for row in rows
        ],
        counts=counts,
        capped=capped,
    )


def _state_sql() -> ColumnElement[str]:
    """The desk's state of an appointment, in SQL (see ``_state``)."""
    a = APPOINTMENTS
    return case(
        (a.c.status == AppointmentStatus.BOOKED.value, case((a.c.confirmed_at.is_not(None), CONFIRMED), else_=BOOKED)),
        else_=a.c.status,
    )


def _matches(text: str) -> list[ColumnElement[bool]]:
    """What a search box text may be: a booking code, part of a phone number, part of a name."""
    found = [PATIENTS.c.full_name.icontains(text, autoescape=True)]
    code = normalise_booking_code(text)
    if code is not None:
        found.append(APPOINTMENTS.c.code == code)
    digits = _DIGITS.sub("", text)
    if len(digits) >= 3 and len(digits) * 2 >= len(text.replace(" ", "")):
        national = digits[1:] if digits.startswith("0") else digits[2:] if digits.startswith("84") else digits
        found.append(PATIENTS.c.phone.contains(national, autoescape=True))
    return found
