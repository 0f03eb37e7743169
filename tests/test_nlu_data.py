"""Checks of the NLU training data (every NLU file of data/training: nlu.yml and those beside it) against
the schema in shared/nlu-schema.md.

Pure YAML checks, no Rasa needed; when the Rasa environment (.venv-rasa) exists, the file is also loaded
with Rasa's own reader.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.nlu.evaluate import near_duplicate_key, split_examples
from tests.rasa_env import run_in_rasa

ROOT = Path(__file__).resolve().parents[1]
TRAINING_DIR = ROOT / "data" / "training"
HOSPITALS_FILE = ROOT / "core" / "booking" / "demo" / "hospitals.yaml"

CORE_INTENTS = {
    "book_appointment",
    "cancel_appointment",
    "reschedule_appointment",
    "check_appointment",
    "inform",
    "ask_record_summary",
    "request_human",
    "emergency",
}
OTHER_INTENTS = {
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "ask_opening_hours",
    "ask_address",
    "ask_cost",
    "ask_insurance",
    "ask_documents",
    "subscribe_news",
    "unsubscribe_news",
    "out_of_scope",
}
# The record-access intents of issue 14 (plan14.md): withdrawing consent, unlinking a record, asking who read it.
RECORD_INTENTS = {"withdraw_consent", "unlink_record", "ask_record_access"}
SCHEMA_INTENTS = CORE_INTENTS | OTHER_INTENTS | RECORD_INTENTS
MIN_CORE_EXAMPLES = 45
MIN_OTHER_EXAMPLES = 20
MIN_RECORD_EXAMPLES = 30

SCHEMA_ENTITIES = {
    "department",
    "hospital",
    "record_section",
    "news_topic",
    "doctor",
    "person_name",
    "phone_number",
    "booking_code",
}
DEPARTMENTS = {
    "kham_tong_quat",
    "noi_tong_hop",
    "ngoai_tong_hop",
    "san_phu_khoa",
    "nhi",
    "tim_mach",
    "tieu_hoa",
    "than_kinh",
    "co_xuong_khop",
    "tai_mui_hong",
    "rang_ham_mat",
    "mat",
    "da_lieu",
    "noi_tiet",
    "ho_hap",
    "than_tiet_nieu",
    "ung_buou",
    "y_hoc_co_truyen",
    "phuc_hoi_chuc_nang",
    "tiem_chung",
}
RECORD_SECTIONS = {"chan_doan", "don_thuoc", "xet_nghiem", "chan_doan_hinh_anh", "tiem_chung", "tai_kham"}
BOOKING_CODE = re.compile(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}")
NATIONAL_PHONE = re.compile(r"0[35789]\d{8}")

# [text](entity) or [text]{"entity": ..., "value": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]+\}))")


def _items(block: str) -> list[str]:
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def _entities(example: str) -> list[dict[str, str]]:
    found = []
    for match in ANNOTATION.finditer(example):
        if match["json"]:
            spec = yaml.safe_load(match["json"])
            found.append({"text": match["text"], "entity": spec["entity"], "value": spec.get("value", match["text"])})
        else:
            found.append({"text": match["text"], "entity": match["name"], "value": match["text"]})
    return found


def _plain(example: str) -> str:
    return ANNOTATION.sub(lambda match: match["text"], example)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _has_diacritics(text: str) -> bool:
    return any(unicodedata.category(part) == "Mn" or part in "đĐ" for part in unicodedata.normalize("NFD", text))


def _nlu_files() -> dict[str, list[dict]]:
    """The blocks of each NLU file of data/training (a YAML file with an ``nlu`` section), by file name."""
    files = {}
    for path in sorted(TRAINING_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "nlu" in data:
            assert str(data["version"]) == "3.1", path.name
            files[path.name] = data["nlu"]
    return files


@pytest.fixture(scope="module")
def nlu() -> list[dict]:
    files = _nlu_files()
    assert "nlu.yml" in files
    return [block for blocks in files.values() for block in blocks]


@pytest.fixture(scope="module")
def intents() -> dict[str, list[str]]:
    """Each intent's examples from every file together (an intent appears at most once per file)."""
    result: dict[str, list[str]] = {}
    for name, blocks in _nlu_files().items():
        seen: set[str] = set()
        for block in blocks:
            if "intent" in block:
                assert block["intent"] not in seen, f"intent {block['intent']} appears twice in {name}"
                seen.add(block["intent"])
                result.setdefault(block["intent"], []).extend(_items(block["examples"]))
    return result


