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
