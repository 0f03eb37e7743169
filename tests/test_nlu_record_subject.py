"""Whose record a message asks about (bot/nlu/record_subject.py): the writer's child, and its name."""

from __future__ import annotations

import pytest

from bot.nlu.evaluate import strip_diacritics  # keeps capitals
from bot.nlu.record_subject import Subject, record_subject

CHILD = [
    ("cho em xem kết quả của bé Na", "Na"),
    ("ket qua xet nghiem cua be na", "Na"),  # typed in lower case without diacritics
    ("bé Minh Anh tiêm mấy mũi rồi", "Minh Anh"),
    ("toa thuốc của bé Na Khám hôm qua", "Na"),  # "Khám" is no name, capitals or not
    ("cu Tí nhà em khám xong chưa", "Tí"),
    ("ku Bin bị gì vậy ad", "Bin"),
    ("kết quả máu của con tôi", None),
    ("con em còn thiếu mũi nào không", None),
    ("cháu nhà em bị gì mà phải nằm viện", None),
    ("thằng cu nhà mình khi nào tái khám", None),
    ("bé nhà em đã tiêm những mũi nào", None),
    ("con gái em siêu âm tim kết quả sao", None),
    ("cháu nội tôi khám hôm qua", None),
    ("xem lịch sử tiêm chủng của con", None),
    ("em bé tiêm vắc xin gì rồi", None),
    ("thằng bé uống thuốc gì vậy", None),
]


@pytest.mark.parametrize(("text", "name"), CHILD)
def test_a_child_of_the_writer_and_its_name(text: str, name: str | None) -> None:
    assert record_subject(text) == Subject(child=True, name=name)


@pytest.mark.parametrize(("text", "name"), CHILD)
def test_a_child_without_diacritics(text: str, name: str | None) -> None:
    subject = record_subject(strip_diacritics(text))
    assert subject.child
    assert subject.name == (strip_diacritics(name) if name else None)


@pytest.mark.parametrize(
    "text",
    [
        "xem kết quả xét nghiệm của tôi",
        "đơn thuốc của mẹ em",  # a parent: not a child of the writer
        "cháu muốn xem kết quả",  # a young person speaking of themself
        "cho con xem kết quả với",  # "con" speaking of themself to an elder
        "còn mũi nào chưa tiêm không",  # "còn" (still), not "con"
        "con thieu mui nao khong",  # "còn thiếu" typed without diacritics
        "xem lại hồ sơ cũ",  # "cũ" (old), not "cu"
        "ho so cu cua toi",
        "",
    ],
)
def test_no_child(text: str) -> None:
    assert record_subject(text) == Subject(child=False, name=None)
