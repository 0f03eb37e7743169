"""The Vietnamese date/time parser (shared/nlu-schema.md): every rule, with and without tone marks."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from bot.nlu.vi_datetime import parse_datetime

WEDNESDAY = dt.datetime(2026, 11, 25, 9, 0)  # Wednesday 25 November 2026, 09:00 local
D = dt.date
T = dt.time

pytestmark = pytest.mark.unit  # pure: no database, no process


def parse(text: str, now: dt.datetime = WEDNESDAY):
    return parse_datetime(text, now)


def resolved(text: str, now: dt.datetime = WEDNESDAY):
    match = parse(text, now)
    assert match is not None, text
    return match.date, match.time, match.part_of_day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thứ 2", D(2026, 11, 30)),  # the coming Monday
        ("thứ 4", D(2026, 12, 2)),  # said on a Wednesday: next Wednesday, not today
        ("thứ 6", D(2026, 11, 27)),
        ("thu 6", D(2026, 11, 27)),
        ("t7", D(2026, 11, 28)),
        ("thứ hai", D(2026, 11, 30)),
        ("thu bay", D(2026, 11, 28)),
        ("chủ nhật", D(2026, 11, 29)),
        ("cn", D(2026, 11, 29)),
    ],
)
def test_a_weekday_alone_is_the_next_such_day(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thứ 2 tuần này", D(2026, 11, 23)),
        ("thứ 6 tuần này", D(2026, 11, 27)),
        ("chủ nhật tuần này", D(2026, 11, 29)),  # the last day of this Monday-to-Sunday week
        ("thứ 2 tuần sau", D(2026, 11, 30)),
        ("thứ 6 tuần sau", D(2026, 12, 4)),
        ("chủ nhật tuần sau", D(2026, 12, 6)),
        ("t7 tuan toi", D(2026, 12, 5)),
    ],
)
def test_this_week_and_next_week_are_monday_to_sunday(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ngày 15", D(2026, 12, 15)),  # the 15th of this month is past
        ("ngày 28", D(2026, 11, 28)),
        ("ngày 25", D(2026, 11, 25)),  # today is not in the past
        ("ngay 31", D(2026, 12, 31)),  # November has no 31st
        ("15/12", D(2026, 12, 15)),
        ("1/3", D(2027, 3, 1)),
        ("20/11", D(2027, 11, 20)),  # already past this year
        ("15-12", D(2026, 12, 15)),
        ("15/12/2027", D(2027, 12, 15)),
        ("ngày 15 tháng 1", D(2027, 1, 15)),
        ("mùng 5 tháng sau", D(2026, 12, 5)),
        ("mung 5", D(2026, 12, 5)),
    ],
)
def test_dates_without_a_year_are_the_next_that_is_not_past(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hôm nay", D(2026, 11, 25)),
        ("mai", D(2026, 11, 26)),
        ("ngày mai", D(2026, 11, 26)),
        ("ngay mai", D(2026, 11, 26)),
        ("mốt", D(2026, 11, 27)),
        ("ngày mốt", D(2026, 11, 27)),
        ("ngay mot", D(2026, 11, 27)),
        ("3 ngày nữa", D(2026, 11, 28)),
        ("10 hom nua", D(2026, 12, 5)),
    ],
)
def test_relative_days(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "time", "part"),
    [
        ("8h", T(8, 0), None),
        ("8g", T(8, 0), None),
        ("8 giờ", T(8, 0), None),
        ("8 gio", T(8, 0), None),
        ("8:00", T(8, 0), None),
        ("8h30", T(8, 30), None),
        ("7g30", T(7, 30), None),
        ("14h30", T(14, 30), None),
        ("8 rưỡi", T(8, 30), None),
        ("8h rưỡi", T(8, 30), None),
        ("2h kém 15", T(1, 45), None),
        ("2 giờ chiều", T(14, 0), "afternoon"),
        ("chiều 3h", T(15, 0), "afternoon"),
        ("7h tối", T(19, 0), "evening"),
        ("8h30 toi nay", T(20, 30), "evening"),
        ("2h kém 15 chiều", T(13, 45), "afternoon"),
        ("12h trưa", T(12, 0), "noon"),
        ("9h sáng", T(9, 0), "morning"),
        ("14h chiều", T(14, 0), "afternoon"),  # already 13-23: unchanged
    ],
)
def test_times_and_parts_of_day(text, time, part):
    _date, got_time, got_part = resolved(text)
    assert (got_time, got_part) == (time, part)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cho em đặt lịch khám nhi sáng thứ 2 tuần sau", (D(2026, 11, 30), None, "morning")),
        ("cho em dat lich kham nhi sang thu 2 tuan sau", (D(2026, 11, 30), None, "morning")),
        ("sáng mai 8h", (D(2026, 11, 26), T(8, 0), "morning")),
        ("sang mai 8h", (D(2026, 11, 26), T(8, 0), "morning")),
        ("thứ 6 lúc 2h chiều", (D(2026, 11, 27), T(14, 0), "afternoon")),
        ("15/12 lúc 9h", (D(2026, 12, 15), T(9, 0), None)),
        ("ngày mai lúc 14:30", (D(2026, 11, 26), T(14, 30), None)),
        ("tối nay", (D(2026, 11, 25), None, "evening")),
        ("buổi chiều", (None, None, "afternoon")),
    ],
)
def test_parts_combine_into_one_expression(text, expected):
    assert resolved(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "tôi muốn khám",  # "tôi" (I) is not "tối" (evening)
        "toi muon kham",
        "đổi sang khoa mắt",  # "sang" (to) is not "sáng" (morning)
        "doi sang khoa mat",
        "một người",  # "một" (one) is not "mốt"
        "chị Mai muốn đặt lịch",  # a name, not tomorrow
        "số 0912345678",
        "mã 7KQ2MX",
        "15/13",
        "25h",
        "xin chào",
    ],
)
def test_words_that_only_look_like_dates_are_not(text):
    assert parse(text) is None


def test_the_span_points_at_the_expression_in_the_original_text():
    text = "Em muốn khám SÁNG thứ 2 tuần sau ạ"
    match = parse(text)
    assert text[match.start : match.end] == "SÁNG thứ 2 tuần sau"


def test_decomposed_unicode_gives_the_same_answer_and_a_span_in_its_own_text():
    composed = "khám chiều mai 3h nhé"
    decomposed = unicodedata.normalize("NFD", composed)
    assert len(decomposed) > len(composed)
    a, b = parse(composed), parse(decomposed)
    assert (
        (a.date, a.time, a.part_of_day) == (b.date, b.time, b.part_of_day) == (D(2026, 11, 26), T(15, 0), "afternoon")
    )
    assert unicodedata.normalize("NFC", decomposed[b.start : b.end]) == "chiều mai 3h"


def test_the_first_expression_wins():
    match = parse("thứ 2 hoặc thứ 4")
    assert match.date == D(2026, 11, 30) and match.end == len("thứ 2")


def test_year_end_and_a_monday_said_on_a_monday():
    new_year_eve = dt.datetime(2026, 12, 31, 10, 0)
    assert resolved("mùng 5 tháng sau", new_year_eve)[0] == D(2027, 1, 5)
    assert resolved("mai", new_year_eve)[0] == D(2027, 1, 1)
    monday = dt.datetime(2026, 11, 30, 8, 0)
    assert resolved("thứ 2", monday)[0] == D(2026, 12, 7)
    assert resolved("thứ 2 tuần này", monday)[0] == D(2026, 11, 30)
