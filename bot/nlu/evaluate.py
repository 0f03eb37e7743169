"""Held-out evaluation of the NLU: our pipeline beside two others, on two held-out sets.

Run as ``make nlu-eval`` (``python -m bot.nlu.evaluate`` in the Rasa environment). Steps:

1. Split the NLU files of data/training (an intent's examples from every file together): for each intent,
   about 25 % of its examples (the groups of near-duplicates, the same words with or without diacritics, with
   the lowest hash of seed, intent and words) is held out and never trained on; a near-duplicate of a held-out
   message is never trained on either. The split works on the annotated example lines, so entity annotations
   stay as written in both halves; synonyms, regexes and lookup tables stay in the training half.
2. Train one NLU-only model per pipeline (``rasa train nlu`` in a subprocess, into a temporary directory):
   ``ours`` is the pipeline of bot/config.yml, ``whitespace`` the same with ``WhitespaceTokenizer`` in
   place of ours (the date/time extractor stays: it needs no tokens), ``diet`` the same features into
   DIET's joint intent and entity heads in place of the intent classifier and the CRF.
3. Parse with each model the two held-out sets: the split's, and data/tests/nlu_heldout_style.yml, written
   apart from the training data in another style (stories, regional words, teen-code, English mixed in)
   and never trained on. Each message twice: as written, and with diacritics stripped (NFC, then
   tone and vowel marks dropped, đ → d); gold entity spans are moved onto the stripped text.
4. Score: intent macro-F1 and per-intent precision/recall/F1 (``nlu_fallback`` counts as a prediction:
   it is what the bot would see), department F1 and F1 over all annotated entities (a prediction is right
   when its entity type and value (after synonym mapping) equal the gold ones and the spans overlap), and
   record-section accuracy on the ``ask_record_summary`` messages (the section the bot would show).
5. Write reports/nlu-eval.json, print a table and our pipeline's confusion pairs and entity errors (where
   the next round of data starts), and exit 1 when a target is missed.

The pure functions (split, diacritics stripping, entity scoring) need only the standard library; Rasa and
scikit-learn are imported where they are used. Like the rest of bot/nlu, nothing of the application is
imported.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NLU_DIR = ROOT / "data" / "training"
# The second held-out set: written apart from the training data, in another style; never trained on.
STYLE_FILE = ROOT / "data" / "tests" / "nlu_heldout_style.yml"
CONFIG_FILE = ROOT / "bot" / "config.yml"
REPORT_FILE = ROOT / "reports" / "nlu-eval.json"

SEED = 20261125
HOLDOUT_FRACTION = 0.25
# ours: bot/config.yml; whitespace: the same on Rasa's WhitespaceTokenizer; diet: the same features into
# DIET's joint intent and entity heads instead of the intent classifier and the CRF.
PIPELINES = ("ours", "whitespace", "diet")
HELD_OUT_SETS = ("split", "style")
CONDITIONS = ("as_written", "no_diacritics")
FALLBACK_INTENT = "nlu_fallback"
OUR_TOKENIZER = "bot.nlu.tokenizer.UndertheseaTokenizer"
# The intent classifiers DIET takes the place of: ours (a vote of linear models) and Rasa's logistic regression.
INTENT_CLASSIFIERS = ("bot.nlu.intent_classifier.VotingIntentClassifier", "LogisticRegressionClassifier")
CRF_EXTRACTORS = ("bot.nlu.crf_extractor.SavedCRFEntityExtractor", "CRFEntityExtractor")
# Entity types scored overall: the annotated ones. `time` comes from the date parser and is not annotated;
# the regex-only `cccd` and `insurance_number` are not schema entities.
SCORED_ENTITIES = (
    "department",
    "hospital",
    "record_section",
    "news_topic",
    "doctor",
    "person_name",
    "phone_number",
    "booking_code",
)
# Per held-out set (split and style): "ours.<set>.<condition>.<measure>".
SET_TARGETS = {
    "as_written.intent_macro_f1": 0.95,
    "as_written.department_f1": 0.95,
    "no_diacritics.intent_macro_f1_drop": 0.03,  # at most this far below as_written
}
SECTION_TARGETS = {  # the split only: the style set is not written to measure record sections
    "ours.split.as_written.section_accuracy": 0.95,
    "ours.split.no_diacritics.section_accuracy": 0.90,
}
TARGETS = {f"ours.{held}.{name}": value for held in HELD_OUT_SETS for name, value in SET_TARGETS.items()}
TARGETS.update(SECTION_TARGETS)
# The DIET of the comparison: intent and entity heads over the same sparse features, seeded.
DIET = {"name": "DIETClassifier", "epochs": 60, "constrain_similarities": True, "random_seed": SEED}
SECTION_INTENT, SECTION_ENTITY = "ask_record_summary", "record_section"


# --------------------------------------------------------------------------------------------------------
# The split


def parse_examples(block: str) -> list[str]:
    """The example lines of a Rasa YAML ``examples: |`` block, as written (annotations kept)."""
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def _rank(seed: int, intent: str, example: str) -> str:
    return hashlib.sha256(f"{seed}:{intent}:{example}".encode()).hexdigest()


ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\([^)]+\)|\{[^}]+\})")
# Words that change nothing of what a message asks ("chào ad ạ" is "chao ad"), left out of its key.
PARTICLES = {"a", "ad", "ah", "ak", "nha", "nhe", "oi", "voi", "vs", "ne", "ha"}


def near_duplicate_key(example: str) -> str:
    """What an example says, as the split compares them: annotations replaced by their text, lower case,
    without diacritics, punctuation and particles. "Chào bác sĩ ạ" and "chao bac si" have one key."""
    plain = strip_diacritics(unicodedata.normalize("NFC", ANNOTATION.sub(lambda m: m["text"], example))).lower()
    return " ".join(word for word in re.findall(r"[a-z0-9]+", plain) if word not in PARTICLES)


# Two keys are near copies when they share this share of their words (the style set is checked so too).
NEAR_COPY = 0.75


def near_copy_clusters(keys: Sequence[str]) -> list[list[str]]:
    """The keys in clusters: two keys sharing ``NEAR_COPY`` of their words are in one, and so are the keys
    linked through such pairs (union-find over every pair; a few seconds for the whole data)."""
    words = [frozenset(key.split()) for key in keys]
    parent = list(range(len(keys)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for i, mine in enumerate(words):
        for j in range(i):
            other = words[j]
            if mine and other and len(mine & other) >= NEAR_COPY * len(mine | other):
                parent[root(i)] = root(j)
    clusters: dict[int, list[str]] = {}
    for index, key in enumerate(keys):
        clusters.setdefault(root(index), []).append(key)
    return list(clusters.values())


def split_examples(
    intents: dict[str, list[str]], seed: int = SEED, fraction: float = HOLDOUT_FRACTION
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Stratified split: about ``round(fraction * n)`` examples of each intent (at least 1 when the intent
    has 2 or more) are held out, near-duplicates together. Examples whose ``near_duplicate_key`` (the words
    without diacritics or particles) is one, or a near copy of another (``near_copy_clusters``), are one
    group: a group is held out or trained on whole, so no held-out message has its twin in training (a
    message typed without diacritics would otherwise be scored against the very example it was folded from,
    "chào buổi sáng" against "chào buổi sáng bạn"). Deterministic and stable: each group gets a rank from a
    hash of the seed, its intent and its first key, and the lowest ranks of each intent are held out until the
    count is reached. So the order of the file does not matter, and adding an example moves
    at most one other group across the line, where a shuffle would deal a new split for every change of the
    data. Returns ``(train, test)``, each keeping the file's order."""
    train: dict[str, list[str]] = {}
    test: dict[str, list[str]] = {}
    for intent, examples in intents.items():
        n_test = int(fraction * len(examples) + 0.5)
        n_test = min(max(n_test, 1), len(examples) - 1) if len(examples) >= 2 else 0
        by_key: dict[str, list[str]] = {}
        for example in examples:
            by_key.setdefault(near_duplicate_key(example), []).append(example)
        groups: dict[str, list[str]] = {}
        for cluster in near_copy_clusters(list(by_key)):
            groups[min(cluster)] = [example for key in cluster for example in by_key[key]]
        held_out: set[str] = set()
        for key in sorted(groups, key=lambda key: _rank(seed, intent, key)):
            if len(held_out) >= n_test:
                break
            if len(held_out) + len(groups[key]) < len(examples):
                held_out.update(groups[key])
        test[intent] = [example for example in examples if example in held_out]
        train[intent] = [example for example in examples if example not in held_out]
    return train, test