@pytest.fixture(scope="module")
def synonyms(nlu: list[dict]) -> dict[str, str]:
    """Lower-cased surface form -> canonical value."""
    result: dict[str, str] = {}
    for block in nlu:
        if "synonym" in block:
            for text in _items(block["examples"]):
                key = _normal(text)
                assert result.get(key, block["synonym"]) == block["synonym"], f"{text!r} maps to two values"
                result[key] = block["synonym"]
    return result


@pytest.fixture(scope="module")
def hospital_slugs() -> set[str]:
    data = yaml.safe_load(HOSPITALS_FILE.read_text(encoding="utf-8"))
    return {hospital["slug"] for hospital in data["hospitals"]}


def _resolve(entity: dict[str, str], synonyms: dict[str, str]) -> str:
    if entity["value"] != entity["text"]:
        return entity["value"]
    return synonyms.get(_normal(entity["text"]), entity["text"])


def test_intents_are_exactly_the_schema(intents: dict[str, list[str]]) -> None:
    assert len(SCHEMA_INTENTS) == 25
    assert set(intents) == SCHEMA_INTENTS


def test_minimum_examples_per_intent(intents: dict[str, list[str]]) -> None:
    too_few = {
        intent: len(examples)
        for intent, examples in intents.items()
        if len(examples)
        < (
            MIN_CORE_EXAMPLES
            if intent in CORE_INTENTS
            else MIN_RECORD_EXAMPLES
            if intent in RECORD_INTENTS
            else MIN_OTHER_EXAMPLES
        )
    }
    assert not too_few


def test_no_duplicate_examples(intents: dict[str, list[str]]) -> None:
    counts = Counter(_normal(_plain(example)) for examples in intents.values() for example in examples)
    assert not [text for text, count in counts.items() if count > 1]


def test_entities_and_values_follow_the_schema(
    intents: dict[str, list[str]], synonyms: dict[str, str], hospital_slugs: set[str]
) -> None:
    problems = []
    for intent, examples in intents.items():
        for example in examples:
            for entity in _entities(example):
                name, value = entity["entity"], _resolve(entity, synonyms)
                if name not in SCHEMA_ENTITIES:
                    problems.append((intent, example, f"unknown entity {name}"))
                elif name == "department" and value not in DEPARTMENTS:
                    problems.append((intent, example, f"department value {value}"))
                elif name == "hospital" and value not in hospital_slugs:
                    problems.append((intent, example, f"hospital value {value}"))
                elif name == "record_section" and value not in RECORD_SECTIONS:
                    problems.append((intent, example, f"record_section value {value}"))
                elif name == "booking_code" and not BOOKING_CODE.fullmatch(value):
                    problems.append((intent, example, f"booking_code value {value}"))
                elif name == "phone_number" and not NATIONAL_PHONE.fullmatch(value):
                    problems.append((intent, example, f"phone_number value {value}"))
    assert not problems


def test_synonym_targets_are_canonical(nlu: list[dict], hospital_slugs: set[str]) -> None:
    targets = {block["synonym"] for block in nlu if "synonym" in block}
    assert targets >= DEPARTMENTS, "every department slug needs a synonym block"
    assert targets <= DEPARTMENTS | hospital_slugs


def test_department_synonyms_cover_both_spellings(nlu: list[dict]) -> None:
    for block in nlu:
        if block.get("synonym") in DEPARTMENTS:
            forms = _items(block["examples"])
            if any(_has_diacritics(form) for form in forms):
                assert any(not _has_diacritics(form) for form in forms), block["synonym"]


