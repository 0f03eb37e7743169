"""The Rasa tokenizer on underthesea (bot/nlu/tokenizer.py), run in the Rasa environment (.venv-rasa)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from tests.rasa_env import run_in_rasa

SCRIPT = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.tokenizer import UndertheseaTokenizer
tokenizer = UndertheseaTokenizer(UndertheseaTokenizer.get_default_config())
out = []
for text in json.loads(sys.stdin.read()):
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    out.append([[t.text, t.start, t.end] for t in tokens])
print(json.dumps(out, ensure_ascii=False))
"""

INPUTS = [
    "Tôi muốn đặt lịch khám khoa nhi sáng mai",
    "khám ở Hoà Bình, thuỷ tinh thể nhé!!",
    unicodedata.normalize("NFD", "Khám hoà bình"),
    "  cho  em   hỏi\u00a0giờ khám  ",
    "dat lich kham tai mui hong",
    "",
]


@pytest.fixture(scope="module")
def tokens():
    return dict(zip(INPUTS, json.loads(run_in_rasa(SCRIPT, stdin=json.dumps(INPUTS))), strict=True))


def spans(tokens, text):
    return [text[start:end] for _token, start, end in tokens[text]]


def test_words_of_several_syllables_are_one_token_on_the_original_characters(tokens):
    text = INPUTS[0]
    assert spans(tokens, text)[-1] == "sáng mai"
    assert tokens[text][-1][0] == "sáng_mai"
    assert all(start < end for _t, start, end in tokens[text])


def test_rewritten_tone_marks_still_point_at_what_the_user_typed(tokens):
    text = INPUTS[1]
    assert "Hoà Bình" in spans(tokens, text)
    assert "thuỷ" in " ".join(spans(tokens, text)) and "Bình," not in spans(tokens, text)
    assert "!!" not in spans(tokens, text) and "," not in spans(tokens, text), "punctuation is dropped"


def test_decomposed_unicode(tokens):
    text = INPUTS[2]
    assert " ".join(unicodedata.normalize("NFC", s) for s in spans(tokens, text)) == "Khám hoà bình"
    assert tokens[text][-1][2] == len(text)


def test_odd_spacing(tokens):
    text = INPUTS[3]
    assert spans(tokens, text)[0] == "cho" and tokens[text][0][1] == 2
    assert all(not s.startswith(" ") and not s.endswith(" ") for s in spans(tokens, text))


def test_text_without_diacritics_and_empty_text(tokens):
    assert "".join(spans(tokens, INPUTS[4])).replace(" ", "") == INPUTS[4].replace(" ", "")
    assert tokens[""] == [["", 0, 0]]


BROKEN = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from bot.nlu import tokenizer as module
tokenizer = module.UndertheseaTokenizer(module.UndertheseaTokenizer.get_default_config())
texts = json.loads(sys.stdin.read())
out = {"lone": [], "underthesea_fails": []}
for text in texts:
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    out["lone"].append([[t.text, t.start, t.end, text[t.start:t.end]] for t in tokens])

def broken(text):
    raise RuntimeError("underthesea tripped")

module.word_tokenize = broken
for text in texts:
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    out["underthesea_fails"].append([[t.text, t.start, t.end, text[t.start:t.end]] for t in tokens])
print(json.dumps(out))
"""

# JSON "\\ud83d" (half an emoji) arrives in Python as a lone surrogate: underthesea cannot encode it.
LONE = ["cho em \ud83d đặt lịch khám nhi", "\ud83d", "khám\udc00 mắt"]


def test_a_lone_surrogate_or_an_underthesea_failure_still_gives_tokens_on_the_original_text() -> None:
    result = json.loads(run_in_rasa(BROKEN, stdin=json.dumps(LONE)))
    for kind in ("lone", "underthesea_fails"):
        first, alone, glued = result[kind]
        words = {s for *_x, s in first}
        assert "đặt lịch" in words or {"đặt", "lịch"} <= words, (kind, first)
        assert all(LONE[0][a:b] == s for _t, a, b, s in first), "spans point into the text as received"
        assert len(alone) == 1 and alone[0][1:3] == [0, 1]
        assert any(s.startswith("khám") for *_x, s in glued) and any(s == "mắt" for *_x, s in glued)


LEMMA_SCRIPT = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from bot.nlu.tokenizer import UndertheseaTokenizer
tokenizer = UndertheseaTokenizer(UndertheseaTokenizer.get_default_config())
print(json.dumps([[t.lemma for t in tokenizer.tokenize(Message(data={"text": text}), "text")]
                  for text in json.loads(sys.stdin.read())], ensure_ascii=False))
"""


def test_lemmas_are_plain_forms_so_shorthand_reads_like_full_spelling() -> None:
    texts = ["không được", "ko dc", "k đc", "khong duoc"]
    lemmas = json.loads(run_in_rasa(LEMMA_SCRIPT, stdin=json.dumps(texts)))
    assert {" ".join(lemma) for lemma in lemmas} == {"khong duoc"}


def test_emoji_that_say_something_are_tokens_and_others_are_dropped() -> None:
    lemmas = json.loads(run_in_rasa(LEMMA_SCRIPT, stdin=json.dumps(["👍", "cảm ơn ad 🙏🌸", "🌸🌸"])))
    assert lemmas[0] == ["ok"]
    assert lemmas[1] == ["cam_on", "admin", "cam_on"]  # the flower says nothing: dropped
    assert len(lemmas[2]) == 1  # nothing but emoji that say nothing: the whole message is one token
