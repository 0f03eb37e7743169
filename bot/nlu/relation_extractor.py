"""A Rasa entity extractor that adds the ``relation`` entity: who the visit is for, relative to the writer
("cho mẹ tôi" → mother, "cho bé" → child, "cho tôi" → self), from bot/nlu/relations.py (with or without
diacritics). Not trainable and never annotated in the training data: the words are in the lexicon there.

It runs on every message, whatever its intent: "ba em đau ngực" is about the father all the same, and the forms
decide what the entity means where they are (the booking form picks the profile). The entity does not steer the
dialogue (``influence_conversation: false`` in bot/domain.yml).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.relations import relation_entity

ENTITY = "relation"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class RelationExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RelationExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            kept = [e for e in message.get(ENTITIES, []) if e.get("entity") != ENTITY]
            found = relation_entity(message.get(TEXT) or "")
            if found is not None:
                kept.append(self.add_extractor_name([found])[0])
            message.set(ENTITIES, kept, add_to_output=True)
        return messages
