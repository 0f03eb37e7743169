"""The record section a patient asks about (bot/nlu/record_sections.py) and the NLU component that puts it
on ``ask_record_summary`` messages (bot/nlu/record_section_extractor.py)."""

from __future__ import annotations

import json

import pytest

from bot.nlu.folding import strip_diacritics
from bot.nlu.record_sections import SECTIONS, find_section, find_section_match, section_entities, valid_sections
from tests.rasa_env import run_in_rasa

ASKED = [
    ("cho em xem kết quả máu của bé Na", "xet_nghiem"),
    ("kqxn của em có chưa ad", "xet_nghiem"),
    ("chỉ số đường huyết lần trước bao nhiêu", "xet_nghiem"),
    ("xét nghiêm của em có chưa", "xet_nghiem"),  # a typo in one word of two
    ("toa thuốc bác sĩ kê hôm qua", "don_thuoc"),
    ("thuốc bs kê cho con em uống ngày mấy lần", "don_thuoc"),
    ("kết quả siêu âm bụng", "chan_doan_hinh_anh"),
    ("x quang phổi của ba em", "chan_doan_hinh_anh"),
    ("x-quang tay có gãy không", "chan_doan_hinh_anh"),
    ("chụp CT đầu hôm qua", "chan_doan_hinh_anh"),
    ("bác sĩ kết luận gì sau khi siêu âm", "chan_doan_hinh_anh"),  # the ultrasound's conclusion
    ("kết quả nội soi dạ dày", "chan_doan_hinh_anh"),
    ("mũi tiêm tiếp theo của bé là khi nào", "tiem_chung"),
    ("bé còn thiếu mũi nào", "tiem_chung"),
    ("lịch sử tiêm chủng của con", "tiem_chung"),
    ("chích ngừa được mấy mũi rồi", "tiem_chung"),
    ("ngày hẹn tái khám của mẹ em", "tai_kham"),
    ("bác sĩ hẹn khi nào khám lại", "tai_kham"),
    ("bs hẹn mấy tuần nữa tái khám", "tai_kham"),
    ("bác sĩ chẩn đoán con tôi bị gì", "chan_doan"),
    ("lần trước bác sĩ nói em bị gì vậy", "chan_doan"),
    ("chẩn đoán hình ảnh lần trước", "chan_doan_hinh_anh"),  # the longer name wins
    ("viêm gan B của mẹ em âm tính hay dương tính", "xet_nghiem"),  # a test's outcome is a lab result
    ("AST ALT của ba tôi có cao không", "xet_nghiem"),  # lab tests by their names
    ("chỉ số PSA lần này bao nhiêu", "xet_nghiem"),
]


@pytest.mark.parametrize(("text", "expected"), ASKED)
def test_the_section_asked_for_is_found(text: str, expected: str) -> None:
    assert find_section(text) == expected


@pytest.mark.parametrize(("text", "expected"), ASKED)
def test_the_section_is_found_in_a_message_typed_without_diacritics(text: str, expected: str) -> None:
    assert find_section(strip_diacritics(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "xem hồ sơ bệnh án của tôi",  # the whole record
        "kết quả khám tai mũi họng",  # a department, not a shot in the nose
        "xem kết quả khám nội soi",  # "khám nội soi": the department
        "tiệm thuốc gần bệnh viện ở đâu",  # a shop, not a shot ("tiêm")
        "tòa nhà B",  # a building, not a prescription ("toa")
        "em có bị dị ứng thuốc nào không",  # allergies are no section
        "xem mau giup em",  # "mau" (quickly) is "máu" only written so
        "",
    ],
)
def test_words_that_name_no_section(text: str) -> None:
    assert find_section(text) is None


def test_the_match_gives_the_span_of_the_name() -> None:
    text = "Cho em xem [toa] Toa Thuốc của bé"
    match = find_section_match(text)
    assert match is not None and match.section == "don_thuoc"
    assert text[match.start : match.end] == "Toa Thuốc"


def test_every_section_has_names() -> None:
    assert {find_section(name) for name in ("chẩn đoán", "đơn thuốc", "xét nghiệm", "siêu âm", "tiêm chủng",
                                             "tái khám")} == set(SECTIONS)  # fmt: skip


