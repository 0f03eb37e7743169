"""Which slots the bot offers for an asked day, part of day and time: the pure ranking of core/booking/slots.py
(without a database), then the service over one."""

from __future__ import annotations

import datetime as dt

from core.booking.slots import add_closure, nearest_to, offer_slots, search_slots
from core.booking.views import SlotOffer, SlotView
from core.timeutil import LOCAL_TZ
from tests.factories import build_world, today_local

MONDAY = dt.date(2026, 12, 7)


def slot(slot_id: int, day: dt.date, hour: int, minute: int = 0) -> SlotView:
    start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LOCAL_TZ)
    return SlotView(
        id=slot_id,
        department="tim_mach",
        department_name="Tim mạch",
        doctor=None,
        day=day,
        part_of_day="morning" if hour < 12 else "afternoon",
        start=start,
        end=start + dt.timedelta(minutes=15),
        free=1,
        room="",
    )


def test_the_slots_nearest_the_asked_time_are_offered_in_time_order() -> None:
    found = [slot(i, MONDAY, 7 + i // 4, 15 * (i % 4)) for i in range(16)]  # 07:00 … 10:45
    chosen = nearest_to(found, dt.time(9, 10), limit=4)
    assert [f"{s.start:%H:%M}" for s in chosen] == ["08:45", "09:00", "09:15", "09:30"]


def test_only_the_earliest_day_is_offered_even_if_a_later_day_is_nearer_the_time() -> None:
    tuesday = MONDAY + dt.timedelta(days=1)
    found = [slot(1, MONDAY, 7), slot(2, MONDAY, 8), slot(3, tuesday, 14), slot(4, tuesday, 15)]
    chosen = nearest_to(found, dt.time(14, 30), limit=4)
    assert [s.id for s in chosen] == [1, 2]


def test_equally_near_slots_keep_the_search_order_and_the_limit_holds() -> None:
    found = [slot(1, MONDAY, 8), slot(2, MONDAY, 10), slot(3, MONDAY, 12)]
    assert [s.id for s in nearest_to(found, dt.time(9, 0), limit=1)] == [1]
    assert [s.id for s in nearest_to(found, dt.time(11, 0), limit=2)] == [2, 3]


def test_nothing_found_offers_nothing() -> None:
    assert nearest_to([], dt.time(9, 0), limit=4) == []


# --- the service, over a database ----------------------------------------------------------------------------


def offer(db, **asked: object) -> SlotOffer:
    with db.reader() as uow:
        return offer_slots(uow, hospital_slug="test", department_slug="nhi", limit=4, **asked)


def test_the_asked_day_and_part_of_day_nearest_the_asked_time(db) -> None:
    build_world(db, start=today_local(), days=14)
    tomorrow = today_local() + dt.timedelta(days=1)
    found = offer(db, day=tomorrow, part_of_day="afternoon", wanted=dt.time(15, 10))
    assert not found.relaxed
    assert [(s.day, f"{s.start:%H:%M}") for s in found.slots] == [
        (tomorrow, "14:30"),
        (tomorrow, "15:00"),
        (tomorrow, "15:30"),
        (tomorrow, "16:00"),
    ]


def test_a_full_asked_day_gives_the_nearest_slots_from_now_and_says_so(db) -> None:
    build_world(db, start=today_local(), days=14)
    tomorrow = today_local() + dt.timedelta(days=1)
    with db.uow() as uow:
        add_closure(uow, hospital_slug="test", start=tomorrow, end=tomorrow, reason="nghỉ lễ", department_slug="nhi")
    found = offer(db, day=tomorrow, part_of_day="morning")
    assert found.relaxed
    with db.reader() as uow:
        nearest = search_slots(uow, hospital_slug="test", department_slug="nhi", limit=4)
    assert found.slots == tuple(nearest) and len(nearest) == 4
    assert all(s.day != tomorrow for s in found.slots)


def test_nothing_asked_gives_the_nearest_slots_from_now(db) -> None:
    build_world(db, start=today_local(), days=14)
    found = offer(db)
    with db.reader() as uow:
        assert found == SlotOffer(
            slots=tuple(search_slots(uow, hospital_slug="test", department_slug="nhi", limit=4)), relaxed=False
        )
