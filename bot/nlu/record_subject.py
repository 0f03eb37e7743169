"""Whose record a message asks about: a child of the writer ("của bé Na", "con tôi", "cháu nhà em",
"thằng cu nhà mình") and the child's name when it is given ("bé Na" → "Na").

Pure Python (both environments). Words are compared without diacritics; a word written with diacritics must
be spelled as the word meant ("còn" (still) is not "con" (child), "bể" is not "bé"). A bare "con" or "cháu"
is not enough: "cháu muốn xem kết quả" is a young person speaking of themself and "con" without diacritics
is as often "còn"; they count with a word that makes them someone's ("con tôi", "cháu nhà em", "con gái").
"bé", "em bé", "thằng bé", "thằng cu", "cu Tí", "ku", "nhóc" count alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.nlu.departments import fold, spelling


@dataclass(frozen=True)
class Subject:
    child: bool
    name: str | None  # as written, first letter in capitals ("Na", "Minh Anh"); None when not named


# Words for a child that count alone (without diacritics); then a name may follow ("bé Na", "cu Tí").
_ALONE = {
    ("be",), ("em", "be"), ("thang", "be"), ("con", "be"), ("thang", "cu"), ("cu",), ("ku",), ("nhoc",),
    ("be", "con"), ("dua", "nho"), ("thang", "nho"), ("con", "nho"), ("chau", "be"),
}  # fmt: skip
# "cu" and "ku" alone are also "cũ" (old) typed without diacritics: they count before a name or "nhà".
_NEEDS_NAME = {("cu",), ("ku",)}
# "con" and "cháu" count before one of these words (possessor, sex, birth order, family side: "con tôi",
# "cháu nhà em", "con gái", "cháu nội"). "của con" is the child's too; "cho con xem", "giúp con" and "của
# cháu" are as often the writer speaking of themself to an elder.
_KIN_BEFORE = {
    "toi", "tui", "em", "minh", "mik", "mk", "tao", "chi", "anh", "nha", "gai", "trai", "ut", "lon", "ca",
    "noi", "ngoai", "be",
}  # fmt: skip
_KIN_AFTER = {"con": {"cua"}, "chau": set()}
# Words that follow a child word but are no name ("bé nhà em", "bé bị gì", "cu cậu").
_NOT_NAMES = {
    "nha", "cua", "em", "toi", "tui", "minh", "mik", "mk", "anh", "chi", "bi", "da", "dang", "co", "con",
    "duoc", "phai", "can", "muon", "kham", "tiem", "uong", "xet", "sieu", "chup", "tai", "lay", "xem", "coi",
    "ket", "ho", "benh", "lan", "hom", "ngay", "thang", "tuan", "nam", "nay", "do", "kia", "ay", "a", "ad",
    "oi", "nhe", "voi", "vs", "thi", "la", "va", "hay", "moi", "vua", "sinh", "sau", "truoc", "khi",
    "nao", "gi", "sao", "the", "vay", "z", "ha", "hoi", "cau", "gai", "trai", "ut", "lon", "nho", "roi",
    "chua", "khong", "ko", "k", "dc", "di", "ve", "o", "tu", "cung", "bao", "may", "mot", "hai", "ba",
    "thuoc", "don", "toa", "chan", "mui", "vac", "vaccine", "so", "lich", "hen", "noi", "ngoai", "nhi",
    "dau", "sot", "bo", "me", "cu", "ku", "be", "nhoc",
}  # fmt: skip
# Common words that are also given names: a second name word written with a capital ("bé Minh Anh").
_NAME_WORDS = {"minh", "anh", "chi", "ha", "hai", "nam", "bao", "thu", "lan", "hoa", "ngoc", "an", "tu"}
_SPELLED = {  # how a child word is spelled when written with diacritics
    "be": {"bé"},
    "con": {"con"},
    "chau": {"cháu"},
    "cu": {"cu"},
    "thang": {"thằng"},
    "nhoc": {"nhóc"},
    "dua": {"đứa"},
    "nho": {"nhỏ"},
    "em": {"em"},
    "ku": {"ku"},
}


def message_words(text: str) -> tuple[list[tuple[int, int]], list[str], list[str]]:
    """The words of ``text``: their (start, end) in the NFC text, each without diacritics, each as written."""
    nfc = unicodedata.normalize("NFC", text)
    folded = fold(nfc)
    spans = [match.span() for match in re.finditer(r"[a-z0-9]+", folded)]
    return spans, [folded[s:e] for s, e in spans], [nfc[s:e] for s, e in spans]


def spelled_as(folded: str, written: str, forms: dict[str, set[str]] | None = None) -> bool:
    """Whether a word folding to ``folded`` is written as the word meant: any spelling without diacritics, or
    one of ``forms[folded]`` (the child words by default) with them ("còn" is not "con")."""
    if written.isascii():
        return True
    return any(spelling(written) == spelling(form) for form in (forms or _SPELLED).get(folded, {written}))


def _name_after(index: int, words: list[str], written: list[str], lower: bool = True) -> str | None:
    """The name at words[index:], if any: one or two words written with a capital, or (``lower``) one word
    in lower case that is not a common word (``_NOT_NAMES``)."""
    if index >= len(words) or words[index].isdigit():
        return None
    if written[index][:1].isupper():  # "bé Minh Anh": capitals make a name of any word
        parts = [written[index]]
        second = index + 1
        if (
            second < len(words)
            and written[second][:1].isupper()
            and (words[second] not in _NOT_NAMES or words[second] in _NAME_WORDS)
        ):
            parts.append(written[second])
        return " ".join(parts)
    if not lower or words[index] in _NOT_NAMES:
        return None
    return written[index][:1].upper() + written[index][1:]


@dataclass(frozen=True)
class ChildWords:
    first: int  # index of the first word of the phrase naming the child
    last: int  # index past its last word
    name: str | None


def child_words(words: list[str], written: list[str]) -> ChildWords | None:
    """The first phrase of the words (folded, as written) that names a child of the writer, if any."""
    for index in range(len(words)):
        for size in (2, 1):
            phrase = tuple(words[index : index + size])
            if (
                len(phrase) == size
                and phrase in _ALONE
                and all(spelled_as(w, s) for w, s in zip(phrase, written[index : index + size], strict=True))
            ):
                name = _name_after(index + size, words, written)
                following = words[index + size] if index + size < len(words) else None
                if phrase not in _NEEDS_NAME or name is not None or following == "nha":
                    return ChildWords(index, index + size + (len(name.split()) if name else 0), name)
        word = words[index]
        if word in _KIN_AFTER and spelled_as(word, written[index]):
            following = words[index + 1] if index + 1 < len(words) else None
            preceding = words[index - 1] if index else None
            if following in _KIN_BEFORE:
                return ChildWords(index, index + 2, None)
            if preceding in _KIN_AFTER[word]:
                name = _name_after(index + 1, words, written, lower=False)
                return ChildWords(index, index + 1 + (len(name.split()) if name else 0), name)
    return None


def record_subject(text: str) -> Subject:
    """Whether the message is about the writer's child, and the child's name when given."""
    _, words, written = message_words(text)
    found = child_words(words, written)
    return Subject(True, found.name) if found else Subject(False, None)
