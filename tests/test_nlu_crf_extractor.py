"""The CRF entity extractor saved as its trained models (bot/nlu/crf_extractor.py): loaded without retraining,
it finds what Rasa's own extractor (which retrains at every load) finds, with the same confidences, and the
model keeps no training data."""

from __future__ import annotations

import json

import pytest

from tests.rasa_env import run_in_rasa

SCRIPT = """
import json, os, sys, tempfile
from pathlib import Path
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.nlu.featurizers.sparse_featurizer.lexical_syntactic_featurizer import LexicalSyntacticFeaturizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.nlu.crf_extractor import SavedCRFEntityExtractor
from bot.nlu.tokenizer import UndertheseaTokenizer

spec = json.loads(sys.stdin.read())
directory = Path(tempfile.mkdtemp()) / "storage"
directory.mkdir()
storage = LocalModelStorage(directory)

def context(name):
    return ExecutionContext(GraphSchema({}), node_name=name)

tokenizer = UndertheseaTokenizer.create(
    UndertheseaTokenizer.get_default_config(), storage, Resource("tok"), context("tok")
)
featurizer = LexicalSyntacticFeaturizer.create(
    LexicalSyntacticFeaturizer.get_default_config(), storage, Resource("lex"), context("lex")
)

def example(text, entities):
    found = []
    for entity, value in entities:
        start = text.index(value)
        found.append({"start": start, "end": start + len(value), "entity": entity, "value": value})
    return Message(data={"text": text, "intent": "book_appointment", "entities": found})

out = {}
for cls in (CRFEntityExtractor, SavedCRFEntityExtractor):
    name = cls.__name__
    data = TrainingData([example(t, e) for t, e in spec["train"]])
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    config = cls.get_default_config()
    cls.create(config, storage, Resource(name), context(name)).train(data)
    loaded = cls.load(config, storage, Resource(name), context(name))
    churn = [os.urandom(4096) for _ in range(4000)]  # memory freed at load is reused (the model must stay)
    del churn
    messages = [Message(data={"text": t}) for t in spec["parse"]]
    tokenizer.process(messages)
    featurizer.process(messages)
    loaded.process(messages)
    files = sorted(p.name for p in (directory / name).iterdir())
    size = sum(p.stat().st_size for p in (directory / name).iterdir())
    out[name] = {
        "entities": [
            [(e["entity"], e["value"], round(e["confidence_entity"], 6)) for e in m.get("entities", [])]
            for m in messages
        ],
        "files": files,
        "size": size,
    }
print(json.dumps(out, ensure_ascii=False))
"""

DEPARTMENTS = ["nhi", "mắt", "tai mũi họng", "da liễu", "răng hàm mặt", "tim mạch", "sản", "nội tiết"]
TRAIN = [
    (f"{lead} khám {dept} {when}", [("department", dept)])
    for lead in ("tôi muốn đặt lịch", "cho em hẹn", "đặt giúp mình", "em cần")
    for dept in DEPARTMENTS
    for when in ("sáng mai", "thứ 2", "")
]
PARSE = ["cho tôi đặt lịch khám mắt chiều nay", "em muốn khám tai mũi họng", "đặt lịch khám tim mạch", "xin chào"]


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(run_in_rasa(SCRIPT, stdin=json.dumps({"train": TRAIN, "parse": PARSE}, ensure_ascii=False)))


def test_the_saved_model_finds_what_rasas_own_extractor_finds(results):
    ours, rasas = results["SavedCRFEntityExtractor"]["entities"], results["CRFEntityExtractor"]["entities"]
    assert [[e[:2] for e in m] for m in ours][:3] == [
        [["department", "mắt"]],
        [["department", "tai mũi họng"]],
        [["department", "tim mạch"]],
    ]
    assert ours == rasas, "the same entities with the same confidences"


def test_the_model_keeps_the_trained_crf_not_the_training_data(results):
    ours, rasas = results["SavedCRFEntityExtractor"], results["CRFEntityExtractor"]
    assert "crf_dataset.json" in rasas["files"] and "crf_dataset.json" not in ours["files"]
    assert ours["files"] == ["crf_entity.crfsuite", "crf_order.json"]
    assert ours["size"] < rasas["size"]
