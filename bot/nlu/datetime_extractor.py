"""A Rasa entity extractor: the ``time`` entity from ``vi_datetime`` (shared/nlu-schema.md).

The entity's value carries the resolved date, time and part of day (ISO strings, or None), so actions get
"sáng thứ 2 tuần sau" as {"date": "2026-11-30", "time": None, "part_of_day": "morning", "text": ...}
without parsing again. Dates resolve against the current time in Asia/Ho_Chi_Minh. Not trainable.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.rule_extractor import RuleEntityExtractor
from bot.nlu.vi_datetime import parse_datetime

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ViDateTimeExtractor(RuleEntityExtractor):
    def now(self) -> dt.datetime:
        return dt.datetime.now(LOCAL).replace(tzinfo=None)

    def process(self, messages: list[Message]) -> list[Message]:
        now = self.now()
        for message in messages:
            text = message.get(TEXT) or ""
            match = parse_datetime(text, now)
            if match is None:
                continue
            entity = {
                "entity": "time",
                "start": match.start,
                "end": match.end,
                "value": {
                    "date": match.date.isoformat() if match.date else None,
                    "time": match.time.strftime("%H:%M") if match.time else None,
                    "part_of_day": match.part_of_day,
                    "text": text[match.start : match.end],
                },
                "confidence": 1.0,
            }
            self.replace_entities(message, "time", [entity])
        return messages
