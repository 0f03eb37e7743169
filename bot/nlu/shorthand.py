"""The plain form of a word as patients type it: no diacritics, chat shorthand and teen-code spelled out,
stretched letters shortened ("kooo" → "khong", "dc" → "duoc", "alooo" → "alo", "oki" → "ok").

The NLU's featurizers that read a token's lemma see this form, so "ko dc", "k đc", "hông được" and "không
được" look alike to the classifier, whoever wrote them. Pure Python (both environments).

Written here because no maintained library normalises Vietnamese chat shorthand (underthesea's
``text_normalize`` fixes tone-mark placement only). The table holds only forms that mean one thing in a
patient's message; ambiguous ones stay as typed ("dk": "đăng ký" or "điều kiện"; "bn": "bạn" or "bao
nhiêu"; "a": "anh" or "ạ"; "m": "mình" or "mày"; "hong": "hông" (không) or the name "Hồng"; "no": "nó").
"""

from __future__ import annotations

import re

from bot.nlu.folding import strip_diacritics

# Folded shorthand → folded word. Keys and values are lower case without diacritics.
SHORTHAND = {
    # không
    "k": "khong", "ko": "khong", "kg": "khong", "kh": "khong", "khg": "khong",
    "hok": "khong", "hog": "khong", "hem": "khong", "hk": "khong", "khum": "khong", "kp": "khong phai",
    # được, gì, vậy, rồi, với, biết, thích, người, bây giờ
    "dc": "duoc", "j": "gi", "ji": "gi", "z": "vay", "dz": "vay",
    "zay": "vay", "dzay": "vay", "vs": "voi", "r": "roi", "rui": "roi", "bik": "biet", "bit": "biet",
    "bjk": "biet", "thik": "thich", "ng": "nguoi", "bh": "bay gio", "bjo": "bay gio",
    # people
    "e": "em", "mik": "minh", "mk": "minh", "mjk": "minh", "mh": "minh", "t": "toi", "tui": "toi",
    "b": "ban", "bro": "ban", "c": "chi", "ad": "admin", "add": "admin", "ace": "anh chi em",
    "bs": "bac si", "bsi": "bac si", "bsy": "bac si", "bac sy": "bac si", "nv": "nhan vien",
    # places, papers
    "bv": "benh vien", "bvien": "benh vien", "pk": "phong kham", "sdt": "so dien thoai", "dt": "dien thoai",
    "bhyt": "bao hiem y te", "cccd": "can cuoc", "cmnd": "can cuoc",
    # yes, thanks, hello
    "ok": "ok", "oke": "ok", "okie": "ok", "oki": "ok", "okla": "ok", "okela": "ok", "okay": "ok", "oce": "ok",
    "uk": "u", "uh": "u", "uhm": "u", "um": "u", "uki": "u", "yes": "vang", "yep": "vang",
    "tks": "cam on", "thks": "cam on", "thanks": "cam on", "thank": "cam on", "thx": "cam on", "camon": "cam on",
    "cmon": "cam on", "hi": "chao", "hello": "chao", "helo": "chao", "hey": "chao", "bye": "tam biet",
    "pp": "tam biet", "bb": "tam biet",
    # what, how, when
    "ntn": "nhu the nao", "bnhieu": "bao nhieu", "nhiu": "nhieu", "mn": "moi nguoi",
    "mng": "moi nguoi", "hnay": "hom nay", "hqua": "hom qua",
    # intents in English, as patients mix them in
    "book": "dat", "booking": "dat lich", "cancel": "huy", "check": "kiem tra", "confirm": "xac nhan",
    "stop": "dung", "help": "giup",
}  # fmt: skip
_STRETCHED = re.compile(r"([a-z])\1{2,}")  # three or more of one letter: "alooo", "okkk"
# A doubled final consonant: no Vietnamese syllable ends so, an English word typed with a stretch does
# ("yess", "thankss", "okk"); a doubled vowel stays ("uu" is "ưu").
_DOUBLED_FINAL = re.compile(r"([bcdfghjklmnpqrstvxz])\1$")
# Emoji that carry a meaning in a patient's message, and the word they stand for (skin tones and the
# emoji variation selector removed first); other emoji are dropped as punctuation is.
EMOJI = {
    "👍": "ok", "👌": "ok", "✅": "ok", "🆗": "ok", "👎": "khong", "❌": "khong", "🙅": "khong",
    "🙏": "cam_on", "👋": "chao", "🤝": "cam_on", "😂": "haha", "🤣": "haha", "😆": "haha", "😁": "haha",
    "😄": "haha", "😅": "haha", "😭": "buon", "😢": "buon", "😔": "buon", "🆘": "cap_cuu", "🚑": "cap_cuu",
}  # fmt: skip
_EMOJI_MARKS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\u200d]")
_WORD = re.compile(r"\w+")


def plain(word: str) -> str:
    """The plain form of one word (or of a joined word, "sáng_mai"): folded, stretched letters cut to one,
    each syllable's shorthand spelled out; syllables stay joined with "_"."""
    meaning = emoji_meaning(word)
    if meaning is not None:
        return meaning
    parts = []
    for syllable in strip_diacritics(word).split("_"):
        short = _DOUBLED_FINAL.sub(r"\1", _STRETCHED.sub(r"\1", syllable))
        parts.append(SHORTHAND.get(short, short).replace(" ", "_"))
    return "_".join(parts)


def plain_text(text: str) -> str:
    """A message's words in their plain forms, space-separated (punctuation and emoji dropped)."""
    return " ".join(plain(word) for word in _WORD.findall(text))


def emoji_meaning(word: str) -> str | None:
    """The word a run of one meaningful emoji stands for ("👍👍" → "ok", "🙏🏻" → "cam_on"), else None."""
    bare = _EMOJI_MARKS.sub("", word)
    if bare and bare[0] in EMOJI and bare == bare[0] * len(bare):
        return EMOJI[bare[0]]
    return None
