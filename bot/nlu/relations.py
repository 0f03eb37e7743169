"""Who a visit is for, from the patient's words: "cho mẹ tôi", "cho bé", "cho con trai tôi", "ba em", "khám
cho vợ", "cho tôi" → a relation to the writer (``RELATIONS``, the values of core/booking/vocabulary.py's
``Relationship``, which this module cannot import: it runs in the Rasa environment too).

Pure Python (both environments). Words are compared without diacritics; a word written with diacritics must be
spelled as the word meant ("còn" (still) is not "con" (child), "bỏ" (drop) is not "bố", "mã" (code) is not
"má"). The child words are bot/nlu/record_subject.py's ("bé", "con tôi", "cháu nhà em"…), one list for both.
Rules, since the same letters are other words without diacritics:
- a kin word that is also a common word needs a cue: "cho"/"của" (or "đưa", "dẫn", "chở") before it, or a
  possessor after it ("ba em", "ma toi"): "ba" is also three ("thứ ba", "ba giờ"), "ba"/"bà", "me"/"mê",
  "bo"/"bỏ", "vo"/"vô", "ong"/"ông"/"ống", "ma"/"mà"/"mã" typed without diacritics; "mẹ", "má", "bố", "vợ",
  "chồng", "bé" written with diacritics count alone; two kin words together ("bố mẹ", "ông nội") always;
- "cho con" is a strong cue for a child ("đặt lịch cho con"), except when "con" is the writer asking an elder
  ("cho con hỏi", "cho con đặt lịch"): a request verb after "cho <pronoun>" makes the pronoun the writer;
- "cho tôi" / "cho mình" / "cho em" mean the writer (``self``) after a word of the visit ("khám cho tôi", "đặt
  lịch cho mình") or before "khám" or the end ("cho tôi khám", "cho em với"); elsewhere they ask for something
  ("cho tôi hỏi", "cho em giờ khác", "cho em 1 chỗ") and say nothing of who goes; "bản thân" is ``self`` too;
- "vợ chồng" is the couple, two people: no relation;
- "anh/chị/em" are siblings only with "trai"/"gái" or a possessor ("em gái", "chị tôi"): alone they are how
  people address each other;
- the relative named right after "cho" wins over one named elsewhere ("mẹ em muốn đặt lịch cho bé" is for the
  child).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bot.nlu.record_subject import child_words, message_words, spelled_as

RELATIONS = (
    "self", "child", "son", "daughter", "parent", "mother", "father", "spouse", "wife", "husband",
    "grandparent", "grandmother", "grandfather", "grandchild", "sibling", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Relation:
    value: str  # one of RELATIONS
    start: int  # character span of the words that say it (in the NFC text)
    end: int


# Phrases (folded words) → relation; written with diacritics, each word must be spelled as in _SPELLED.
_PAIRS = {
    ("bo", "me"): "parent", ("ba", "me"): "parent", ("cha", "me"): "parent", ("ba", "ma"): "parent",
    ("bo", "ma"): "parent", ("ong", "ba"): "grandparent",
    ("ong", "noi"): "grandfather", ("ong", "ngoai"): "grandfather",
    ("ba", "noi"): "grandmother", ("ba", "ngoai"): "grandmother",
    ("ba", "xa"): "wife", ("ong", "xa"): "husband", ("vo", "chong"): "",  # "vợ chồng": the couple, two people
    ("con", "trai"): "son", ("con", "gai"): "daughter", ("be", "trai"): "son", ("be", "gai"): "daughter",
    ("chau", "noi"): "grandchild", ("chau", "ngoai"): "grandchild",
    ("anh", "trai"): "sibling", ("chi", "gai"): "sibling", ("em", "trai"): "sibling", ("em", "gai"): "sibling",
}  # fmt: skip
# One word → relation, by how it is written when written with diacritics ("ba" is father, "bà" grandmother).
_SINGLE = {
    "me": {"mẹ": "mother"},
    "ma": {"má": "mother", "mạ": "mother"},
    "bo": {"bố": "father", "bọ": "father"},
    "ba": {"ba": "father", "bà": "grandmother"},
    "cha": {"cha": "father"},
    "tia": {"tía": "father"},
    "vo": {"vợ": "wife"},
    "chong": {"chồng": "husband"},
    "ong": {"ông": "grandfather"},
}
# Written with these diacritics the word counts without a cue.
_PLAIN = {"mẹ", "má", "mạ", "bố", "vợ", "chồng"}
# Words of a relation that need a possessor after them to count ("chị tôi", "cháu nhà em").
_OWNED = {"anh": "sibling", "chi": "sibling", "em": "sibling", "chau": "grandchild"}
_SPELLED = {
    "me": {"mẹ"}, "ma": {"má", "mạ"}, "bo": {"bố", "bọ"}, "ba": {"ba", "bà"}, "cha": {"cha"}, "tia": {"tía"},
    "vo": {"vợ"}, "chong": {"chồng"}, "ong": {"ông"}, "noi": {"nội"}, "ngoai": {"ngoại"}, "xa": {"xã"},
    "con": {"con"}, "be": {"bé"}, "trai": {"trai"}, "gai": {"gái"}, "chau": {"cháu"}, "anh": {"anh"},
    "chi": {"chị"}, "em": {"em"}, "cho": {"cho", "chở"}, "cua": {"của"}, "ban": {"bản"}, "than": {"thân"},
    "dua": {"đưa"}, "dan": {"dẫn"}, "toi": {"tôi"}, "tui": {"tui"}, "minh": {"mình"},
}  # fmt: skip
_BEFORE = {"cho", "cua", "dua", "dan"}  # "cho mẹ", "của ba", "đưa bà đi khám", "dẫn ông"
_POSSESSORS = {"toi", "tui", "em", "minh", "mik", "mk", "tao", "anh", "chi", "nha"}
_SIBLING_POSSESSORS = {"toi", "tui", "minh", "mik", "mk", "tao", "nha"}  # not "anh em", "chị em"
_CHILD_AFTER = {"be", "nho"}
_ENDINGS = {"a", "ah", "nhe", "nha", "nhen", "voi", "vs", "di", "kham", "luon", "nhu", "thoi", "ad", "ak"}
_VISITS = {"kham", "lich", "hen", "ky", "ki", "dk", "dat"}  # "khám cho tôi", "đặt lịch cho mình", "đăng ký cho em"
_COUNTED = {"ngay", "gio", "h", "tuan", "thang", "nam", "lan", "phut", "buoi", "mui", "tieng", "tuoi", "nguoi"}
_SELF = {"toi", "tui", "minh", "mik", "mk", "em", "tao"}
# After "cho <pronoun>" these make the pronoun the one asking: "cho tôi hỏi", "cho con đặt lịch", "cho em xin".
_REQUESTS = {
    "hoi", "dat", "xin", "gap", "dang", "xem", "coi", "biet", "duoc", "dc", "book", "hen", "huy", "doi",
    "chuyen", "lay", "tu", "noi", "nhan", "kiem", "tra", "tim", "goi", "chat", "ghi", "check", "mua",
}  # fmt: skip


@dataclass(frozen=True)
class _Found:
    value: str
    first: int
    last: int  # index past the last word


def visit_relation(text: str) -> Relation | None:
    """Who the visit the message speaks of is for, relative to the writer; None when it does not say."""
    spans, words, written = message_words(text)
    found = _relatives(words, written)
    if not found:
        return None
    after_cho = [f for f in found if f.first and words[f.first - 1] == "cho"]
    chosen = (after_cho or found)[0]
    return Relation(chosen.value, spans[chosen.first][0], spans[chosen.last - 1][1])


def _relatives(words: list[str], written: list[str]) -> list[_Found]:
    def spelled(index: int) -> bool:
        return spelled_as(words[index], written[index], _SPELLED)

    def at(index: int) -> str | None:
        return words[index] if 0 <= index < len(words) else None

    found: list[_Found] = []
    index = 0
    while index < len(words):
        word, before, after = words[index], at(index - 1), at(index + 1)
        pair = (word, after)
        if pair in _PAIRS and spelled(index) and spelled(index + 1):
            if _PAIRS[pair]:
                found.append(_Found(_PAIRS[pair], index, index + 2))
            index += 2
            continue
        cue = (before in _BEFORE and spelled(index - 1)) or after in _POSSESSORS
        if word in _SINGLE and spelled(index):
            form = written[index].lower() if not written[index].isascii() else next(iter(_SINGLE[word]))
            value = _SINGLE[word].get(form)
            three = before == "thu" or after in _COUNTED  # "thứ ba" (Tuesday), "ba ngày" (three days)
            if value and (cue or written[index].lower() in _PLAIN) and not (word == "ba" and three):
                found.append(_Found(value, index, index + 1 + (after in _POSSESSORS)))
        elif word in _OWNED and spelled(index) and after in (_SIBLING_POSSESSORS if word != "chau" else _POSSESSORS):
            found.append(_Found(_OWNED[word], index, index + 2))
        elif before == "cho" and spelled(index - 1) and word == "con" and spelled(index):
            if after not in _REQUESTS and after not in _CHILD_AFTER:  # "cho con bé" is a child's
                found.append(_Found("child", index, index + 1))
        elif before == "cho" and spelled(index - 1) and word in _SELF and spelled(index):
            # "khám cho tôi", "đặt lịch cho mình nhé", "cho tôi khám": the writer is the patient; "cho em giờ
            # khác", "cho em 1 chỗ" ask for something and say nothing of who goes.
            if after is None or after in _ENDINGS or at(index - 2) in _VISITS:
                found.append(_Found("self", index, index + 1))
        elif (word, after) == ("ban", "than") and spelled(index) and spelled(index + 1):
            found.append(_Found("self", index, index + 2))
        index += 1
    child = child_words(words, written)
    if child is not None and not any(f.first <= child.first < f.last for f in found):
        found.append(_Found("child", child.first, child.last))
    return sorted(found, key=lambda f: f.first)


def relation_entity(text: str) -> dict[str, object] | None:
    """The ``relation`` entity of ``text`` as Rasa writes entities (value, start, end, text), or None."""
    found = visit_relation(text)
    if found is None:
        return None
    start, end = _in_original(text, found.start), _in_original(text, found.end)
    return {"entity": "relation", "value": found.value, "start": start, "end": end, "text": text[start:end]}


def _in_original(text: str, offset: int) -> int:
    """The position in ``text`` of ``offset`` in its NFC form (the same unless it was typed decomposed)."""
    if unicodedata.is_normalized("NFC", text):
        return offset
    return next((i for i in range(len(text) + 1) if len(unicodedata.normalize("NFC", text[:i])) >= offset), len(text))
