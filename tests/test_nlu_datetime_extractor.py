"""The Rasa ``time`` entity extractor on the Vietnamese date/time parser, run in the Rasa environment."""

from __future__ import annotations

import json

import pytest

from tests.rasa_env import run_in_rasa

SCRIPT = """
import datetime as dt, json
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.datetime_extractor import ViDateTimeExtractor
extractor = ViDateTimeExtractor()
extractor.now = lambda: dt.datetime(2026, 11, 25, 9, 0)  # a Wednesday
messages = [Message(data={"text": t, "entities": [{"entity": "department", "value": "nhi", "start": 0, "end": 3}]})
            for t in ["nhi sáng thứ 2 tuần sau", "khoa mắt nhé", "kham 8h30 toi mai", "kham thu 2 toi nhe"]]
extractor.process(messages)
print(json.dumps([m.get("entities") for m in messages], ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def entities():
    return json.loads(run_in_rasa(SCRIPT))


def test_a_time_entity_with_the_resolved_value_and_the_span(entities):
    department, time = entities[0]
    assert department["entity"] == "department", "other extractors' entities are kept"
    assert time == {
        "entity": "time",
        "start": 4,
        "end": 23,
        "value": {"date": "2026-11-30", "time": None, "part_of_day": "morning", "text": "sáng thứ 2 tuần sau"},
        "confidence": 1.0,
        "extractor": "ViDateTimeExtractor",
    }


def test_no_time_entity_without_an_expression(entities):
    assert [e["entity"] for e in entities[1]] == ["department"]


def test_without_diacritics(entities):
    value = entities[2][1]["value"]
    assert (value["date"], value["time"], value["part_of_day"]) == ("2026-11-26", "20:30", "evening")


def test_toi_after_a_weekday_is_the_coming_one_not_the_evening(entities):
    value = entities[3][1]["value"]
    assert (value["date"], value["time"], value["part_of_day"], value["text"]) == (
        "2026-11-30",
        None,
        None,
        "thu 2 toi",
    )
