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


# Issue 16: what a public Vietnamese date/time corpus found. Each rule is tested written with its tone marks
# and stripped of them, as patients type on a phone.


def strip_marks(text: str) -> str:
    """The text as typed without tone marks: "tháng mười hai" → "thang muoi hai", "đêm" → "dem"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def written_and_stripped(cases):
    """Each (text, expected) case twice: as written and without its tone marks."""
    return [
        pytest.param(form, expected, id=form)
        for text, expected in cases
        for form in dict.fromkeys([text, strip_marks(text)])
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("thứ 2 tới", (D(2026, 11, 30), None, None)),  # the coming Monday, not Monday evening
            ("thứ 6 tới", (D(2026, 11, 27), None, None)),
            ("thứ 2 sắp tới", (D(2026, 11, 30), None, None)),
            ("khám thứ 2 tới nhé", (D(2026, 11, 30), None, None)),
            ("thứ 2 tới lúc 8h", (D(2026, 11, 30), T(8, 0), None)),
            ("tuần tới", (D(2026, 11, 30), None, None)),
        ]
    ),
)
def test_toi_after_a_weekday_is_coming_not_evening(text, expected):
    assert resolved(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("8h tối", (None, T(20, 0), "evening")),
            ("tối nay", (D(2026, 11, 25), None, "evening")),
            ("buổi tối", (None, None, "evening")),
            ("7h tối mai", (D(2026, 11, 26), T(19, 0), "evening")),
            ("thứ 6 tối 7h", (D(2026, 11, 27), T(19, 0), "evening")),  # a time after it: the evening
        ]
    ),
)
def test_toi_next_to_a_time_or_nay_or_buoi_is_the_evening(text, expected):
    assert resolved(text) == expected


def test_written_with_marks_toi_and_toi_are_told_apart():
    assert resolved("thứ 2 tối") == (D(2026, 11, 30), None, "evening")
    assert resolved("thứ 2 tới") == (D(2026, 11, 30), None, None)
    assert resolved("thứ 2 tôi bận") == (D(2026, 11, 30), None, None)  # "tôi" (I) is neither


@pytest.mark.parametrize("text", ["từ 8h tới 10h", "tu 8h toi 10h"])
def test_toi_before_a_number_is_until(text):
    assert resolved(text) == (None, T(8, 0), None)


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("mồng 3 tháng ba", D(2027, 3, 3)),
            ("mùng 5 tháng tư", D(2027, 4, 5)),
            ("ngày 10 tháng mười hai", D(2026, 12, 10)),
            ("ngày 12 tháng mười một", D(2027, 11, 12)),  # 12/11 is past this year
            ("ngày 1 tháng một", D(2027, 1, 1)),
            ("mùng một tháng giêng", D(2027, 1, 1)),
            ("mùng mười tháng chạp", D(2026, 12, 10)),
            ("ngày 20 tháng bảy", D(2027, 7, 20)),
            ("3 tháng 9", D(2027, 9, 3)),
        ]
    ),
)
def test_months_in_words(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped([("tháng giêng", D(2027, 1, 1)), ("tháng chạp", D(2026, 12, 1)), ("tháng ba", D(2027, 3, 1))]),
)
def test_giêng_and_chạp_are_the_calendar_january_and_december(text, expected):
    match = parse(text)
    assert (match.date, match.grain) == (expected, "month")


def test_thang_sau_is_next_month_and_thang_sau_with_marks_june():
    assert resolved("mùng 5 tháng sau")[0] == D(2026, 12, 5)
    assert resolved("mung 5 thang sau")[0] == D(2026, 12, 5)
    assert resolved("mùng 5 tháng sáu")[0] == D(2027, 6, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("hôm kia", D(2026, 11, 23)),
            ("hôm qua", D(2026, 11, 24)),
            ("ngày hôm qua", D(2026, 11, 24)),
            ("khám hôm qua", D(2026, 11, 24)),
            ("thứ 5 vừa rồi", D(2026, 11, 19)),
            ("thứ 2 vừa qua", D(2026, 11, 23)),
            ("thứ 4 vừa rồi", D(2026, 11, 18)),  # said on a Wednesday: last week's
            ("thứ 5 trước", D(2026, 11, 19)),
            ("thứ 2 tuần trước", D(2026, 11, 16)),
            ("chủ nhật tuần trước", D(2026, 11, 22)),
            ("3 ngày trước", D(2026, 11, 22)),
            ("cách đây 2 tuần", D(2026, 11, 11)),
            ("ngày 20 vừa rồi", D(2026, 11, 20)),
            ("ngày 12/11 vừa rồi", D(2026, 11, 12)),
            ("ngày 10 tháng trước", D(2026, 10, 10)),
        ]
    ),
)
def test_past_expressions_resolve_to_the_past(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected", "grain"),
    [
        ("tuần qua", D(2026, 11, 16), "week"),
        ("tuan qua", D(2026, 11, 16), "week"),
        ("tuần trước", D(2026, 11, 16), "week"),
        ("tháng trước", D(2026, 10, 1), "month"),
        ("thang truoc", D(2026, 10, 1), "month"),
        ("tháng vừa rồi", D(2026, 10, 1), "month"),
        ("tháng sau", D(2026, 12, 1), "month"),
        ("tháng này", D(2026, 11, 25), "month"),  # the current month: from today
    ],
)
def test_a_past_or_coming_week_or_month_is_its_first_day_with_its_grain(text, expected, grain):
    match = parse(text)
    assert (match.date, match.grain) == (expected, grain)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tối qua", (D(2026, 11, 24), None, "evening")),
        ("đêm qua", (D(2026, 11, 24), None, "evening")),
        ("buoi toi qua", (D(2026, 11, 24), None, "evening")),
        *written_and_stripped([("chiều qua", (D(2026, 11, 24), None, "afternoon"))]),
    ],
)
def test_last_night_and_yesterday_afternoon(text, expected):
    # Without marks "toi qua" and "dem qua" are rather "tôi qua" (I come over) and "đem qua" (bring over).
    assert resolved(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("tháng 3 năm 2018", (D(2018, 3, 1), "month")),
            ("15/3 năm 2018", (D(2018, 3, 15), "day")),
            ("15/3 2018", (D(2018, 3, 15), "day")),
            ("15/3/2018", (D(2018, 3, 15), "day")),
            ("ngày 15 tháng 3 năm 2018", (D(2018, 3, 15), "day")),
            ("ngày 3 tháng 9 năm 91", (D(1991, 9, 3), "day")),
            ("mùng 5 tháng ba năm sau", (D(2027, 3, 5), "day")),
            ("tháng 3 năm ngoái", (D(2025, 3, 1), "month")),
            ("tháng 3/2018", (D(2018, 3, 1), "month")),
            ("khám năm 2018", (D(2018, 1, 1), "year")),
        ]
    ),
)
def test_years_are_not_ignored(text, expected):
    match = parse(text)
    assert (match.date, match.grain) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("8h sáng ngày 23/4", (D(2027, 4, 23), T(8, 0), "morning")),
            ("9h ngày 12/11", (D(2027, 11, 12), T(9, 0), None)),  # the next 12/11 not in the past
            ("9h ngày 30/11", (D(2026, 11, 30), T(9, 0), None)),
            ("14h30 ngày 15/12/2026", (D(2026, 12, 15), T(14, 30), None)),
            ("8h sáng ngày 12 tháng mười một", (D(2027, 11, 12), T(8, 0), "morning")),
        ]
    ),
)
def test_a_full_date_after_a_time_wins_and_combines_with_it(text, expected):
    match = parse(text)
    assert (match.date, match.time, match.part_of_day) == expected
    assert match.end == len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    written_and_stripped(
        [
            ("ba giờ rưỡi chiều", (T(15, 30), "afternoon")),
            ("mười giờ sáng", (T(10, 0), "morning")),
            ("bảy giờ kém mười lăm", (T(6, 45), None)),
            ("mười hai giờ trưa", (T(12, 0), "noon")),
            ("hai giờ chiều", (T(14, 0), "afternoon")),
            ("1 giờ rưỡi", (T(1, 30), None)),
            ("tám giờ", (T(8, 0), None)),
            ("tám rưỡi sáng", (T(8, 30), "morning")),
            ("chín giờ mười lăm", (T(9, 15), None)),
            ("hai giờ kém năm chiều", (T(13, 55), "afternoon")),
            ("mười giờ đêm", (T(22, 0), "evening")),
            ("2 giờ đêm", (T(2, 0), "evening")),  # the small hours stay small
            ("mười hai giờ đêm", (T(0, 0), "evening")),
        ]
    ),
)
def test_hours_in_words(text, expected):
    _date, time, part = resolved(text)
    assert (time, part) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3/9/91", D(1991, 9, 3)), ("1/3/27", D(2027, 3, 1)), ("15/12/26", D(2026, 12, 15)), ("1/1/76", D(1976, 1, 1))],
)
def test_a_two_digit_year_is_the_one_nearest_to_today(text, expected):
    assert resolved(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "chiều cao 1m6",  # height, not afternoon
        "tối đa 3 lần",  # at most
        "doi lich sang khoa mat",
        "uống 3 tháng",  # a duration
        "sốt 37.5 độ",
        "giá 1.500.000 đồng",
        "tôi qua viện",
        "toi qua vien",
        "dem qua cho bac si",
        "số thứ tự của em là bao nhiêu",  # queue number, not Wednesday
        "so thu tu cua em",
        "thử 2 lần",
        "mong ba mẹ khỏe",  # hope, not "mồng ba"
        "thuốc uống ngày 2 lần",  # twice a day
        "em đau 1 tuần nay",  # for a week now
        "bé được 3 tháng 2 ngày",  # an age
    ],
)
def test_more_words_that_only_look_like_dates(text):
    assert parse(text) is None


@pytest.mark.parametrize("text", ["dời lịch sang thứ 6", "doi lich sang thu 6", "chuyen sang ngay 15"])
def test_sang_after_a_verb_of_moving_is_to_not_morning(text):
    assert resolved(text)[2] is None
