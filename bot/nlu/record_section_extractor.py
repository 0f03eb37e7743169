"""A Rasa entity extractor that settles the ``record_section`` entity of ``ask_record_summary`` messages.

It runs after the intent classifier and the learned extractors, before the department extractor (which
leaves a department word inside a record section alone: "kết quả siêu âm tim"). On an ``ask_record_summary``
message the section the patient named (bot/nlu/record_sections.py, with or without diacritics) is kept or
added; a learned one that names no section is dropped, on messages of other intents too (nothing is added
there: "siêu âm thai bao nhiêu tiền" names a service, not a result).
Not trainable: the names are in the lexicon.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.record_sections import ENTITY, section_entities, valid_sections
from bot.nlu.rule_extractor import RuleEntityExtractor

INTENT_ASKING = "ask_record_summary"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class RecordSectionExtractor(RuleEntityExtractor):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES, [])
            if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == INTENT_ASKING:
                settled = section_entities(message.get(TEXT) or "", entities)
            elif any(entity.get("entity") == ENTITY for entity in entities):
                settled = valid_sections(message.get(TEXT) or "", entities)
            else:
                continue
            entities = [e if "extractor" in e else self.add_extractor_name([e])[0] for e in settled]
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
