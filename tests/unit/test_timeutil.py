"""Vietnamese local time against the UTC the database holds (core/timeutil.py)."""

from __future__ import annotations

import datetime as dt

from core.timeutil import ensure_utc, local_to_utc, local_today, to_local
from core.wording import day_vi


def test_vietnam_is_seven_hours_ahead_all_year() -> None:
    assert local_to_utc(dt.date(2026, 12, 7), dt.time(8, 0)) == dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)
    assert local_to_utc(dt.date(2026, 7, 1), dt.time(0, 30)) == dt.datetime(2026, 6, 30, 17, 30, tzinfo=dt.UTC)
    assert to_local(dt.datetime(2026, 6, 30, 17, 30, tzinfo=dt.UTC)).time() == dt.time(0, 30)


def test_the_local_day_turns_at_midnight_in_vietnam_not_in_utc() -> None:
    assert local_today(dt.datetime(2026, 12, 6, 16, 59, tzinfo=dt.UTC)) == dt.date(2026, 12, 6)
    assert local_today(dt.datetime(2026, 12, 6, 17, 0, tzinfo=dt.UTC)) == dt.date(2026, 12, 7)


def test_a_naive_time_from_sqlite_is_utc() -> None:
    assert ensure_utc(dt.datetime(2026, 12, 7, 1, 0)) == dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


def test_a_day_is_written_as_patients_read_it() -> None:
    assert day_vi(dt.date(2026, 12, 7)) == "Thứ Hai 07/12/2026"
    assert day_vi(dt.date(2026, 12, 13)) == "Chủ Nhật 13/12/2026"
