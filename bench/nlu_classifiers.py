"""Intent classifiers compared offline over the features of bot/config.yml (no ``rasa train``, no parsing).

Run in the Rasa environment: ``PYTHONPATH=. .venv-rasa/bin/python bench/nlu_classifiers.py``. The split is
bot/nlu/evaluate.py's (same seed); the featurizers are Rasa's own components (our tokenizer and the sparse
featurizers of bot/config.yml, with its parameters), trained on the split's training half, so a message's
sentence features are what the intent classifier of the pipeline gets. Each classifier is trained on them
and scored on the split's held-out half and on the style set (scores only: no message of it is printed),
as written and without diacritics, intent macro-F1 with the FallbackClassifier of the config applied
(threshold 0.2, ambiguity 0.02), as ``make nlu-eval`` scores it.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THRESHOLD, AMBIGUITY = 0.2, 0.02


def featurize(workdir: Path) -> dict[str, Any]:
    """Train the config's featurizers on the split's training half; the sentence features of every set."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu import evaluate
    from bot.nlu.tokenizer import UndertheseaTokenizer

    files = evaluate.nlu_files(evaluate.NLU_DIR)
    intents, resources = evaluate.load_nlu(files)
    train_split, test_split = evaluate.split_examples(intents, evaluate.SEED)
    synonyms: dict[str, Any] = {}
    for path in files:
        synonyms.update({str(k).lower(): v for k, v in load_data(str(path)).entity_synonyms.items()})
    train_file, test_file = workdir / "train.yml", workdir / "test.yml"
    train_file.write_text(
        evaluate.nlu_yaml([("intent", i, e) for i, e in train_split.items()] + resources), encoding="utf-8"
    )
    test_file.write_text(evaluate.nlu_yaml([("intent", i, e) for i, e in test_split.items()]), encoding="utf-8")
    held = {"split": evaluate.held_out_messages(test_file, synonyms)}
    if evaluate.STYLE_FILE.exists():
        held["style"] = evaluate.held_out_messages(evaluate.STYLE_FILE, synonyms)

    (workdir / "storage").mkdir()
    storage = LocalModelStorage(workdir / "storage")

    def context(name: str) -> ExecutionContext:
        from rasa.engine.graph import GraphSchema

        return ExecutionContext(GraphSchema({}), node_name=name)

    def make(cls: Any, name: str, **config: Any) -> Any:
        return cls.create({**cls.get_default_config(), **config}, storage, Resource(name), context(name))

    tokenizer = make(UndertheseaTokenizer, "tok")
    featurizers = config_featurizers(make)
    data = load_data(str(train_file))
    tokenizer.process_training_data(data)
    for featurizer in featurizers:
        featurizer.train(data)
        featurizer.process_training_data(data)
    examples = [e for e in data.intent_examples if e.get("intent") and e.get("text")]

    def blocks(messages: list[Any]) -> dict[str, sp.csr_matrix]:
        result = {}
        for featurizer in featurizers:
            rows = []
            for message in messages:
                sentence = message.get_sparse_features("text", [featurizer._identifier])[1]
                rows.append(sp.csr_matrix(sentence.features) if sentence is not None else None)
            width = next(r.shape[1] for r in rows if r is not None)
            rows = [r if r is not None else sp.csr_matrix((1, width)) for r in rows]
            result[featurizer._identifier] = sp.vstack(rows).tocsr()
        return result

    sets = {"train": (blocks(examples), [e.get("intent") for e in examples])}
    for name, messages in held.items():
        for condition in evaluate.CONDITIONS:
            texts = [(m if condition == "as_written" else evaluate.without_diacritics(m))["text"] for m in messages]
            parsed = [Message(data={"text": text}) for text in texts]
            tokenizer.process(parsed)
            for featurizer in featurizers:
                featurizer.process(parsed)
            sets[f"{name}/{condition}"] = (blocks(parsed), [m["intent"] for m in messages])
    return sets


