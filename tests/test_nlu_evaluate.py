"""The held-out NLU evaluation (bot/nlu/evaluate.py) without training: the split, diacritics stripping with
span remapping, entity and intent scoring, the pass/fail checks and the files handed to Rasa.

The pure functions need only the standard library and run here; what needs Rasa or scikit-learn runs in
the Rasa environment (.venv-rasa) through ``run_in_rasa``.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from bot.nlu.evaluate import (
    CRF_EXTRACTORS,
    INTENT_CLASSIFIERS,
    TARGETS,
    Stripped,
    checks,
    confusion_pairs,
    entity_scores,
    fold,
    match_entities,
    near_duplicate_key,
    nlu_yaml,
    parse_examples,
    section_scores,
    split_examples,
    strip_diacritics,
)
from tests.rasa_env import run_in_rasa

INTENTS = {
    "greet": [f"chào {i}" for i in range(8)],
    "book_appointment": [f"đặt lịch {i}" for i in range(41)],
    "affirm": ["có", "ok", "vâng"],
    "lonely": ["chỉ một"],
}


def test_split_is_stratified_by_intent_with_a_quarter_held_out() -> None:
    train, test = split_examples(INTENTS, seed=7)
    assert {intent: len(examples) for intent, examples in test.items()} == {
        "greet": 2,
        "book_appointment": 10,  # round(41 / 4)
        "affirm": 1,
        "lonely": 0,  # a single example stays in training
    }
    for intent, examples in INTENTS.items():
        assert sorted(train[intent] + test[intent]) == sorted(examples)
        assert not set(train[intent]) & set(test[intent])


def test_split_is_deterministic_and_ignores_file_order() -> None:
    first = split_examples(INTENTS, seed=7)[1]
    assert split_examples(INTENTS, seed=7)[1] == first
    shuffled = {intent: list(reversed(examples)) for intent, examples in reversed(INTENTS.items())}
    assert {i: sorted(e) for i, e in split_examples(shuffled, seed=7)[1].items()} == {
        i: sorted(e) for i, e in first.items()
    }
    assert split_examples(INTENTS, seed=8)[1] != first


def test_adding_an_example_moves_at_most_one_other_across_the_line() -> None:
    before = split_examples(INTENTS, seed=7)[1]["book_appointment"]
    grown = {**INTENTS, "book_appointment": [*INTENTS["book_appointment"], "đặt lịch mới"]}
    after = split_examples(grown, seed=7)[1]["book_appointment"]
    assert len(set(before) - set(after)) <= 1
    assert len(set(after) - set(before)) <= 1


def test_near_duplicates_stay_on_one_side_of_the_split() -> None:
    """A message and its twin typed without diacritics or particles are held out or trained on together."""
    twins = [f"đặt lịch khám số {i}" for i in range(20)]
    intents = {"book_appointment": twins + [strip_diacritics(t) + " ạ" for t in twins]}
    for seed in range(5):
        train, test = split_examples(intents, seed=seed)
        trained = {near_duplicate_key(example) for example in train["book_appointment"]}
        assert test["book_appointment"]
        assert not [example for example in test["book_appointment"] if near_duplicate_key(example) in trained]
        assert len(test["book_appointment"]) == 10  # a quarter of 40, in pairs


def test_near_copies_stay_on_one_side_of_the_split_too() -> None:
    """ "chào buổi sáng" and "chào buổi sáng bạn" share three of four words: held out or trained on together,
    and so is a chain of such pairs."""
    chain = ["chào buổi sáng", "chào buổi sáng bạn", "chào buổi sáng bạn nhé", "xin chào buổi sáng bạn nhé"]
    others = [f"lời chào số {i} {i * 7} {i * 13}" for i in range(12)]
    held_out_whole = 0
    for seed in range(30):
        test = set(split_examples({"greet": chain + others}, seed=seed)[1]["greet"])
        assert not (set(chain) & test) or set(chain) <= test
        held_out_whole += set(chain) <= test
    assert held_out_whole  # the chain is held out, whole, for some seeds


def test_the_near_duplicate_key_ignores_annotations_marks_case_and_particles() -> None:
    assert near_duplicate_key('Đặt lịch [khoa Mắt]{"entity": "department", "value": "mat"} ạ!') == (
        near_duplicate_key("dat lich khoa mat nha ad")
    )
    assert near_duplicate_key("đặt lịch khoa mắt") != near_duplicate_key("đặt lịch khoa nhi")


def test_adding_an_intent_does_not_move_the_others() -> None:
    more = {**INTENTS, "thank": [f"cảm ơn {i}" for i in range(12)]}
    before, after = split_examples(INTENTS, seed=7)[1], split_examples(more, seed=7)[1]
    assert all(after[intent] == before[intent] for intent in INTENTS)


def test_parse_examples_keeps_annotations() -> None:
    block = '- đặt lịch [khoa mắt](department)\n- [mắt]{"entity": "department", "value": "mat"} ạ\n\n'
    assert parse_examples(block) == [
        "đặt lịch [khoa mắt](department)",
        '[mắt]{"entity": "department", "value": "mat"} ạ',
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đặt lịch khám mắt ở Đà Nẵng", "Dat lich kham mat o Da Nang"),
        ("tiêm chủng, thuỷ đậu, HOÀ", "tiem chung, thuy dau, HOA"),
        ("đã khám chưa?", "da kham chua?"),
        ("dat lich kham", "dat lich kham"),
    ],
)
def test_strip_diacritics(text: str, expected: str) -> None:
    assert strip_diacritics(text) == expected
    assert strip_diacritics(unicodedata.normalize("NFD", text)) == expected


def test_stripping_composed_vietnamese_keeps_every_offset() -> None:
    text = "Em muốn đặt [khoa mắt] ở bệnh viện đa khoa tỉnh"
    stripped = Stripped(text)
    assert stripped.length_kept and len(stripped.text) == len(text)
    assert all(stripped.span(i, j) == (i, j) for i in range(len(text)) for j in range(i + 1, len(text) + 1, 7))


def test_spans_move_onto_the_stripped_text_of_a_decomposed_message() -> None:
    text = unicodedata.normalize("NFD", "hẹn khám tai mũi họng sáng mai")
    start = text.index(unicodedata.normalize("NFD", "tai mũi họng"))
    end = start + len(unicodedata.normalize("NFD", "tai mũi họng"))
    stripped = Stripped(text)
    assert len(text) > len(stripped.text)  # decomposed input is longer than its NFC form
    assert stripped.length_kept  # ...and the stripped text has the NFC length
    new_start, new_end = stripped.span(start, end)
    assert stripped.text[new_start:new_end] == "tai mui hong"


def test_a_span_ending_inside_a_cluster_takes_the_whole_cluster() -> None:
    text = unicodedata.normalize("NFD", "mắt")  # m, a, combining breve, combining acute, t
    stripped = Stripped(text)
    assert stripped.text == "mat"
    assert stripped.span(0, 2) == (0, 2)  # "ma" + marks still ahead: the cluster "ắ" is taken whole
    assert stripped.span(1, 3) == (1, 2)


def test_fold_compares_values_without_case_or_marks() -> None:
    assert fold("Nguyễn  Thị Hoa") == fold("nguyen thi hoa") == "nguyen thi hoa"
    assert fold("tim_mach") == "tim_mach"


def _entity(name: str, start: int, end: int, value: str) -> dict:
    return {"entity": name, "start": start, "end": end, "value": value}


def test_an_entity_counts_when_type_and_value_match_and_spans_overlap() -> None:
    gold = [_entity("department", 10, 18, "mat")]
    assert match_entities(gold, [_entity("department", 5, 18, "mat")]) == 1  # "khoa mắt" for "mắt": overlap
    assert match_entities(gold, [_entity("department", 10, 18, "nhi")]) == 0  # wrong value
    assert match_entities(gold, [_entity("department", 0, 9, "mat")]) == 0  # no overlap
    assert match_entities(gold, [_entity("hospital", 10, 18, "mat")]) == 0  # wrong type
    two = [_entity("department", 10, 18, "mat"), _entity("department", 12, 16, "mat")]
    assert match_entities(gold, two) == 1  # one prediction per gold entity


def test_department_precision_recall_f1() -> None:
    gold = [
        [_entity("department", 0, 3, "mat")],
        [_entity("department", 0, 3, "nhi"), _entity("person_name", 10, 13, "Hoa")],
        [],
        [_entity("department", 4, 8, "tim_mach")],
    ]
    predicted = [
        [_entity("department", 0, 3, "mat"), _entity("time", 5, 9, "x")],
        [_entity("department", 0, 3, "nhi"), _entity("department", 0, 3, "nhi")],  # two extractors: one entity
        [_entity("department", 0, 2, "da_lieu")],  # not there at all
        [],  # missed
    ]
    scores = entity_scores(gold, predicted, ["department"])
    assert (scores["tp"], scores["predicted"], scores["gold"]) == (2, 3, 3)
    assert scores["precision"] == scores["recall"] == scores["f1"] == pytest.approx(0.6667)
    overall = entity_scores(gold, predicted, ["department", "person_name"])
    assert (overall["tp"], overall["predicted"], overall["gold"]) == (2, 3, 4)
    assert entity_scores([[]], [[]], ["department"])["f1"] == 0.0


def _results(
    written: float, stripped: float, department: float, sections: tuple[float, float] = (1, 1), style: bool = True
) -> dict:
    def one(f1: float, dep: float, section: float) -> dict:
        return {
            "intent": {"macro_f1": f1},
            "department": {"f1": dep},
            "record_section": {"accuracy": section, "accuracy_named": section},
        }

    def held_out() -> dict:
        return {
            "as_written": one(written, department, sections[0]),
            "no_diacritics": one(stripped, 0.5, sections[1]),
        }

    return {"ours": {"split": held_out(), **({"style": held_out()} if style else {})}}


def test_checks_apply_the_targets_to_both_held_out_sets() -> None:
    per_set = {
        "as_written.intent_macro_f1": 0.95,
        "as_written.department_f1": 0.95,
        "no_diacritics.intent_macro_f1_drop": 0.03,
    }
    assert {
        **{f"ours.{held}.{name}": value for held in ("split", "style") for name, value in per_set.items()},
        "ours.split.as_written.section_accuracy": 0.95,
        "ours.split.no_diacritics.section_accuracy": 0.90,
    } == TARGETS
    assert all(check["pass"] for check in checks(_results(0.96, 0.94, 0.96, (0.95, 0.90))).values())
    failed = {name for name, check in checks(_results(0.94, 0.90, 0.94, (0.94, 0.89))).items() if not check["pass"]}
    assert failed == set(TARGETS)
    assert checks(_results(0.95, 0.92, 0.95))["ours.style.no_diacritics.intent_macro_f1_drop"]["pass"]  # on target
    # one set failing is a failure, whichever set it is
    results = _results(0.97, 0.96, 0.97)
    results["ours"]["style"]["no_diacritics"]["intent"]["macro_f1"] = 0.90
    assert [name for name, check in checks(results).items() if not check["pass"]] == [
        "ours.style.no_diacritics.intent_macro_f1_drop"
    ]
    # without a style set there are no style checks (main() fails the run for the missing set)
    assert not any(".style." in name for name in checks(_results(0.97, 0.96, 0.97, style=False)))


def test_confusion_pairs_rank_the_most_frequent_mistakes_first() -> None:
    errors = [
        {"text": "giá vàng", "gold": "out_of_scope", "predicted": "ask_cost"},
        {"text": "Như Ý", "gold": "inform", "predicted": "affirm"},
        {"text": "tỷ giá đô", "gold": "out_of_scope", "predicted": "ask_cost"},
        {"text": "Đoàn Huy", "gold": "inform", "predicted": "deny"},
    ]
    pairs = confusion_pairs(errors, top=2)
    assert pairs[0] == {"gold": "out_of_scope", "predicted": "ask_cost", "count": 2, "example": "giá vàng"}
    assert len(pairs) == 2 and pairs[1]["count"] == 1


def test_a_section_counts_when_the_bot_would_show_the_one_asked_for() -> None:
    section = {"entity": "record_section", "start": 0, "end": 4}
    gold_intents = ["ask_record_summary"] * 4 + ["book_appointment"]
    gold = [
        [{**section, "value": "don_thuoc"}],
        [{**section, "value": "tai_kham"}],
        [],  # "xem hồ sơ của tôi": no section
        [{**section, "value": "xet_nghiem"}],
        [{**section, "value": "tiem_chung"}],  # another intent: not scored
    ]
    predicted = [
        [{**section, "value": "don_thuoc", "start": 2}],  # right section, another span: right
        [{**section, "value": "tai_kham"}, {**section, "value": "xet_nghiem"}],  # a second section: wrong
        [],  # right: none asked, none found
        [],  # missed
        [],
    ]
    scores = section_scores(gold_intents, gold, predicted)
    assert scores == {"accuracy": 0.5, "accuracy_named": round(1 / 3, 4), "messages": 4, "named": 3}
    # the check takes the worse of the two
    results = _results(0.95, 0.93, 0.91)
    results["ours"]["split"]["as_written"]["record_section"] = {"accuracy": 0.97, "accuracy_named": 0.94}
    assert not checks(results)["ours.split.as_written.section_accuracy"]["pass"]


RASA_SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from rasa.shared.utils.io import read_yaml
from bot.nlu import evaluate

case = json.loads(sys.stdin.read())
out = {}
with tempfile.TemporaryDirectory() as tmp:
    test_file = Path(tmp) / "test.yml"
    test_file.write_text(evaluate.nlu_yaml([("intent", i, e) for i, e in case["intents"].items()]), encoding="utf-8")
    messages = evaluate.held_out_messages(test_file, case["synonyms"])
    out["messages"] = messages
    out["stripped"] = [evaluate.without_diacritics(m) for m in messages]
    out["intent"] = evaluate.intent_scores(case["gold"], case["predicted"])
    ours = read_yaml(evaluate.pipeline_config("ours"))
    whitespace = read_yaml(evaluate.pipeline_config("whitespace"))
    out["ours"] = [c["name"] for c in ours["pipeline"]]
    out["whitespace"] = [c["name"] for c in whitespace["pipeline"]]
    out["policies"] = "policies" in ours
    out["diet"] = read_yaml(evaluate.pipeline_config("diet"))["pipeline"]
    one, two = Path(tmp) / "a.yml", Path(tmp) / "b.yml"
    one.write_text(evaluate.nlu_yaml([("intent", "greet", ["chào"]), ("synonym", "mat", ["mắt"])]), encoding="utf-8")
    two.write_text(evaluate.nlu_yaml([("intent", "greet", ["alo"]), ("intent", "thank", ["cảm ơn"])]), encoding="utf-8")
    (Path(tmp) / "rules.yml").write_text('version: "3.1"\\nrules: []\\n', encoding="utf-8")
    out["files"] = [p.name for p in evaluate.nlu_files(Path(tmp))]
    out["merged"] = evaluate.load_nlu(Path(tmp))
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def in_rasa() -> dict:
    case = {
        "intents": {
            "book_appointment": ['đặt lịch [khoa mắt]{"entity": "department", "value": "mat"} sáng mai'],
            "inform": ["[Nguyễn Thị Hoa](person_name), [mắt](department) ạ"],
        },
        "synonyms": {"mắt": "mat", "khoa mắt": "mat"},
        "gold": ["greet", "greet", "affirm", "deny"],
        "predicted": ["greet", "nlu_fallback", "affirm", "affirm"],
    }
    return json.loads(run_in_rasa(RASA_SCRIPT, stdin=json.dumps(case, ensure_ascii=False)))


def test_held_out_messages_carry_gold_entities_after_synonym_mapping(in_rasa: dict) -> None:
    booking, inform = in_rasa["messages"]
    assert booking["intent"] == "book_appointment" and booking["text"] == "đặt lịch khoa mắt sáng mai"
    assert [(e["entity"], booking["text"][e["start"] : e["end"]], e["value"]) for e in booking["entities"]] == [
        ("department", "khoa mắt", "mat")
    ]
    assert [(e["entity"], e["value"]) for e in inform["entities"]] == [
        ("person_name", "Nguyễn Thị Hoa"),
        ("department", "mat"),  # "mắt" through the synonyms
    ]


def test_stripped_messages_keep_their_entities_on_the_right_characters(in_rasa: dict) -> None:
    for message in in_rasa["stripped"]:
        assert message["length_kept"]
    inform = in_rasa["stripped"][1]
    assert inform["text"] == "Nguyen Thi Hoa, mat a"
    assert [inform["text"][e["start"] : e["end"]] for e in inform["entities"]] == ["Nguyen Thi Hoa", "mat"]


def test_nlu_fallback_is_a_wrong_intent(in_rasa: dict) -> None:
    intent = in_rasa["intent"]
    assert intent["accuracy"] == 0.5
    assert intent["fallback_rate"] == 0.25
    assert intent["per_intent"]["greet"]["recall"] == 0.5
    assert "nlu_fallback" not in intent["per_intent"]  # macro-F1 over the gold intents only
    assert intent["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3, abs=1e-4)


def test_the_whitespace_pipeline_differs_from_ours_only_in_the_tokenizer(in_rasa: dict) -> None:
    ours, whitespace = in_rasa["ours"], in_rasa["whitespace"]
    assert ours[0] == "bot.nlu.tokenizer.UndertheseaTokenizer" and whitespace[0] == "WhitespaceTokenizer"
    assert ours[1:] == whitespace[1:]
    assert "bot.nlu.datetime_extractor.ViDateTimeExtractor" in whitespace
    assert not in_rasa["policies"]  # NLU only


def test_diet_takes_the_place_of_the_classifier_and_the_crf(in_rasa: dict) -> None:
    names = [c["name"] for c in in_rasa["diet"]]
    ours = in_rasa["ours"]
    classifier = next(n for n in ours if n in INTENT_CLASSIFIERS)
    crf = next(n for n in ours if n in CRF_EXTRACTORS)
    assert classifier not in names and crf not in names
    assert names.index("DIETClassifier") == ours.index(classifier)
    assert [n for n in names if n != "DIETClassifier"] == [n for n in ours if n not in {classifier, crf}]


def test_the_training_data_of_a_directory_is_every_nlu_file_together(in_rasa: dict) -> None:
    assert in_rasa["files"] == ["a.yml", "b.yml", "test.yml"]  # not rules.yml
    intents, resources = in_rasa["merged"]
    assert intents["greet"] == ["chào", "alo"] and intents["thank"] == ["cảm ơn"]
    assert resources == [["synonym", "mat", ["mắt"]]]


def test_nlu_yaml_writes_blocks_rasa_reads() -> None:
    text = nlu_yaml([("intent", "greet", ["chào", "alo"]), ("synonym", "mat", ["mắt"]), ("intent", "empty", [])])
    assert text.startswith('version: "3.1"\nnlu:\n')
    assert '- intent: "greet"\n  examples: |\n    - chào\n    - alo\n' in text
    assert "empty" not in text
