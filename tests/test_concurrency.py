"""Concurrent bookings and reschedules into one slot (PostgreSQL: real row locks, real parallel sessions)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from core.booking import appointments
from core.booking.appointments import BookingRequest
from core.booking.models import Appointment, Slot
from core.errors import DomainError
from tests.conftest import NOW
from tests.factories import build_world, new_patient, slot_at

TODAY = dt.date(2026, 12, 7)
ATTEMPTS = 200
CAPACITY = 5


pytestmark = pytest.mark.postgres_only(
    "concurrency is shown on PostgreSQL; SQLite serialises every writer (BEGIN IMMEDIATE)"
)


def _run_together(n: int, action) -> Counter:
    """Run ``action(i)`` in n threads released at once; count outcomes ("ok" or the error code)."""
    barrier = threading.Barrier(n)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def worker(i: int) -> None:
        barrier.wait()
        try:
            action(i)
            result = "ok"
        except DomainError as error:
            result = error.code
        except Exception as error:  # anything else is a failure of the test subject
            result = f"crash: {error!r}"
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_200_concurrent_bookings_fill_a_slot_exactly(db):
    world = build_world(db, start=TODAY, days=3, capacity=CAPACITY)
    target = slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00")
    patients = [new_patient(db, world.account_id, i + 1) for i in range(ATTEMPTS)]

    def attempt(i: int) -> None:
        with db.uow() as uow:
            appointments.book(
                uow,
                BookingRequest(slot_id=target, patient_id=patients[i], channel="test", account_id=world.account_id),
                now=NOW,
            )

    outcomes = _run_together(ATTEMPTS, attempt)
    assert outcomes == Counter({"ok": CAPACITY, "slot_full": ATTEMPTS - CAPACITY})
    with db.uow() as uow:
        rows = uow.session.scalars(select(Appointment).where(Appointment.slot_id == target)).all()
        assert uow.session.get(Slot, target).booked == CAPACITY
        assert sorted(a.queue_number for a in rows) == list(range(1, CAPACITY + 1))
    # Nothing else broke: the next slot still books normally.
    with db.uow() as uow:
        view, _ = appointments.book(
            uow,
            BookingRequest(
                slot_id=slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:30"),
                patient_id=new_patient(db, world.account_id, ATTEMPTS + 1),
                channel="test",
                account_id=world.account_id,
            ),
            now=NOW,
        )
    assert view.queue_number == CAPACITY + 1


def test_200_concurrent_reschedules_into_one_slot(db):
    world = build_world(db, start=TODAY, days=40, capacity=CAPACITY)
    target = slot_at(db, "nhi", TODAY + dt.timedelta(days=1), "07:00")
    codes: list[str] = []
    origins: dict[str, int] = {}
    for i in range(ATTEMPTS):
        day = TODAY + dt.timedelta(days=2 + i % 25)
        hhmm = ["07:00", "07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "10:30"][i // 25]
        origin = slot_at(db, "nhi", day, hhmm)
        with db.uow() as uow:
            view, _ = appointments.book(
                uow,
                BookingRequest(
                    slot_id=origin,
                    patient_id=new_patient(db, world.account_id, i + 1),
                    channel="test",
                    account_id=world.account_id,
                ),
                now=NOW,
            )
        codes.append(view.code)
        origins[view.code] = origin

    def attempt(i: int) -> None:
        with db.uow() as uow:
            appointments.reschedule(uow, codes[i], target, channel="test", now=NOW)

    outcomes = _run_together(ATTEMPTS, attempt)
    assert outcomes == Counter({"ok": CAPACITY, "slot_full": ATTEMPTS - CAPACITY})
    with db.uow() as uow:
        assert uow.session.get(Slot, target).booked == CAPACITY
        moved = uow.session.scalars(select(Appointment).where(Appointment.slot_id == target)).all()
        assert sorted(a.queue_number for a in moved) == list(range(1, CAPACITY + 1))
        # Every appointment that was not moved is intact in its old slot, and the moved ones freed theirs.
        for code in codes:
            appt = uow.session.scalar(select(Appointment).where(Appointment.code == code))
            assert appt.status == "booked"
            if appt.slot_id != target:
                assert appt.slot_id == origins[code]
        booked_total = uow.session.scalar(select(func.sum(Slot.booked)))
        live_total = uow.session.scalar(select(func.count()).select_from(Appointment))
        assert booked_total == live_total == ATTEMPTS


def test_one_patient_tapping_book_many_times_at_once_gets_one_appointment(db):
    """A double (or twentyfold) tap: different slots of one session, and the same request repeated."""
    world = build_world(db, start=TODAY, days=3, capacity=CAPACITY)
    day = TODAY + dt.timedelta(days=1)
    patient = new_patient(db, world.account_id)
    slots = [slot_at(db, "nhi", day, t) for t in ("07:00", "07:30", "08:00", "08:30")]

    def book(i: int, key: str | None = None) -> None:
        with db.uow() as uow:
            appointments.book(
                uow,
                BookingRequest(
                    slot_id=slots[i % len(slots)],
                    patient_id=patient,
                    channel="test",
                    account_id=world.account_id,
                    idempotency_key=key,
                ),
                now=NOW,
            )

    outcomes = _run_together(20, book)
    assert outcomes == Counter({"ok": 1, "duplicate_in_session": 19}), "one per session, even at the same moment"
    other_day = [slot_at(db, "mat", day + dt.timedelta(days=1), "07:00")]
    slots[:] = other_day
    outcomes = _run_together(20, lambda i: book(i, key="same-request"))
    assert outcomes == Counter({"ok": 20}), "the same request repeated at once returns the one appointment"
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 2
