"""The base of the NLU's rule-based entity extractors (relation, record section, date/time): not trainable,
no configuration, nothing stored; each reads a message's text through a lexicon or a parser of bot/nlu."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message


class RuleEntityExtractor(GraphComponent, EntityExtractorMixin):
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
    ) -> RuleEntityExtractor:
        return cls()

    def replace_entities(self, message: Message, name: str, found: list[dict[str, Any]]) -> None:
        """The message's ``name`` entities are ``found`` (this extractor's), whatever an earlier one said."""
        kept = [entity for entity in message.get(ENTITIES, []) if entity.get("entity") != name]
        message.set(ENTITIES, kept + self.add_extractor_name(found), add_to_output=True)
