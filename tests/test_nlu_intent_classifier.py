"""The NLU's intent classifier (bot/nlu/intent_classifier.py): a soft vote of linear models over the sparse
features, trained, persisted and loaded as in a Rasa model, with probabilities the fallback can read."""

from __future__ import annotations

import json

import pytest

from tests.rasa_env import run_in_rasa

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.nlu.intent_classifier import VotingIntentClassifier
from bot.nlu.tokenizer import UndertheseaTokenizer

spec = json.loads(sys.stdin.read())
directory = Path(tempfile.mkdtemp()) / "storage"
directory.mkdir()
storage = LocalModelStorage(directory)

def make(cls, name, **config):
    context = ExecutionContext(GraphSchema({}), node_name=name)
    return cls.create({**cls.get_default_config(), **config}, storage, Resource(name), context)

tokenizer = make(UndertheseaTokenizer, "tok")
featurizers = [
    make(CountVectorsFeaturizer, "words", ngram_range=[1, 2]),
    make(CountVectorsFeaturizer, "chars", analyzer="char_wb", min_ngram=2, max_ngram=5, use_lemma=True),
]
data = TrainingData([Message(data={"text": t, "intent": i}) for i, ts in spec["train"].items() for t in ts])
tokenizer.process_training_data(data)
for featurizer in featurizers:
    featurizer.train(data)
    featurizer.process_training_data(data)
classifier = make(VotingIntentClassifier, "vote", block_weights=[1.0, 2.0])
classifier.train(data)
context = ExecutionContext(GraphSchema({}), node_name="vote")
loaded = VotingIntentClassifier.load(
    {**VotingIntentClassifier.get_default_config(), "block_weights": [1.0, 2.0]}, storage, Resource("vote"), context
)
out = []
for component in (classifier, loaded):
    messages = [Message(data={"text": t}) for t in spec["parse"]]
    tokenizer.process(messages)
    for featurizer in featurizers:
        featurizer.process(messages)
    component.process(messages)
    out.append([{"intent": m.get("intent"), "ranking": m.get("intent_ranking")} for m in messages])
print(json.dumps(out, ensure_ascii=False))
"""

TRAIN = {
    "book_appointment": [
        "tôi muốn đặt lịch khám",
        "đặt lịch khám nhi sáng mai",
        "cho em đặt lịch khám mắt",
        "em muốn hẹn khám bác sĩ",
    ],
    "ask_opening_hours": [
        "bệnh viện mở cửa mấy giờ",
        "mấy giờ thì làm việc",
        "giờ làm việc chủ nhật",
        "mấy giờ đóng cửa vậy",
    ],
    "greet": ["xin chào", "chào bạn", "chào ad", "hello"],
    "goodbye": ["tạm biệt", "bye nhé", "chào tạm biệt bạn", "hẹn gặp lại"],
}
PARSE = ["em muốn đặt lịch khám tai mũi họng", "may gio mo cua", "xin chao ad"]


def run(train: dict[str, list[str]]) -> list[list[dict]]:
    return json.loads(run_in_rasa(SCRIPT, stdin=json.dumps({"train": train, "parse": PARSE}, ensure_ascii=False)))


@pytest.fixture(scope="module")
def parsed() -> list[list[dict]]:
    return run(TRAIN)


def test_predictions(parsed):
    trained, _loaded = parsed
    assert [p["intent"]["name"] for p in trained] == ["book_appointment", "ask_opening_hours", "greet"]


def test_confidences_are_a_ranked_probability_distribution(parsed):
    for result in parsed[0]:
        confidences = [entry["confidence"] for entry in result["ranking"]]
        assert all(0.0 <= c <= 1.0 for c in confidences)
        assert confidences == sorted(confidences, reverse=True)
        assert abs(sum(confidences) - 1.0) < 1e-6  # four intents: the whole ranking is shown
        assert result["intent"] == result["ranking"][0]
        assert {entry["name"] for entry in result["ranking"]} == set(TRAIN)


def test_the_loaded_model_predicts_what_the_trained_one_did(parsed):
    trained, loaded = parsed
    for a, b in zip(trained, loaded, strict=True):
        assert a["intent"]["name"] == b["intent"]["name"]
        assert a["intent"]["confidence"] == pytest.approx(b["intent"]["confidence"])


def test_an_intent_with_a_single_example_still_gives_probabilities():
    train = {**TRAIN, "goodbye": ["tạm biệt"]}  # too few to calibrate the SVMs: softmax of their margins
    trained, _loaded = run(train)
    for result in trained:
        confidences = [entry["confidence"] for entry in result["ranking"]]
        assert all(0.0 <= c <= 1.0 for c in confidences) and abs(sum(confidences) - 1.0) < 1e-6