def nlu_yaml(blocks: Sequence[tuple[str, str, list[str]]]) -> str:
    """A Rasa 3.1 NLU file from ``(kind, name, examples)`` blocks (kind: intent, synonym, regex, lookup)."""
    lines = ['version: "3.1"', "nlu:"]
    for kind, name, examples in blocks:
        if not examples:
            continue
        lines.append(f"- {kind}: {json.dumps(name, ensure_ascii=False)}")
        lines.append("  examples: |")
        lines.extend(f"    - {example}" for example in examples)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------
# Diacritics


def _strip_char(char: str) -> str:
    if char == "đ":
        return "d"
    if char == "Đ":
        return "D"
    return "".join(part for part in unicodedata.normalize("NFD", char) if unicodedata.category(part) != "Mn")


class Stripped:
    """``text`` NFC-normalised and stripped of its diacritics, with a map from the original's character
    offsets to the stripped text's, for moving entity spans.

    The text is cut into clusters (a character and the combining marks after it); each cluster is
    NFC-composed and stripped on its own. For Vietnamese every cluster becomes one character, so the
    stripped text has the length of the NFC text (``length_kept``); the offset map works either way."""

    def __init__(self, text: str) -> None:
        self.original = text
        parts: list[str] = []
        self._start = [0] * (len(text) + 1)  # offset in the stripped text where an original offset starts
        self._end = [0] * (len(text) + 1)  # ... and where a span ending at it ends
        position = 0
        index = 0
        while index < len(text):
            after = index + 1
            while after < len(text) and unicodedata.category(text[after]).startswith("M"):
                after += 1
            cluster = "".join(_strip_char(char) for char in unicodedata.normalize("NFC", text[index:after]))
            for inside in range(index, after):
                self._start[inside] = position
                self._end[inside + 1] = position + len(cluster)
            parts.append(cluster)
            position += len(cluster)
            index = after
        self._start[len(text)] = position
        self.text = "".join(parts)
        self.length_kept = len(self.text) == len(unicodedata.normalize("NFC", text))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span in the stripped text of the original span ``start``..``end``."""
        return self._start[start], self._end[end] if end > start else self._start[start]


def strip_diacritics(text: str) -> str:
    return Stripped(text).text


def fold(value: Any) -> str:
    """An entity value for comparison: lower case, no diacritics, single spaces."""
    return " ".join(strip_diacritics(unicodedata.normalize("NFC", str(value))).lower().split())


# --------------------------------------------------------------------------------------------------------
# Scoring


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float | int]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "predicted": n_pred,
        "gold": n_gold,
    }


def match_entities(gold: Sequence[dict[str, Any]], predicted: Sequence[dict[str, Any]]) -> int:
    """How many gold entities of one message a prediction matches (same type, same folded value,
    overlapping spans; each prediction matches at most one gold entity)."""
    used: set[int] = set()
    matched = 0
    for entity in gold:
        for index, guess in enumerate(predicted):
            if (
                index not in used
                and guess["entity"] == entity["entity"]
                and fold(guess["value"]) == fold(entity["value"])
                and guess["start"] < entity["end"]
                and entity["start"] < guess["end"]
            ):
                used.add(index)
                matched += 1
                break
    return matched


def _dedupe(entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entity per (type, span, value): DIET and the regex extractor may both find a phone number."""
    seen: set[tuple[str, int, int, str]] = set()
    result = []
    for entity in entities:
        key = (entity["entity"], entity["start"], entity["end"], fold(entity["value"]))
        if key not in seen:
            seen.add(key)
            result.append(entity)
    return result


