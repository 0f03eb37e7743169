"""How the assistant reads short answers inside a form, and the department it suggests from symptoms."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.actions import parsing
from bot.actions.symptoms import suggest_department

TODAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Nữ", "female"), ("nu a", "female"), ("bé gái", "female"), ("nam", "male"), ("con trai", "male"), ("ok", None)],
)
def test_sex(text: str, expected: str | None) -> None:
    assert parsing.sex(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nguyễn thị mai", "Nguyễn Thị Mai"),
        ("Dạ tên là Trần  Văn Bình", "Trần Văn Bình"),
        ("0912345678", None),
        ("a", None),
        ("cho em hỏi là bệnh viện có khám vào chủ nhật không vậy ạ", None),
        ("thôi không đặt nữa", None),
        ("Phạm Quốc Huy", "Phạm Quốc Huy"),
    ],
)
def test_names(text: str, expected: str | None) -> None:
    assert parsing.person_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0912 345 678", "0912345678"),
        ("sdt của em +84912345678 ạ", "0912345678"),
        ("091.234.5678", "0912345678"),
        ("0123", None),
    ],
)
def test_phone_numbers_in_the_national_form(text: str, expected: str | None) -> None:
    assert parsing.phone(text) == expected


def test_visit_type_only_among_the_hospitals_own() -> None:
    assert parsing.visit_type("khám bảo hiểm", ["bhyt", "dich_vu"]) == "bhyt"
    assert parsing.visit_type("kham dich vu a", ["bhyt", "dich_vu"]) == "dich_vu"
    assert parsing.visit_type("kham dich vu a", ["bhyt"]) is None


@pytest.mark.parametrize("text", ["cho em ngày khác", "ngay khac duoc ko", "giờ khác đi ạ"])
def test_another_day(text: str) -> None:
    assert parsing.wants_another_day(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dạo này em hay đau bụng, ợ chua", "tieu_hoa"),
        ("dau nguc hoi hop", "tim_mach"),
        ("bé nhà em bị ho sốt 3 ngày", "nhi"),
        ("mắt em bị mờ", "mat"),
        ("em muốn đặt lịch", None),
    ],
)
def test_a_department_is_suggested_from_symptoms(text: str, expected: str | None) -> None:
    assert suggest_department(text) == expected
