"""Checks of the second held-out NLU set (data/tests/nlu_heldout_style.yml, see data/tests/README.md): the
schema's intents and entity values, about 40 % typed without diacritics, and none of it in the training data."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.rasa_env import run_in_rasa
from tests.test_nlu_data import (
    DEPARTMENTS,
    NATIONAL_PHONE,
    RECORD_SECTIONS,
    SCHEMA_ENTITIES,
    SCHEMA_INTENTS,
    _entities,
    _has_diacritics,
    _items,
    _plain,
)

ROOT = Path(__file__).resolve().parents[1]
HELDOUT_FILE = ROOT / "data" / "tests" / "nlu_heldout_style.yml"
TRAINING_DIR = ROOT / "data" / "training"
# A held-out message sharing this share of its folded words with a training message counts as a near copy.
NEAR_COPY = 0.75


def _intents(path: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert str(data["version"]) == "3.1"
    return {block["intent"]: _items(block["examples"]) for block in data["nlu"] if "intent" in block}


def _words(example: str) -> frozenset[str]:
    text = unicodedata.normalize("NFD", _plain(example).lower().replace("đ", "d"))
    text = "".join(char for char in text if unicodedata.category(char) != "Mn")
    return frozenset(re.sub(r"[^\w\s]", " ", text).split())


@pytest.fixture(scope="module")
def heldout() -> dict[str, list[str]]:
    return _intents(HELDOUT_FILE)


def test_every_schema_intent_has_about_twenty_messages(heldout: dict[str, list[str]]) -> None:
    assert set(heldout) == SCHEMA_INTENTS
    assert {intent: len(examples) for intent, examples in heldout.items() if len(examples) < 19} == {}
    assert len(heldout["out_of_scope"]) >= 50
    assert len(heldout["inform"]) >= 40
    assert len(heldout["book_appointment"]) >= 40


def test_no_message_appears_twice(heldout: dict[str, list[str]]) -> None:
    counts = Counter(_words(example) for examples in heldout.values() for example in examples)
    assert [sorted(words) for words, count in counts.items() if count > 1] == []


def test_about_forty_percent_are_typed_without_diacritics(heldout: dict[str, list[str]]) -> None:
    examples = [example for examples in heldout.values() for example in examples]
    plain = sum(not _has_diacritics(_plain(example)) for example in examples)
    assert 0.35 <= plain / len(examples) <= 0.5


def _valid(intent: str, name: str, value: str) -> bool:
    if name not in SCHEMA_ENTITIES:  # includes `time`: the date/time parser finds it, never an annotation
        return False
    if name == "department":
        return value in DEPARTMENTS
    if name == "record_section":
        return value in RECORD_SECTIONS and intent == "ask_record_summary"
    if name == "phone_number":
        return NATIONAL_PHONE.fullmatch(value) is not None
    return True


def test_entities_follow_the_schema(heldout: dict[str, list[str]]) -> None:
    problems = [
        (example, entity["entity"], entity["value"])
        for intent, examples in heldout.items()
        for example in examples
        for entity in _entities(example)
        if not _valid(intent, entity["entity"], entity["value"])
    ]
    assert problems == []


def test_services_are_annotated_as_departments(heldout: dict[str, list[str]]) -> None:
    departments = {
        entity["text"].lower(): entity["value"]
        for examples in heldout.values()
        for example in examples
        for entity in _entities(example)
        if entity["entity"] == "department"
    }
    assert departments["nhổ răng"] == "rang_ham_mat"
    assert departments["siêu âm thai"] == "san_phu_khoa"
    assert departments["nội soi dạ dày"] == "tieu_hoa"
    assert departments["đo mắt"] == "mat"
    assert departments["chich ngua"] == "tiem_chung"
    assert set(departments.values()) == DEPARTMENTS  # every department is asked for somewhere


def test_nothing_is_in_the_training_data(heldout: dict[str, list[str]]) -> None:
    training = [
        _words(example)
        for path in sorted(TRAINING_DIR.glob("nlu*.yml"))  # nlu.yml and the NLU files beside it
        for examples in _intents(path).values()
        for example in examples
    ]
    copies = []
    for examples in heldout.values():
        for example in examples:
            words = _words(example)
            if any(len(words & other) >= NEAR_COPY * len(words | other) for other in training):
                copies.append(example)
    assert copies == []


def test_rasa_reads_the_set(heldout: dict[str, list[str]]) -> None:
    code = (
        "from rasa.shared.nlu.training_data.loading import load_data; "
        'td = load_data("data/tests/nlu_heldout_style.yml"); print(len(td.training_examples), len(td.intents))'
    )
    assert run_in_rasa(code) == f"{sum(len(examples) for examples in heldout.values())} {len(SCHEMA_INTENTS)}"