def entity_scores(
    gold: Sequence[Sequence[dict[str, Any]]],
    predicted: Sequence[Sequence[dict[str, Any]]],
    entity_types: Iterable[str],
) -> dict[str, float | int]:
    """Precision, recall and F1 over all messages for the given entity types."""
    types = set(entity_types)
    tp = n_pred = n_gold = 0
    for gold_entities, predicted_entities in zip(gold, predicted, strict=True):
        wanted_gold = [e for e in gold_entities if e["entity"] in types]
        wanted_pred = _dedupe(e for e in predicted_entities if e["entity"] in types)
        tp += match_entities(wanted_gold, wanted_pred)
        n_pred += len(wanted_pred)
        n_gold += len(wanted_gold)
    return _prf(tp, n_pred, n_gold)


def intent_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 over the gold intents and per-intent precision/recall/F1/support (sklearn)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {
        "macro_f1": round(float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "fallback_rate": round(sum(p == FALLBACK_INTENT for p in predicted) / len(predicted), 4),
        "per_intent": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    }


def section_scores(
    gold_intents: Sequence[str],
    gold: Sequence[Sequence[dict[str, Any]]],
    predicted: Sequence[Sequence[dict[str, Any]]],
) -> dict[str, Any]:
    """How often the record section the bot would act on is the one asked for, over the held-out
    ``ask_record_summary`` messages: a message counts when the set of its predicted ``record_section`` values
    equals the gold set (both empty: "xem hồ sơ của tôi" names no section). ``accuracy`` over all of them,
    ``accuracy_named`` over those that name a section; a wrong intent is a miss (the section goes unused)."""
    rows = [
        (
            {e["value"] for e in gold_entities if e["entity"] == SECTION_ENTITY},
            {e["value"] for e in guessed if e["entity"] == SECTION_ENTITY},
        )
        for intent, gold_entities, guessed in zip(gold_intents, gold, predicted, strict=True)
        if intent == SECTION_INTENT
    ]
    named = [(g, p) for g, p in rows if g]
    return {
        "accuracy": round(sum(g == p for g, p in rows) / len(rows), 4) if rows else 0.0,
        "accuracy_named": round(sum(g == p for g, p in named) / len(named), 4) if named else 0.0,
        "messages": len(rows),
        "named": len(named),
    }


def checks(results: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> dict[str, dict[str, Any]]:
    """The targets, each with its value and whether it is met (``results[pipeline][set][condition]``); a
    held-out set that was not scored (no style file) has no checks."""
    ours = results["ours"]
    values: dict[str, tuple[float, bool]] = {}
    for held, scored in ours.items():
        written, stripped = scored["as_written"], scored["no_diacritics"]
        f1 = written["intent"]["macro_f1"]
        drop = round(f1 - stripped["intent"]["macro_f1"], 4)
        department = written["department"]["f1"]
        prefix = f"ours.{held}"
        values[f"{prefix}.as_written.intent_macro_f1"] = (f1, f1 >= TARGETS[f"{prefix}.as_written.intent_macro_f1"])
        values[f"{prefix}.as_written.department_f1"] = (
            department,
            department >= TARGETS[f"{prefix}.as_written.department_f1"],
        )
        values[f"{prefix}.no_diacritics.intent_macro_f1_drop"] = (
            drop,
            drop <= TARGETS[f"{prefix}.no_diacritics.intent_macro_f1_drop"],
        )
    if "split" in ours:
        for condition in CONDITIONS:
            name = f"ours.split.{condition}.section_accuracy"
            section = ours["split"][condition]["record_section"]
            value = min(section["accuracy"], section["accuracy_named"])  # the worse: all, or those naming one
            values[name] = (value, value >= TARGETS[name])
    return {name: {"value": value, "target": TARGETS[name], "pass": bool(ok)} for name, (value, ok) in values.items()}


def confusion_pairs(errors: Sequence[dict[str, Any]], top: int = 15) -> list[dict[str, Any]]:
    """The most frequent (gold, predicted) pairs of the wrong intents, most frequent first, with an example
    message each: where the next round of data should start."""
    counts: dict[tuple[str, str], list[str]] = {}
    for error in errors:
        counts.setdefault((error["gold"], error["predicted"]), []).append(error["text"])
    ranked = sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {"gold": gold, "predicted": predicted, "count": len(texts), "example": texts[0]}
        for (gold, predicted), texts in ranked[:top]
    ]


# --------------------------------------------------------------------------------------------------------
# Data, training and parsing (Rasa)


def nlu_files(directory: Path = NLU_DIR) -> list[Path]:
    """The NLU files of a training-data directory (the YAML files with an ``nlu`` section), by name."""
    import yaml

    return sorted(
        path
        for path in directory.glob("*.yml")
        if isinstance(data := yaml.safe_load(path.read_text(encoding="utf-8")), dict) and "nlu" in data
    )


def load_nlu(paths: Path | Sequence[Path] = NLU_DIR) -> tuple[dict[str, list[str]], list[tuple[str, str, list[str]]]]:
    """The intents' example lines and the other blocks (synonyms, regexes, lookups) of NLU files (a
    directory: its NLU files), an intent's examples from every file together."""
    from rasa.shared.utils.io import read_yaml

    if isinstance(paths, Path):
        paths = nlu_files(paths) if paths.is_dir() else [paths]
    intents: dict[str, list[str]] = {}
    resources: list[tuple[str, str, list[str]]] = []
    for path in paths:
        data = read_yaml(path.read_text(encoding="utf-8"))
        for block in data["nlu"]:
            for kind in ("intent", "synonym", "regex", "lookup"):
                if kind in block:
                    examples = parse_examples(block["examples"])
                    if kind == "intent":
                        intents.setdefault(block[kind], []).extend(examples)
                    else:
                        resources.append((kind, str(block[kind]), examples))
    return intents, resources


def pipeline_config(name: str, config_file: Path = CONFIG_FILE) -> str:
    """The NLU part of bot/config.yml (YAML text) for pipeline ``name`` (ours or whitespace)."""
    from rasa.shared.utils.io import dump_obj_as_yaml_to_string, read_yaml

    config = read_yaml(config_file.read_text(encoding="utf-8"))
    pipeline = [dict(component) for component in config["pipeline"]]
    if name == "whitespace":
        pipeline = [
            {"name": "WhitespaceTokenizer"} if component["name"] == OUR_TOKENIZER else component
            for component in pipeline
        ]
    elif name == "diet":
        replaced = {*INTENT_CLASSIFIERS, *CRF_EXTRACTORS}
        at = next(index for index, component in enumerate(pipeline) if component["name"] in replaced)
        pipeline = [component for component in pipeline if component["name"] not in replaced]
        pipeline.insert(at, dict(DIET))
    elif name != "ours":
        raise ValueError(name)
    return dump_obj_as_yaml_to_string(
        {
            "recipe": config.get("recipe", "default.v1"),
            "language": config["language"],
            "assistant_id": f"nlu-eval-{name}",
            "pipeline": pipeline,
        }
    )


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RASA_TELEMETRY_ENABLED": "false",
            "RASA_MAX_CACHE_SIZE": "0",  # always train from scratch, and leave no cache behind
        }
    )
    return env