def _section(value: str, start: int, end: int, extractor: str = "CRFEntityExtractor") -> dict:
    return {"entity": "record_section", "start": start, "end": end, "value": value, "extractor": extractor}


def test_a_learned_section_that_agrees_keeps_its_span() -> None:
    text = "cho em xem kết quả xét nghiệm máu"
    learned = _section("xet_nghiem", 11, 33)
    assert section_entities(text, [learned]) == [learned]


def test_a_learned_section_the_lexicon_contradicts_is_replaced() -> None:
    text = "x quang phổi của con em"
    entities = section_entities(text, [_section("xet_nghiem", 8, 12)])
    assert [(e["value"], text[e["start"] : e["end"]]) for e in entities] == [("chan_doan_hinh_anh", "x quang")]


def test_a_learned_value_that_is_no_slug_is_mapped_or_dropped() -> None:
    text = "xem toa thuốc lần trước"
    assert [e["value"] for e in section_entities("bé đã tiêm chưa", [_section("tiêm", 6, 10)])] == ["tiem_chung"]
    assert section_entities("xem hồ sơ của tôi", [_section("hồ sơ", 4, 9)]) == []
    assert [e["value"] for e in section_entities(text, [_section("toa thuốc", 4, 13)])] == ["don_thuoc"]


def test_on_other_intents_a_learned_section_that_names_none_is_dropped_and_none_is_added() -> None:
    # the learned model cut "nghiem" out of "xet nghiem": on a message it read as another intent the
    # dialogue must not get a section "nghiem"; a well-named one is mapped, and the lexicon adds nothing
    department = {"entity": "department", "start": 0, "end": 13, "value": "san_phu_khoa"}
    assert valid_sections("kq xet nghiem co bat thuong khong", [_section("nghiem", 7, 13)]) == []
    assert [e["value"] for e in valid_sections("kq xet nghiem", [_section("xet nghiem", 3, 13)])] == ["xet_nghiem"]
    assert valid_sections("siêu âm thai bao nhiêu tiền", [department]) == [department]


def test_other_entities_stay_and_a_missing_section_is_added() -> None:
    department = {"entity": "department", "start": 26, "end": 34, "value": "noi_tiet"}
    text = "xem lai ket qua xet nghiem noi tiet"
    entities = section_entities(text, [department])
    assert entities[0] == department
    assert [(e["value"], text[e["start"] : e["end"]], e["confidence"]) for e in entities[1:]] == [
        ("xet_nghiem", "xet nghiem", 1.0)
    ]


def test_the_component_settles_sections_of_record_questions_only() -> None:
    code = """
import json
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.record_section_extractor import RecordSectionExtractor
component = RecordSectionExtractor.create({}, None, None, None)
def ask(text, intent, entities=()):
    return Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": list(entities)})
a = ask("ket qua sieu am thai cua em", "ask_record_summary")
b = ask("cho em xem toa thuoc cua be Na", "ask_record_summary", [
    {"entity": "record_section", "start": 11, "end": 20, "value": "tai_kham", "extractor": "CRFEntityExtractor"}])
c = ask("đặt lịch tiêm chủng cho bé", "book_appointment", [
    {"entity": "department", "start": 9, "end": 19, "value": "tiem_chung", "extractor": "CRFEntityExtractor"}])
d = ask("xem hồ sơ của tôi", "ask_record_summary")
e = ask("kq xet nghiem co bat thuong khong", "check_appointment", [
    {"entity": "record_section", "start": 7, "end": 13, "value": "nghiem", "extractor": "CRFEntityExtractor"}])
component.process([a, b, c, d, e])
print(json.dumps([[(e["entity"], e["value"], e.get("extractor")) for e in m.get("entities")] for m in (a, b, c, d, e)]))
"""
    assert json.loads(run_in_rasa(code)) == [
        [["record_section", "chan_doan_hinh_anh", "RecordSectionExtractor"]],
        [["record_section", "don_thuoc", "RecordSectionExtractor"]],  # the learned "tai_kham" was wrong
        [["department", "tiem_chung", "CRFEntityExtractor"]],  # a booking: left alone
        [],
        [],  # another intent: the learned "nghiem" names no section
    ]