def test_regex_and_lookup_tables(nlu: list[dict]) -> None:
    regexes = {block["regex"]: _items(block["examples"]) for block in nlu if "regex" in block}
    assert {"phone_number", "booking_code", "cccd", "insurance_number"} <= set(regexes)
    for patterns in regexes.values():
        for pattern in patterns:
            re.compile(pattern)
    phone = [re.compile(pattern) for pattern in regexes["phone_number"]]
    for sample in ("0912345678", "84912345678", "+84912345678"):
        assert any(pattern.fullmatch(sample) for pattern in phone), sample
    assert any(re.search(pattern, "mã 7KQ2MX nhé") for pattern in regexes["booking_code"])
    assert any(re.search(pattern, "cccd 079203012345") for pattern in regexes["cccd"])
    assert any(re.search(pattern, "the DN4797924123456") for pattern in regexes["insurance_number"])
    lookups = {block["lookup"]: _items(block["examples"]) for block in nlu if "lookup" in block}
    assert len(lookups.get("department", [])) >= len(DEPARTMENTS)


def _strip(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "".join(
        "d"
        if c == "đ"
        else "D"
        if c == "Đ"
        else "".join(p for p in unicodedata.normalize("NFD", c) if unicodedata.category(p) != "Mn")
        for c in text
    )


def test_cue_lookup_tables_have_every_form_without_diacritics_too(nlu: list[dict]) -> None:
    """The cue_* lookup tables are regex features of intents: a message typed without diacritics must fire
    the same feature, so each form is also listed without them."""
    cues = {
        block["lookup"]: _items(block["examples"]) for block in nlu if str(block.get("lookup", "")).startswith("cue_")
    }
    assert len(cues) >= 15
    for name, forms in cues.items():
        lowered = {form.lower() for form in forms}
        missing = [form for form in forms if _strip(form).lower() not in lowered]
        assert not missing, (name, missing)


def test_core_intents_have_examples_without_diacritics(intents: dict[str, list[str]]) -> None:
    for intent in CORE_INTENTS:
        examples = intents[intent]
        plain = [example for example in examples if not _has_diacritics(_plain(example))]
        assert len(plain) * 4 >= len(examples), f"{intent}: {len(plain)} of {len(examples)} without diacritics"


def test_no_one_word_families(intents: dict[str, list[str]], synonyms: dict[str, str]) -> None:
    department_forms = sorted((form for form, value in synonyms.items() if value in DEPARTMENTS), key=len, reverse=True)
    surface = re.compile(r"\b(?:" + "|".join(re.escape(form) for form in department_forms) + r")\b")
    for intent in CORE_INTENTS:
        masked = Counter()
        for example in intents[intent]:
            text = ANNOTATION.sub(
                lambda match: "<dep>" if "department" in (match["name"] or match["json"]) else match["text"],
                example,
            )
            masked[surface.sub("<dep>", _normal(text))] += 1
        families = {text: count for text, count in masked.items() if count > 3}
        assert not families, f"{intent}: {families}"


def test_emergency_examples_are_urgent(intents: dict[str, list[str]]) -> None:
    text = " ".join(_normal(_plain(example)) for example in intents["emergency"])
    for sign in ("đau ngực", "khó thở", "méo miệng", "co giật", "bất tỉnh", "ra máu", "ngộ độc"):
        assert sign in text, sign


def test_time_expressions_are_not_annotated(intents: dict[str, list[str]]) -> None:
    names = {entity["entity"] for examples in intents.values() for ex in examples for entity in _entities(ex)}
    assert "time" not in names


def test_rasa_loads_the_training_data(intents: dict[str, list[str]]) -> None:
    names = [f"data/training/{name}" for name in _nlu_files()]
    code = (
        "from rasa.shared.nlu.training_data.loading import load_data; "
        f"print(sum(len(load_data(name).training_examples) for name in {names!r}))"
    )
    expected = sum(len(examples) for examples in intents.values())
    assert run_in_rasa(code) == str(expected)


def test_no_held_out_example_of_the_split_has_a_near_copy_in_training(intents: dict[str, list[str]]) -> None:
    """make nlu-eval's split keeps near copies on one side (bot/nlu/evaluate.py): the held-out half is honest."""
    train, test = split_examples(intents)
    for intent, examples in test.items():
        trained = [frozenset(near_duplicate_key(example).split()) for example in train[intent]]
        for example in examples:
            words = frozenset(near_duplicate_key(example).split())
            assert not [other for other in trained if words and len(words & other) >= 0.75 * len(words | other)], (
                intent,
                example,
            )