def train(
    workdir: Path, names: Sequence[str], nlu_file: Path, parallel: bool, config_file: Path = CONFIG_FILE
) -> dict[str, float]:
    """Train one NLU model per pipeline into ``workdir/models/<name>.tar.gz``; seconds per model."""
    started: dict[str, tuple[subprocess.Popen[bytes], float, Path]] = {}
    durations: dict[str, float] = {}

    def wait(name: str) -> None:
        process, began, log = started[name]
        if process.wait() != 0:
            sys.stderr.write(log.read_text(encoding="utf-8", errors="replace")[-5000:])
            raise SystemExit(f"training the {name} pipeline failed (log above)")
        durations[name] = round(time.monotonic() - began, 1)

    for name in names:
        config = workdir / f"config-{name}.yml"
        config.write_text(pipeline_config(name, config_file), encoding="utf-8")
        log = workdir / f"train-{name}.log"
        command = [
            sys.executable,
            "-m",
            "rasa",
            "train",
            "nlu",
            "--config",
            str(config),
            "--nlu",
            str(nlu_file),
            "--out",
            str(workdir / "models"),
            "--fixed-model-name",
            name,
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=workdir, env=_environment(), stdout=out, stderr=subprocess.STDOUT)
        started[name] = (process, time.monotonic(), log)
        if not parallel:
            wait(name)
    for name in names:
        if name not in durations:
            wait(name)
    return durations


