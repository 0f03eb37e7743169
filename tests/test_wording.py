"""The one Vietnamese wording of dates, times and parts of day (core/wording.py), without a database."""

from __future__ import annotations

import datetime as dt

from core.wording import WEEKDAYS_IN_SENTENCE_VI, day_vi, part_of_day_vi, short_day_vi, when_vi


def test_dates_read_with_their_weekday() -> None:
    assert day_vi(dt.date(2026, 12, 7)) == "Thứ Hai 07/12/2026"
    assert day_vi(dt.date(2026, 12, 13)) == "Chủ Nhật 13/12/2026"
    assert short_day_vi(dt.date(2026, 12, 12)) == "Thứ Bảy 12/12"
    assert WEEKDAYS_IN_SENTENCE_VI[0] == "thứ Hai"


def test_a_moment_is_read_in_vietnam_time_whatever_zone_it_comes_in() -> None:
    utc = dt.datetime(2026, 12, 7, 17, 30, tzinfo=dt.UTC)  # 00:30 the next day in Vietnam
    assert when_vi(utc) == "00:30 Thứ Ba 08/12/2026"


def test_parts_of_day() -> None:
    assert [part_of_day_vi(p) for p in ("morning", "noon", "afternoon", "evening")] == ["sáng", "trưa", "chiều", "tối"]
    assert part_of_day_vi("night") == "night"
