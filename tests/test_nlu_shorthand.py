"""The plain form of a typed word (bot/nlu/shorthand.py): what the lemma featurizers of the NLU read, so
chat shorthand and full spelling, with or without diacritics, look alike to the classifier."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.folding import strip_diacritics
from bot.nlu.shorthand import SHORTHAND, emoji_meaning, plain, plain_text


@pytest.mark.parametrize(
    ("typed", "full"),
    [
        (["ko", "k", "kg", "khg", "hok", "không", "khong"], "khong"),
        (["dc", "đc", "được", "duoc"], "duoc"),
        (["j", "gì", "gi"], "gi"),
        (["z", "dzậy", "vậy"], "vay"),
        (["mik", "mk", "mình"], "minh"),
        (["oke", "oki", "okla", "okie", "okkk", "ok"], "ok"),
        (["bs", "bsi", "bác_sĩ"], "bac_si"),
        (["bv", "bệnh_viện"], "benh_vien"),
        (["tks", "thanks", "cảm_ơn"], "cam_on"),
    ],
)
def test_shorthand_and_full_spelling_have_one_plain_form(typed: list[str], full: str) -> None:
    assert {plain(word) for word in typed} == {full}


def test_stretched_letters_are_cut_to_one() -> None:
    assert plain("Alooooo") == "alo"
    assert plain("khôngggg") == "khong"
    assert plain("cảm_ơnnnn") == "cam_on"


def test_a_doubled_final_consonant_is_an_english_word_stretched() -> None:
    # no Vietnamese syllable ends in a doubled consonant; a doubled vowel is a word ("ưu" is "uu")
    assert plain("yess") == plain("yes") == "vang"
    assert plain("thankss") == "cam_on" and plain("okk") == "ok"
    assert plain("ưu") == "uu"


def test_emoji_that_say_something_read_as_their_word() -> None:
    assert plain("👍") == plain("👍👍") == plain("👍🏽") == plain("ok")
    assert plain("🙏🏻") == "cam_on" and plain("👎") == "khong" and plain("😂😂") == "haha"
    assert emoji_meaning("🌸") is None and emoji_meaning("👍🙏") is None  # no meaning, or two


def test_words_that_mean_two_things_stay_as_typed() -> None:
    # "Hồng" is a name as often as southern "hông"; "dk" is "đăng ký" or "điều kiện"; "bn" "bạn" or "bao nhiêu"
    assert plain("Hồng") == "hong"
    assert plain("dk") == "dk" and plain("bn") == "bn" and plain("a") == "a"


def test_the_table_maps_folded_keys_to_folded_words() -> None:
    for key, value in SHORTHAND.items():
        assert key == strip_diacritics(key) and value == strip_diacritics(value), key


@given(st.text(alphabet="abcdeghiklmnopqrstuvxyđáàảãạăắằẳẵặâấầẩẫậéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵ_"))
def test_a_word_and_its_copy_without_diacritics_have_one_plain_form(word: str) -> None:
    assert plain(word) == plain(strip_diacritics(word))


def test_a_message_reads_the_same_whatever_way_it_was_typed() -> None:
    # the intent classifier's text members read this: one form for diacritics or none, shorthand or full words
    assert plain_text("Khám tai mũi họng được không ạ?") == plain_text("kham tai mui hong dc ko a")
    assert plain_text("Khám tai mũi họng được không ạ?") == "kham tai mui hong duoc khong a"
    assert plain_text("alo!!! 🙏 ...") == "alo"
