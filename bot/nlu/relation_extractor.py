"""A Rasa entity extractor that adds the ``relation`` entity: who the visit is for, relative to the writer
("cho mẹ tôi" → mother, "cho bé" → child, "cho tôi" → self), from bot/nlu/relations.py (with or without
diacritics). Not trainable and never annotated in the training data: the words are in the lexicon there.

It runs on every message, whatever its intent: "ba em đau ngực" is about the father all the same, and the forms
decide what the entity means where they are (the booking form picks the profile). The entity does not steer the
dialogue (``influence_conversation: false`` in bot/domain.yml).
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.relations import relation_entity
from bot.nlu.rule_extractor import RuleEntityExtractor

ENTITY = "relation"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class RelationExtractor(RuleEntityExtractor):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            found = relation_entity(message.get(TEXT) or "")
            self.replace_entities(message, ENTITY, [found] if found is not None else [])
        return messages