def held_out_messages(test_file: Path, synonyms: dict[str, str]) -> list[dict[str, Any]]:
    """The held-out messages read by Rasa: text, intent and entities with values after synonym mapping."""
    from rasa.shared.nlu.training_data.loading import load_data

    messages = []
    for message in load_data(str(test_file)).training_examples:
        entities = []
        for entity in message.get("entities") or []:
            value = entity.get("value", message.get("text")[entity["start"] : entity["end"]])
            value = synonyms.get(str(value).lower(), value)
            entities.append(
                {"entity": entity["entity"], "start": entity["start"], "end": entity["end"], "value": value}
            )
        messages.append({"text": message.get("text"), "intent": message.get("intent"), "entities": entities})
    return messages


def without_diacritics(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its diacritics stripped and its gold entity spans moved onto the stripped text."""
    stripped = Stripped(message["text"])
    entities = []
    for entity in message["entities"]:
        start, end = stripped.span(entity["start"], entity["end"])
        original = message["text"][entity["start"] : entity["end"]]
        assert stripped.text[start:end] == strip_diacritics(original), (message["text"], entity)
        entities.append({**entity, "start": start, "end": end})
    return {**message, "text": stripped.text, "entities": entities, "length_kept": stripped.length_kept}


def parse_all(model: Path, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Parse each text with the model in-process (the graph the server would run)."""
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no debug line per parsed message
    agent = Agent.load(str(model))

    async def run() -> list[dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(run())


def evaluate(messages: Sequence[dict[str, Any]], parses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    gold_intents = [m["intent"] for m in messages]
    predicted_intents = [(p.get("intent") or {}).get("name") or "None" for p in parses]
    gold_entities = [m["entities"] for m in messages]
    predicted_entities = [
        [
            {"entity": e["entity"], "start": e["start"], "end": e["end"], "value": e.get("value")}
            for e in p.get("entities") or []
        ]
        for p in parses
    ]
    errors = [
        {
            "text": m["text"],
            "gold": m["intent"],
            "predicted": predicted,
            "confidence": round(float((p.get("intent") or {}).get("confidence") or 0.0), 3),
        }
        for m, p, predicted in zip(messages, parses, predicted_intents, strict=True)
        if predicted != m["intent"]
    ]
    entity_errors = []
    for m, gold, guessed in zip(messages, gold_entities, predicted_entities, strict=True):
        gold_departments = [e for e in gold if e["entity"] == "department"]
        guessed_departments = _dedupe(e for e in guessed if e["entity"] == "department")
        matched = match_entities(gold_departments, guessed_departments)
        if matched != len(gold_departments) or matched != len(guessed_departments):
            entity_errors.append(
                {
                    "text": m["text"],
                    "gold": [(m["text"][e["start"] : e["end"]], e["value"]) for e in gold_departments],
                    "predicted": [(m["text"][e["start"] : e["end"]], e["value"]) for e in guessed_departments],
                }
            )
    section_errors = [
        {
            "text": m["text"],
            "gold": sorted({e["value"] for e in gold if e["entity"] == SECTION_ENTITY}),
            "predicted": sorted({e["value"] for e in guessed if e["entity"] == SECTION_ENTITY}),
        }
        for m, gold, guessed in zip(messages, gold_entities, predicted_entities, strict=True)
        if m["intent"] == SECTION_INTENT
        and {e["value"] for e in gold if e["entity"] == SECTION_ENTITY}
        != {e["value"] for e in guessed if e["entity"] == SECTION_ENTITY}
    ]
    missed: dict[str, int] = {}
    spurious: dict[str, int] = {}
    for gold, guessed in zip(gold_entities, predicted_entities, strict=True):
        for kind in SCORED_ENTITIES:
            wanted = [e for e in gold if e["entity"] == kind]
            found = _dedupe(e for e in guessed if e["entity"] == kind)
            matched = match_entities(wanted, found)
            if len(wanted) > matched:
                missed[kind] = missed.get(kind, 0) + len(wanted) - matched
            if len(found) > matched:
                spurious[kind] = spurious.get(kind, 0) + len(found) - matched
    return {
        "intent": intent_scores(gold_intents, predicted_intents),
        "department": entity_scores(gold_entities, predicted_entities, ["department"]),
        "record_section": section_scores(gold_intents, gold_entities, predicted_entities),
        "entities": entity_scores(gold_entities, predicted_entities, SCORED_ENTITIES),
        "confusion_pairs": confusion_pairs(errors),
        "entity_error_counts": {
            kind: {"missed": missed.get(kind, 0), "spurious": spurious.get(kind, 0)}
            for kind in SCORED_ENTITIES
            if missed.get(kind) or spurious.get(kind)
        },
        "intent_errors": errors,
        "department_errors": entity_errors,
        "record_section_errors": section_errors,
    }


# --------------------------------------------------------------------------------------------------------
# Report


def table(results: dict[str, dict[str, dict[str, dict[str, Any]]]]) -> str:
    header = f"{'pipeline':<11}{'set':<7}{'condition':<15}{'intent F1':>10}{'acc':>7}{'fallbk':>8}"
    header += f"{'dept P':>8}{'dept R':>8}{'dept F1':>8}{'ent F1':>8}{'sect':>7}"
    rows = [header, "-" * len(header)]
    for name, sets in results.items():
        for held, conditions in sets.items():
            for condition, result in conditions.items():
                intent, department = result["intent"], result["department"]
                rows.append(
                    f"{name:<11}{held:<7}{condition:<15}{intent['macro_f1']:>10.3f}{intent['accuracy']:>7.3f}"
                    f"{intent['fallback_rate']:>8.3f}{department['precision']:>8.3f}{department['recall']:>8.3f}"
                    f"{department['f1']:>8.3f}{result['entities']['f1']:>8.3f}"
                    f"{result['record_section']['accuracy']:>7.3f}"
                )
    return "\n".join(rows)


def errors_digest(results: dict[str, dict[str, dict[str, Any]]], limit: int = 12) -> str:
    """One pipeline's confusion pairs, entity error counts and department errors, per set and condition."""
    lines = []
    for held, conditions in results.items():
        for condition, result in conditions.items():
            lines.append(f"-- {held} / {condition}: intent confusions (gold -> predicted, count, example)")
            lines.extend(
                f"   {pair['gold']} -> {pair['predicted']}  x{pair['count']}  «{pair['example']}»"
                for pair in result["confusion_pairs"][:limit]
            )
            counts = ", ".join(
                f"{kind} missed {c['missed']} spurious {c['spurious']}"
                for kind, c in result["entity_error_counts"].items()
            )
            lines.append(f"   entity errors: {counts or 'none'}")
            lines.extend(
                f"   department «{error['text']}»: gold {error['gold']} found {error['predicted']}"
                for error in result["department_errors"][:limit]
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--nlu", type=Path, default=NLU_DIR, help="NLU training data, a file or a directory (default: %(default)s)"
    )
    parser.add_argument(
        "--style",
        type=Path,
        default=STYLE_FILE,
        help="the second held-out set, never trained on (default: %(default)s)",
    )
    parser.add_argument("--report", type=Path, default=REPORT_FILE, help="JSON report (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=CONFIG_FILE, help="pipeline to evaluate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES))
    parser.add_argument(
        "--sequential", action="store_true", help="train the pipelines one after the other (default: together)"
    )
    parser.add_argument("--keep", type=Path, help="keep the split, configs, logs and models in this directory")
    args = parser.parse_args(argv)
    began = time.monotonic()
    warnings.simplefilter("ignore")  # Rasa's dependencies warn about their own deprecations on import

    from rasa.shared.nlu.training_data.loading import load_data

    files = nlu_files(args.nlu) if args.nlu.is_dir() else [args.nlu]
    intents, resources = load_nlu(files)
    train_split, test_split = split_examples(intents, args.seed)
    all_synonyms: dict[str, Any] = {}
    for path in files:
        all_synonyms.update({str(k).lower(): v for k, v in load_data(str(path)).entity_synonyms.items()})

    with tempfile.TemporaryDirectory(prefix="nlu-eval-") as temporary:
        workdir = args.keep or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        train_file, test_file = workdir / "train.yml", workdir / "test.yml"
        train_file.write_text(
            nlu_yaml([("intent", i, e) for i, e in train_split.items()] + resources), encoding="utf-8"
        )
        test_file.write_text(nlu_yaml([("intent", i, e) for i, e in test_split.items()]), encoding="utf-8")
        held_out = {"split": held_out_messages(test_file, all_synonyms)}
        if args.style.exists():
            held_out["style"] = held_out_messages(args.style, all_synonyms)
        messages = {
            held: {"as_written": written, "no_diacritics": [without_diacritics(m) for m in written]}
            for held, written in held_out.items()
        }

        print(f"training {', '.join(args.pipelines)} on {sum(map(len, train_split.values()))} examples ...", flush=True)
        durations = train(workdir, args.pipelines, train_file, parallel=not args.sequential, config_file=args.config)
        trained = time.monotonic()

        results: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for name in args.pipelines:
            model = workdir / "models" / f"{name}.tar.gz"
            cases = [(held, condition) for held in messages for condition in CONDITIONS]
            texts = [m["text"] for held, condition in cases for m in messages[held][condition]]
            parses = parse_all(model, texts)
            results[name] = {held: {} for held in messages}
            at = 0
            for held, condition in cases:
                size = len(messages[held][condition])
                results[name][held][condition] = evaluate(messages[held][condition], parses[at : at + size])
                at += size

    outcome = checks(results) if "ours" in results else {}
    passed = all(check["pass"] for check in outcome.values()) and "style" in messages and bool(outcome)
    report = {
        "data": [_shown(path) for path in files],
        "style_set": _shown(args.style) if args.style.exists() else None,
        "config": _shown(args.config),
        "split": {
            "seed": args.seed,
            "method": "per intent, examples grouped by near_duplicate_key (folded words, no particles); the groups "
            "with the lowest sha256(seed:intent:key) are held out",
            "near_duplicate_groups": sum(
                len(examples) - len({near_duplicate_key(e) for e in examples}) for examples in intents.values()
            ),
            "holdout_fraction": HOLDOUT_FRACTION,
            "train_size": sum(map(len, train_split.values())),
            "test_size": sum(map(len, test_split.values())),
            "style_size": len(held_out.get("style", [])),
            "per_intent": {
                intent: {
                    "total": len(intents[intent]),
                    "train": len(train_split[intent]),
                    "test": len(test_split[intent]),
                }
                for intent in intents
            },
            "no_diacritics_length_kept": {
                held: sum(m["length_kept"] for m in conditions["no_diacritics"])
                for held, conditions in messages.items()
            },
        },
        "models": "one model per pipeline, trained on the split's training half; it parses both held-out sets",
        "matching": "entity counts when its type and value (after synonym mapping; compared lower-case without "
        "diacritics) equal the gold ones and the spans overlap; nlu_fallback counts as a predicted intent",
        "results": results,
        "targets": TARGETS,
        "checks": outcome,
        "pass": passed,
        "seconds": {
            "training": durations,
            "total": round(time.monotonic() - began, 1),
            "parsing": round(time.monotonic() - trained, 1),
        },
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    print(table(results))
    if "ours" in results:
        print(errors_digest(results["ours"]))
    if "style" not in messages:
        print(f"FAIL  no second held-out set: {args.style} is missing")
    for name, check in outcome.items():
        print(f"{'PASS' if check['pass'] else 'FAIL'}  {name} = {check['value']:.3f} (target {check['target']})")
    print(f"report: {args.report}; {report['seconds']['total']:.0f} s (training {durations})")
    return 0 if passed else 1


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    sys.exit(main())
