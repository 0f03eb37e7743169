"""Token spans in the original message even when the tokenizer rewrote the words (bot/nlu/alignment.py)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.nlu.alignment import AlignmentError, align


def spans_text(text: str, words: list[str]) -> list[str]:
    return [text[start:end] for start, end in align(text, words)]


def test_plain_words_map_to_themselves():
    text = "Tôi muốn đặt lịch khám khoa nhi sáng mai"
    words = ["Tôi", "muốn", "đặt", "lịch", "khám", "khoa", "nhi", "sáng mai"]
    assert spans_text(text, words) == words


def test_old_style_tone_marks_rewritten_by_the_tokenizer():
    text = "khám ở Hoà Bình, thuỷ tinh thể"
    words = ["khám", "ở", "Hòa Bình", ",", "thủy tinh thể"]  # what underthesea returns
    assert spans_text(text, words) == ["khám", "ở", "Hoà Bình", ",", "thuỷ tinh thể"]


def test_decomposed_unicode_keeps_its_combining_marks_inside_the_span():
    text = unicodedata.normalize("NFD", "khám hoà bình")
    spans = align(text, ["khám", "hòa bình"])
    assert [unicodedata.normalize("NFC", text[s:e]) for s, e in spans] == ["khám", "hoà bình"]
    assert spans[-1][1] == len(text), "the last mark belongs to the last word"


def test_odd_spacing_inside_and_between_words():
    text = "  Khám   tai  mũi họng\u00a0nhé "
    words = ["Khám", "tai mũi họng", "nhé"]
    assert spans_text(text, words) == ["Khám", "tai  mũi họng", "nhé"]


def test_case_and_digits_and_punctuation():
    text = "ĐẶT LỊCH 8h30, mã 7KQ2MX!"
    words = ["đặt lịch", "8h30", ",", "mã", "7kq2mx", "!"]
    assert spans_text(text, words) == ["ĐẶT LỊCH", "8h30", ",", "mã", "7KQ2MX", "!"]


def test_a_word_that_is_not_in_the_message_is_an_error():
    with pytest.raises(AlignmentError):
        align("khám nhi", ["khám", "mắt"])
    with pytest.raises(AlignmentError):
        align("khám", ["khám", "nhi"])


def test_an_emoji_variation_selector_that_underthesea_cuts_off_is_an_empty_word():
    # underthesea returns "☀️" as "☀" and "\ufe0f", "🙋‍♀️ nha" as "🙋", "\u200d ♀", "\ufe0f nha"
    text = "chào buổi sáng ☀\ufe0f"
    end = len(text)
    assert align(text, ["chào", "buổi", "sáng", "☀", "\ufe0f"])[-2:] == [(end - 2, end), (end, end)]
    text = "alo 🙋\u200d♀\ufe0f nha"
    assert spans_text(text, ["alo", "🙋", "\u200d ♀", "\ufe0f nha"])[-1] == "nha"
