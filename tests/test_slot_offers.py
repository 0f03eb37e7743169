"""Which slots the bot offers for an asked time: the pure ranking of core/booking/slots.py, without a database."""

from __future__ import annotations

import datetime as dt

from core.booking.slots import nearest_to
from core.booking.views import SlotView
from core.timeutil import LOCAL_TZ

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
