"""Birth dates through the date/time parser (``parse_birth_date``): never in the future, two-digit years
pivoted to the past, and a reason when the answer is incomplete, with and without tone marks."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.vi_datetime import parse_birth_date, parse_datetime

TODAY = dt.date(2026, 11, 25)
D = dt.date

pytestmark = pytest.mark.unit  # pure: no database, no process


def strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3/9/91", D(1991, 9, 3)),
        ("03-09-1991", D(1991, 9, 3)),
        ("1991-09-03", D(1991, 9, 3)),
        ("3 tháng 9 năm 1991", D(1991, 9, 3)),
        ("3 thang 9 nam 1991", D(1991, 9, 3)),
        ("ngày 3 tháng chín năm 91", D(1991, 9, 3)),
        ("dạ cháu sinh ngày 3/9/91 ạ", D(1991, 9, 3)),
        ("15/08/1985", D(1985, 8, 15)),
        ("dạ 1-5-1990 ạ", D(1990, 5, 1)),
        ("15.8.85", D(1985, 8, 15)),
        ("3/2/20", D(2020, 2, 3)),  # a child's: 2020, not 1920
        ("25/11/26", D(2026, 11, 25)),  # born today
        ("26/11/26", D(1926, 11, 26)),  # tomorrow in 2026: so 1926
        ("ngày 2 tháng 9 năm 1975", D(1975, 9, 2)),
        ("ngay 2 thang 9 nam 1975", D(1975, 9, 2)),
    ],
)
def test_birth_dates_as_people_write_them(text, expected):
    found = parse_birth_date(text, TODAY)
    assert (found.date, found.problem) == (expected, None)


@pytest.mark.parametrize(
    ("text", "problem", "year"),
    [
        ("sinh năm 91", "year_only", 1991),  # a year alone does not make a profile: the day and month are asked
        ("sinh nam 1991", "year_only", 1991),
        ("1991", "year_only", 1991),
        ("tháng 9 năm 1991", "no_day", 1991),
        ("3/9", "no_year", None),
        ("ngày 3 tháng 9", "no_year", None),
        ("15/08/2030", "future", 2030),
        ("sinh năm 2030", "future", 2030),
        ("1/1/1890", "too_old", 1890),
        ("31/02/1990", "unreadable", 1990),
        ("32/13/2020", "unreadable", None),
        ("hôm qua", "unreadable", None),  # only calendar dates are birth dates
        ("thứ 2", "unreadable", None),
        ("không nhớ", "unreadable", None),
    ],
)
def test_an_incomplete_impossible_or_future_birth_date_says_why(text, problem, year):
    found = parse_birth_date(text, TODAY)
    assert (found.date, found.problem, found.year) == (None, problem, year)


@given(
    day=st.integers(1, 31),
    month=st.integers(1, 12),
    year=st.integers(1900, 2099),
    two_digits=st.booleans(),
    today=st.dates(D(2000, 1, 1), D(2090, 12, 31)),
    form=st.sampled_from(["{d}/{m}/{y}", "{d}-{m}-{y}", "ngày {d} tháng {m} năm {y}", "{d} thang {m} nam {y}"]),
)
def test_a_birth_date_is_never_after_today(day, month, year, two_digits, today, form):
    written = form.format(d=day, m=month, y=f"{year % 100:02d}" if two_digits else year)
    found = parse_birth_date(written, today)
    assert (found.date is None) == (found.problem is not None)
    if found.date is not None:
        assert found.date <= today and (found.date.day, found.date.month) == (day, month)


PHRASES = [
    "sáng thứ 2 tuần sau",
    "chiều mai 3h",
    "ba giờ rưỡi chiều",
    "mười giờ sáng thứ sáu",
    "bảy giờ kém mười lăm tối nay",
    "mùng 5 tháng tư",
    "ngày 10 tháng mười hai",
    "8h sáng ngày 23/4",
    "thứ 5 vừa rồi",
    "hôm kia",
    "tháng 3 năm 2018",
    "15/3 năm 2018",
    "ngày hôm qua",
    "tháng giêng",
    "mùng một tháng chạp",
    "3 ngày nữa",
    "cách đây 2 tuần",
    "thứ 2 tuần trước",
    "mười hai giờ trưa mai",
    "9h ngày 12 tháng mười một",
]


@given(
    phrase=st.sampled_from(PHRASES),
    before=st.sampled_from(["", "cho em đặt lịch ", "dạ ", "khám "]),
    after=st.sampled_from(["", " ạ", " nhé", " được không"]),
    now=st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2035, 12, 31)),
)
def test_written_and_stripped_forms_parse_alike(phrase, before, after, now):
    written = parse_datetime(before + phrase + after, now)
    stripped = parse_datetime(strip_marks(before + phrase + after), now)
    assert written is not None and stripped is not None
    assert (written.date, written.time, written.part_of_day, written.grain) == (
        stripped.date,
        stripped.time,
        stripped.part_of_day,
        stripped.grain,
    )
    assert (written.start, written.end) == (len(before), len(before) + len(phrase))


@given(text=st.text(max_size=60), now=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2090, 12, 31)))
def test_any_text_parses_without_an_error(text, now):
    match = parse_datetime(text, now)
    assert match is None or 0 <= match.start < match.end <= len(text)
    assert parse_birth_date(text, now.date()).problem in {
        None,
        "unreadable",
        "no_year",
        "no_day",
        "year_only",
        "future",
        "too_old",
    }
