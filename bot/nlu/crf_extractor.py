"""Rasa's CRF entity extractor, saved as its trained models instead of its training data.

Rasa 3.6's ``CRFEntityExtractor`` persists the whole training set as JSON (``crf_dataset.json``) and trains the
CRFs again every time the model is loaded: our model file was 61 MB, the Rasa server spent its start-up
retraining, and the retraining's peak took the server's memory past 1 GB. This subclass persists what the
training made (each CRF's crfsuite model, a few hundred KB) and opens it again with python-crfsuite
(``Tagger.open_inmemory``): the same taggers, the same predictions, no training at load time. No Rasa
setting does this, hence the subclass; training and prediction are Rasa's own code.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pycrfsuite
import rasa.shared.utils.io
import sklearn_crfsuite
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken

log = logging.getLogger(__name__)
ORDER_FILE = "crf_order.json"


def _model_file(tag_name: str) -> str:
    return f"crf_{tag_name}.crfsuite"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class SavedCRFEntityExtractor(CRFEntityExtractor):
    def persist(self, dataset: list[list[CRFToken]]) -> None:
        """Persist the trained CRFs (not ``dataset``)."""
        with self._model_storage.write_to(self._resource) as model_dir:
            rasa.shared.utils.io.dump_obj_as_json_to_file(model_dir / ORDER_FILE, self.crf_order)
            for tag_name, tagger in self.entity_taggers.items():
                (model_dir / _model_file(tag_name)).write_bytes(Path(tagger.modelfile.name).read_bytes())

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CRFEntityExtractor:
        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = rasa.shared.utils.io.read_json_file(model_dir / ORDER_FILE)
                taggers: OrderedDict[str, sklearn_crfsuite.CRF] = OrderedDict()
                for tag_name in crf_order:
                    taggers[tag_name] = _opened((model_dir / _model_file(tag_name)).read_bytes())
        except ValueError:  # nothing was trained (no entity examples): Rasa's own behaviour
            log.warning("%s has no trained model in resource %r", cls.__name__, resource.name)
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor


def _opened(model: bytes) -> sklearn_crfsuite.CRF:
    """A fitted ``sklearn_crfsuite.CRF`` over the crfsuite model ``model`` (held in memory, no file kept)."""
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model)
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", all_possible_transitions=True)
    crf._tagger = tagger  # what CRF.tagger_ returns once opened; predict() reads only that
    # crfsuite reads the model in place, without a copy: the bytes must live as long as the tagger (freed,
    # the labels come back as garbage).
    crf._model_bytes = model
    return crf