def config_featurizers(make: Any) -> list[Any]:
    """The sparse featurizers of bot/config.yml, in pipeline order, with the config's parameters."""
    import yaml
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer

    kinds = {"RegexFeaturizer": RegexFeaturizer, "CountVectorsFeaturizer": CountVectorsFeaturizer}
    pipeline = yaml.safe_load((ROOT / "bot" / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    steps = [dict(step) for step in pipeline if step["name"] in kinds]
    return [make(kinds[step.pop("name")], f"featurizer_{index}", **step) for index, step in enumerate(steps)]


# --------------------------------------------------------------------------------------------------------
# Feature transforms over the featurizers' blocks


def transform(kind: str, train: dict[str, sp.csr_matrix], sets: dict[str, dict[str, sp.csr_matrix]]) -> Any:
    """(X_train, {set: X}) for a transform of the blocks: raw counts (what Rasa's LR sees), sublinear
    (log1p) counts, TF-IDF, each block L2-normalised on its own ("blockl2"), or combinations."""
    from sklearn.preprocessing import normalize

    names = list(train)
    idf = {}
    if "idf" in kind:
        for name in names:
            df = np.asarray((train[name] > 0).sum(axis=0)).ravel()
            idf[name] = np.log((1 + train[name].shape[0]) / (1 + df)) + 1

    def one(block: dict[str, sp.csr_matrix]) -> sp.csr_matrix:
        parts = []
        for name in names:
            x = block[name].astype(np.float64)
            if "log" in kind:
                x = x.copy()
                x.data = np.log1p(x.data)
            if "bin" in kind:
                x = (x > 0).astype(np.float64)
            if "idf" in kind:
                x = x @ sp.diags(idf[name])
            if "blockl2" in kind:
                x = normalize(x)
            parts.append(x)
        x = sp.hstack(parts).tocsr()
        if "rowl2" in kind:
            x = normalize(x)
        return x

    return one(train), {name: one(block) for name, block in sets.items()}


# --------------------------------------------------------------------------------------------------------
# Classifiers


def classifiers(seed: int) -> dict[str, Any]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    def lr(c: float) -> Any:
        return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, tol=1e-4, random_state=seed)

    models = {f"lr_C{c:g}": lr(c) for c in (0.5, 1, 2, 5, 10, 20, 50, 100)}
    for c in (0.1, 0.3, 1):
        models[f"svc_C{c:g}_cal"] = CalibratedClassifierCV(
            LinearSVC(C=c, class_weight="balanced", random_state=seed), cv=3, method="sigmoid"
        )
    models["sgd_mhuber"] = SGDClassifier(
        loss="modified_huber", alpha=1e-4, class_weight="balanced", max_iter=2000, random_state=seed
    )
    models["cnb_a0.3"] = ComplementNB(alpha=0.3)
    return models


def predict(model: Any, x: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(x)
    else:
        scores = model.decision_function(x)
        proba = np.exp(scores - scores.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
    return proba, model.classes_


def with_fallback(proba: np.ndarray, classes: np.ndarray) -> list[str]:
    order = np.argsort(-proba, axis=1)
    labels = []
    for row, ranked in zip(proba, order, strict=True):
        top, second = row[ranked[0]], row[ranked[1]]
        labels.append("nlu_fallback" if top < THRESHOLD or top - second < AMBIGUITY else str(classes[ranked[0]]))
    return labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transforms", nargs="+", default=["raw", "log", "idf", "log_idf_blockl2", "bin_idf_rowl2"])
    parser.add_argument("--cache", type=Path, help="keep the features in this file, read them from it when it exists")
    parser.add_argument("--only", nargs="*", help="classifier names to run (default: all)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from sklearn.metrics import f1_score

    from bot.nlu.evaluate import SEED

    began = time.monotonic()
    if args.cache and args.cache.exists():
        data = pickle.loads(args.cache.read_bytes())
    else:
        with tempfile.TemporaryDirectory() as temporary:
            data = featurize(Path(temporary))
        if args.cache:
            args.cache.write_bytes(pickle.dumps(data))
    (train_blocks, labels), held = data["train"], {k: v for k, v in data.items() if k != "train"}
    y = np.asarray(labels)
    print(
        f"features in {time.monotonic() - began:.0f} s; train {len(y)}; "
        + ", ".join(f"{name} {len(labels)}" for name, (_, labels) in held.items())
    )
    columns = list(held)
    print(f"{'transform':<16}{'classifier':<16}" + "".join(f"{c:>24}" for c in columns) + f"{'fit s':>8}")
    for kind in args.transforms:
        x_train, xs = transform(kind, train_blocks, {name: blocks for name, (blocks, _) in held.items()})
        for name, model in classifiers(SEED).items():
            if args.only and name not in args.only:
                continue
            began = time.monotonic()
            model.fit(x_train, y)
            fitted = time.monotonic() - began
            cells = []
            for column in columns:
                proba, classes = predict(model, xs[column])
                gold = held[column][1]
                f1 = f1_score(gold, with_fallback(proba, classes), labels=sorted(set(gold)), average="macro")
                cells.append(f"{f1:>24.4f}")
            print(f"{kind:<16}{name:<16}" + "".join(cells) + f"{fitted:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
