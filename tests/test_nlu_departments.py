"""Departments as patients name them → canonical slugs (bot/nlu/departments.py, the NLU's
DepartmentExtractor), with the names of the NLU data's synonyms."""

from __future__ import annotations

import pytest
import yaml

from bot.nlu.departments import DepartmentNames
from tests.rasa_env import ROOT, run_in_rasa


def _names() -> DepartmentNames:
    synonyms = {}
    for item in yaml.safe_load((ROOT / "data/training/nlu.yml").read_text(encoding="utf-8"))["nlu"]:
        slug = item.get("synonym")
        if slug and "-" not in slug:  # hospital slugs have dashes
            for line in item["examples"].splitlines():
                if line.strip().lstrip("-").strip():
                    synonyms[line.strip().lstrip("-").strip()] = slug
    return DepartmentNames(synonyms)


NAMES = _names()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("nhi", "nhi"), ("khám nhi", "nhi"), ("Khoa Mắt", "mat"), ("tai mui hong", "tai_mui_hong"), ("họng", None)],
)
def test_extracted_values_become_slugs(value: str, expected: str | None) -> None:
    assert NAMES.canonical(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cho em đặt lịch khám nhi sáng thứ 2 tuần sau", "nhi"),
        ("đổi sang khoa mắt", "mat"),
        ("kham tim mach sang mai", "tim_mach"),
        ("huy lich y hoc co truyen thu 5", "y_hoc_co_truyen"),
        ("nhi ạ", "nhi"),
        ("tim bac si gioi", None),  # "tìm" (look for) without diacritics is not cardiology
        ("coi lai lich da dat cua ba em", None),  # "lịch đã đặt", not dermatology
        ("Tôi đồng ý nhận tin", None),  # "đồng ý" (agree), not "đông y"
    ],
)
def test_departments_found_in_a_message(text: str, expected: str | None) -> None:
    found = NAMES.find(text)
    assert (found[2] if found else None) == expected


def test_spans_point_at_the_name_in_the_message() -> None:
    text = "cho em đặt lịch khám nhi sáng thứ 2 tuần sau"
    start, end, _ = NAMES.find(text)
    assert text[start:end] == "nhi"


def test_what_a_learned_extractor_finds_must_be_plausible() -> None:
    text = "không đồng ý"
    assert not NAMES.plausible(text, text.index("đồng"), len(text))
    assert NAMES.plausible("ok mắt", 3, 6)  # spelled with diacritics: the eye
    assert not NAMES.plausible("ok mat", 3, 6)  # "mất"? "mát"? not without a lead word


def test_the_rasa_component_maps_and_finds_departments_in_a_pipeline() -> None:
    code = """
import json
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
import tempfile, pathlib
from bot.nlu.department_extractor import DepartmentExtractor
storage = LocalModelStorage(pathlib.Path(tempfile.mkdtemp()))
resource = Resource("departments")
component = DepartmentExtractor.create({}, storage, resource, None)
component.train(load_data("data/training/nlu.yml"))
loaded = DepartmentExtractor.load({}, storage, resource, None)
a = Message(data={"text": "đặt lịch khám nhi", "entities": [
    {"entity": "department", "start": 11, "end": 17, "value": "khám nhi", "extractor": "DIETClassifier"}]})
b = Message(data={"text": "cho em đặt lịch khám nhi sáng thứ 2 tuần sau", "entities": []})
c = Message(data={"text": "không đồng ý", "entities": [
    {"entity": "department", "start": 6, "end": 12, "value": "y_hoc_co_truyen", "extractor": "CRFEntityExtractor"}]})
loaded.process([a, b, c])
print(json.dumps([[e["value"] for e in m.get("entities")] for m in (a, b, c)]))
"""
    assert run_in_rasa(code) == '[["nhi"], ["nhi"], []]'
