"""Rasa's logistic-regression intent classifier with its regularisation strength ``C`` as a setting.

Rasa fixes ``C`` at scikit-learn's default (1.0). With some 30,000 sparse features (words as written and
folded, character n-grams) and messages from many writers, the strength decides how much the classifier
leans on rare n-grams; ``make nlu-eval`` measures it on both held-out sets (bot/config.yml says what was
chosen). Everything else (training, persistence, ranking) is Rasa's own.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TunedLogisticRegressionClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))
