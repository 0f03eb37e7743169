"""Bookings for today at the desk, whatever the hour: booked as if early this morning (the booking rules' lead
time is measured from that moment), each patient on an account of their own (no per-account caps in the way).
Used by the desk's console tests and bench/console.py."""

from __future__ import annotations

import datetime as dt
import itertools

from core.booking import appointments, patients
from core.booking.views import AppointmentView
from core.timeutil import local_to_utc
from core.uow import Database
from tests.factories import slot_at, today_local

_numbers = itertools.count(1)
# The slots of tests/factories.build_world's day (07:00-11:00 and 13:30-16:30, 30 minutes each).
SLOT_TIMES = tuple(f"{h:02d}:{m:02d}" for h in range(7, 11) for m in (0, 30)) + tuple(
    f"{h:02d}:{m:02d}" for h in range(13, 17) for m in (0, 30) if (13, 30) <= (h, m) < (16, 30)
)


def morning_of(day: dt.date) -> dt.datetime:
    return local_to_utc(day, dt.time(5, 0))


def book_today(
    db: Database,
    department: str,
    hhmm: str,
    *,
    full_name: str | None = None,
    phone: str | None = None,
    visit_type: str | None = "bhyt",
    day: dt.date | None = None,
    **patient: object,
) -> AppointmentView:
    """A booking of a new patient in ``department`` at local ``hhmm`` today (or ``day``)."""
    n = next(_numbers)
    day = day or today_local()
    now = morning_of(day) if day == today_local() else local_to_utc(today_local(), dt.time(5, 0))
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "test", f"desk-{n}")
    with db.uow() as uow:
        view, _ = patients.register_patient(
            uow,
            account_id=account_id,
            full_name=full_name or f"Người Bệnh {n}",
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n),
            sex="female",
            phone=phone or f"098{n:07d}",
            **patient,
        )
    with db.uow() as uow:
        booked, _ = appointments.book(
            uow,
            appointments.BookingRequest(
                slot_id=slot_at(db, department, day, hhmm),
                patient_id=view.id,
                channel="test",
                account_id=account_id,
                visit_type=visit_type,
            ),
            now=now,
        )
    return booked
