"""Who a visit is for (bot/nlu/relations.py and its Rasa component): "cho mẹ", "cho bé", "con trai tôi"…, with
and without diacritics, and the words that only look like them ("còn lịch", "cho tôi hỏi", "thứ ba")."""

from __future__ import annotations

import json
import unicodedata

import pytest

from bot.nlu.evaluate import strip_diacritics
from bot.nlu.relations import RELATIONS, relation_entity, visit_relation
from core.booking.vocabulary import Relationship
from tests.rasa_env import run_in_rasa

SAID = [
    ("đặt lịch khám nhi cho bé", "child", "bé"),
    ("cho mẹ tôi khám mắt", "mother", "mẹ tôi"),
    ("đặt lịch cho con trai tôi", "son", "con trai"),
    ("cho ba em khám tim", "father", "ba em"),
    ("khám cho vợ", "wife", "vợ"),
    ("hẹn khám cho chồng em sáng mai", "husband", "chồng"),
    ("đăng ký khám tai mũi họng cho con gái em", "daughter", "con gái"),
    ("đặt lịch cho con", "child", "con"),  # "cho con" is a strong cue
    ("con tôi bị sốt, đặt lịch khám nhi", "child", "con tôi"),
    ("đặt lịch khám cho bố mẹ", "parent", "bố mẹ"),
    ("bà nội em bị đau khớp", "grandmother", "bà nội"),
    ("hẹn khám phổi cho ông ngoại", "grandfather", "ông ngoại"),
    ("cho bà xã khám thai", "wife", "bà xã"),
    ("đặt khám cho em gái tôi", "sibling", "em gái"),
    ("cho cháu nội tôi tiêm ngừa", "grandchild", "cháu nội"),
    ("em bé nhà em cần khám", "child", "em bé"),
    ("đặt lịch khám cho tôi", "self", "tôi"),
    ("đặt cho mình lịch khám da liễu", "self", "mình"),
    ("cho tôi khám mắt", "self", "tôi"),
    ("lấy số khám sáng mai cho em nhé", "self", "em"),
    ("mẹ em muốn đặt lịch cho bé", "child", "bé"),  # the one named after "cho" is the patient
    ("Dạ cho em hỏi đặt lịch khám cho mẹ em bên cơ xương khớp", "mother", "mẹ em"),
]


@pytest.mark.parametrize(("text", "relation", "words"), SAID)
def test_who_the_visit_is_for(text: str, relation: str, words: str) -> None:
    found = visit_relation(text)
    assert found is not None and found.value == relation
    assert text[found.start : found.end].startswith(words)


@pytest.mark.parametrize(("text", "relation", "words"), SAID)
def test_the_same_typed_without_diacritics(text: str, relation: str, words: str) -> None:
    found = visit_relation(strip_diacritics(text))
    assert found is not None and found.value == relation


@pytest.mark.parametrize(
    "text",
    [
        "còn lịch không",  # "còn" (still), not "con"
        "con lich khong",  # the same typed without diacritics
        "con lich kham mat sang mai ko",
        "cho tôi hỏi",  # the writer asking
        "cho toi hoi gio lam viec",
        "cho con hỏi khoa nhi ở đâu",  # "con" speaking of themself to an elder
        "cho em đặt lịch khám nhi sáng thứ 2 tuần sau",
        "cho tôi gặp nhân viên",
        "cho em giờ khác muộn hơn",  # asking for a time, not saying who goes
        "cho em 1 chỗ khám ngoại",
        "đặt trước lịch khám cho 2 vợ chồng",  # two people
        "đặt lịch thứ ba tuần sau",  # "ba" is three in "thứ ba"
        "khám lúc ba giờ chiều",
        "dat lich ba ngay nua",
        "mã lịch hẹn của tôi là gì",  # "mã" (code), not "má"
        "ma lich hen cua toi la gi",
        "bỏ lịch hẹn",  # "bỏ" (drop), not "bố"
        "bo lich kham",
        "vo cung lo lang",  # "vô cùng"
        "anh ơi đặt lịch khám mắt",  # addressing staff, not a brother
        "đặt lịch khám",
        "",
    ],
)
def test_no_relation(text: str) -> None:
    assert visit_relation(text) is None


def test_every_relation_is_one_a_profile_can_store() -> None:
    assert set(RELATIONS) == {r.value for r in Relationship}


def test_the_entity_spans_the_words_as_written_even_decomposed() -> None:
    written = unicodedata.normalize("NFD", "khám mắt cho mẹ tôi")
    entity = relation_entity(written)
    assert entity is not None and entity["value"] == "mother"
    assert unicodedata.normalize("NFC", str(entity["text"])) == "mẹ tôi"


@pytest.mark.parametrize(
    ("said", "stored", "sex", "fits"),
    [
        ("mother", "mother", "female", True),
        ("mother", "parent", "female", True),  # a parent stored without the detail, a woman
        ("mother", "parent", "male", False),
        ("mother", "father", "male", False),
        ("child", "son", "male", True),  # "bé" fits a son and a daughter
        ("child", "daughter", "female", True),
        ("son", "daughter", "female", False),
        ("son", "child", "male", True),
        ("self", "self", "male", True),
        ("self", "child", "male", False),
        ("grandmother", "grandparent", "female", True),
        ("sibling", "other", "female", False),
    ],
)
def test_which_stored_profile_fits_the_relative_said(said: str, stored: str, sex: str, fits: bool) -> None:
    assert Relationship(said).fits(stored, sex) is fits


def test_the_component_adds_the_relation_to_every_message() -> None:
    code = """
import json
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.relation_extractor import RelationExtractor
component = RelationExtractor.create({}, None, None, None)
def said(text, intent):
    return Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []})
a = said("dat lich kham cho con trai toi", "book_appointment")
b = said("ba tôi đau ngực dữ dội", "emergency")
c = said("còn lịch không", "book_appointment")
component.process([a, b, c])
print(json.dumps([[(e["entity"], e["value"], e["text"], e.get("extractor")) for e in m.get("entities")]
                  for m in (a, b, c)]))
"""
    assert json.loads(run_in_rasa(code)) == [
        [["relation", "son", "con trai", "RelationExtractor"]],
        [["relation", "father", "ba tôi", "RelationExtractor"]],
        [],
    ]
