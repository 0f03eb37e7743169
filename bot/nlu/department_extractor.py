"""A Rasa entity extractor that makes every ``department`` entity a canonical slug.

It runs after the learned extractors and the synonym mapper: a value they left unmapped ("khám nhi") is
mapped or dropped, and when they found no department the message is searched for one the patient named
(bot/nlu/departments.py). A department inside a record section, news topic or hospital ("[sổ tiêm
chủng](record_section)", "[bệnh tiểu đường](news_topic)", "Bệnh viện Mắt") is part of it, not a department.
The names are the department synonyms of the training data and the names of the service catalogue
(data/catalogue/services.yml: "nhổ răng" is rang_ham_mat), learnt at training time and kept in the model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.departments import SERVICES_FILE, DepartmentNames, service_names

ENTITY = "department"
# Entities whose text may hold a department word that is part of them ("sổ tiêm chủng", "bệnh tiểu đường",
# "Bệnh viện Mắt"); not names of people, whose learned spans may run over a department ("bác sĩ Bích khám sản").
CONTAINERS = {"record_section", "news_topic", "hospital"}
NAMES_FILE = "department_names.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class DepartmentExtractor(GraphComponent, EntityExtractorMixin):
    def __init__(
        self, model_storage: ModelStorage, resource: Resource, names: dict[str, str], services: Path = SERVICES_FILE
    ) -> None:
        self._model_storage = model_storage
        self._services = services
        self._resource = resource
        self.names = DepartmentNames(names)

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"services": None}  # a service catalogue file; None: data/catalogue/services.yml

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The catalogue file's hash: Rasa's training cache must notice when the catalogue changes."""
        path = Path(config["services"]) if config.get("services") else SERVICES_FILE
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DepartmentExtractor:
        return cls(model_storage, resource, {}, Path(config["services"]) if config.get("services") else SERVICES_FILE)

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the synonyms whose value is a department (a value some example annotates as one)."""
        synonyms = training_data.entity_synonyms
        slugs = {
            synonyms.get(str(entity.get("value")).lower(), entity.get("value"))
            for example in training_data.entity_examples
            for entity in example.get(ENTITIES, [])
            if entity.get("entity") == ENTITY
        }
        # The service catalogue first, so a department synonym of the training data wins over it.
        names = {name: slug for name, slug in service_names(self._services).items() if slug in slugs}
        names.update({text: slug for text, slug in synonyms.items() if slug in slugs})
        names.update({slug: slug for slug in slugs if isinstance(slug, str)})
        self.names = DepartmentNames(names)
        with self._model_storage.write_to(self._resource) as folder:
            (folder / NAMES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> DepartmentExtractor:
        with model_storage.read_from(resource) as folder:
            names = json.loads((folder / NAMES_FILE).read_text(encoding="utf-8"))
        return cls(model_storage, resource, names)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            others = [
                (e["start"], e["end"])
                for e in message.get(ENTITIES, [])
                if e.get("entity") in CONTAINERS and "start" in e and "end" in e
            ]
            entities = []
            for entity in message.get(ENTITIES, []):
                if entity.get("entity") == ENTITY:
                    slug = self.names.canonical(entity.get("value"))
                    if (
                        slug is None
                        or not self.names.plausible(text, entity["start"], entity["end"])
                        or any(entity["start"] < end and start < entity["end"] for start, end in others)
                    ):
                        continue  # a fragment ("họng"), no department, "đồng ý" taken for "đông y", a record
                    wider = self.names.widened(text, entity["start"], entity["end"])
                    if wider is not None:
                        start, end, slug = wider
                        entity = {**entity, "start": start, "end": end}
                    entity = {**entity, "value": slug}
                entities.append(entity)
            if not any(e.get("entity") == ENTITY for e in entities):
                found = self.names.find(text, avoid=others)
                if found is not None:
                    start, end, slug = found
                    entities += self.add_extractor_name(
                        [{"entity": ENTITY, "start": start, "end": end, "value": slug, "confidence": 1.0}]
                    )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
