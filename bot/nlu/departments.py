"""Department names as patients write them → canonical slugs, and finding them in a message.

Pure Python (both environments). The names are the NLU data's synonyms of the department slugs, so there
is one list. A name of one word ("nhi", "mắt", "tim", "da") is taken only after a word that introduces a
department ("khám nhi", "khoa mắt", "chuyên khoa da") or as the whole answer ("nhi ạ"): without diacritics
"tim" is also "tìm" (to look for) and "da" is "dạ" (yes). Longer names ("tai mũi họng") count anywhere.

Names are matched without diacritics, so a few rules tell a department from the other words it folds to:
- a word written with diacritics must be spelled as in a name ("ngoài giờ" is not "ngoại", "khám đã" is
  not "khám da", "đồng ý" is not "đông y"; "hoá" and "hóa" are one spelling);
- a few names are other words before some words, typed without diacritics ("ngoai gio" is "ngoài giờ",
  after hours; "noi tru" is "nội trú", inpatient; "mat bao lau" is "mất bao lâu", takes how long);
- "kham da" in a message typed without diacritics is mostly "khám đã" ("let me get checked first", "lịch
  khám đã đặt"): the skin only before a word that goes with a visit ("kham da cho be", "kham da sang mai")
  or when the patient asks for one ("dat lich kham da");
- a name after the word for a record is that record ("sổ tiêm chủng", "kết quả nội soi", "mũi vắc xin");
  a name shortly after a word for health news is a news topic ("nhận tin về tiểu đường"); a name right
  after a lead word is a department all the same ("kết quả khám nội soi");
- "trẻ em" says who is seen, not where: a department only after a lead word ("khám (cho) trẻ em") or as
  the whole answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import yaml

from bot.nlu.folding import strip_diacritics

SERVICES_FILE = Path(__file__).resolve().parents[2] / "data" / "catalogue" / "services.yml"

LEADS = ("chuyen khoa", "phong kham", "kham", "khoa", "lich hen", "lich", "bac si", "bs")
# After these leads a bare "da" typed without diacritics is "đã": "lich da dat" is "lịch đã đặt", "bac si da
# noi" is "bác sĩ đã nói"; the skin takes its longer name there ("lich da lieu").
DA_NOT_AFTER = {"lich hen", "lich", "bac si", "bs"}
# Names of more than one word that are also common words without diacritics: "dong y" is "đông y"
# (traditional medicine) and "đồng ý" (agree). They need a lead word too, even as a whole answer typed
# without diacritics: "dong y" alone is the patient agreeing far more often than choosing a department.
AMBIGUOUS = {"dong y"}
# Names of who is seen rather than of a department: only after a lead word ("khám cho trẻ em").
PEOPLE = {"tre em"}
PARTICLES = {"a", "ad", "da", "nha", "nhe", "voi", "ah", "ak", "the", "thi", "em", "minh"}
# One-word names that are other words before these words (typed without diacritics).
NOT_BEFORE = {
    "ngoai": ("gio", "tru", "ra", "troi", "thanh", "tinh", "nuoc", "vien"),  # ngoài giờ, ngoại trú, ngoài ra
    "noi": ("tru", "nao", "khac", "do", "day", "chuyen", "tieng"),  # nội trú, nơi nào, nói chuyện, nổi tiếng
    # mất tiền / phí / thời gian / công / khoảng / tầm / chừng / cả buổi / nhiều thời gian ("mat bao lau" is
    # either: "khám mất bao lâu", "khám mắt bao lâu")
    "mat": ("tien", "phi", "thoi gian", "cong", "khoang", "tam", "chung", "ca", "nhieu thoi gian"),
}
# "kham da" typed without diacritics: the skin before these words (who, where, when, with whom, price)...
DA_BEFORE = {
    "lieu", "cho", "o", "tai", "vao", "luc", "sang", "trua", "chieu", "toi", "ngay", "mai", "hom", "thu",
    "tuan", "thang", "cn", "bs", "bac", "voi", "gia", "bao", "het", "mat", "a", "ad",
}  # fmt: skip
# ... or after these (the patient asks for a visit: "dat lich kham da"); "khám đã" follows none of them.
ASKING = ("dat", "dat lich", "dang ky", "dang ki", "dk", "hen", "book", "muon", "can", "lay so", "xin")
# Words for a record: a name right after one is part of it ("sổ tiêm chủng"), spelled as written here.
RECORDS = ("sổ", "hồ sơ", "lịch sử", "kết quả", "giấy", "phiếu", "mũi")
# ... but a shot ("mũi") of a vaccination act is the service: "1 mũi tiêm phòng dại", not "mũi vắc xin".
ACTS = ("tiem", "chich")
NUMBER_NOT_BOOK = {"lay", "boc", "xin", "cho"}  # "lấy số tiêm chủng" typed as "lay so": a queue number
# Words for health news: a name at most NEWS_WINDOW words after one (no booking word between) is a topic.
NEWS = ("tin", "bản tin", "tin tức", "bài", "bài viết", "kiến thức", "cẩm nang", "chủ đề", "nhận thông tin")
NEWS += ("thông tin sức khỏe",)
NEWS_WINDOW = 8
BOOKING = {"dat", "hen", "lich", "huy", "doi", "book", "kham", "khoa"}
TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def fold(text: str) -> str:
    """Lower case without diacritics, one character for one (positions stay those of the NFC text);
    anything but a letter or digit becomes a space."""
    return "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in strip_diacritics(text))


def spelling(word: str) -> tuple[str, str]:
    """A word as written, its tone mark apart: "hoá" and "hóa" are one spelling, "đã" and "da" are two."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tone = "".join(ch for ch in decomposed if ch in TONES)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in TONES)), tone


def words(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each word of ``text`` (NFC positions)."""
    return [match.span() for match in re.finditer(r"[a-z0-9]+", fold(text))]


def spelled_words(text: str) -> tuple[str, ...]:
    nfc = unicodedata.normalize("NFC", text).lower()
    return tuple(nfc[start:end] for start, end in words(nfc))


class Message:
    """A message's words as written and without diacritics, with their positions."""

    def __init__(self, text: str) -> None:
        self.text = unicodedata.normalize("NFC", text).lower()
        self.folded = fold(text)
        self.spans = words(self.text)
        self.words = [self.folded[start:end] for start, end in self.spans]
        self.written = [self.text[start:end] for start, end in self.spans]
        self.ascii = self.text.isascii()

    def index(self, position: int) -> int:
        """The number of words that end at or before ``position``."""
        return sum(1 for _, end in self.spans if end <= position)

    def ends_with(self, upto: int, phrase: Iterable[str], spelled: bool = False) -> bool:
        """Whether words[:upto] end with ``phrase`` (words; ``spelled``: each word as written or without
        any diacritics)."""
        phrase = tuple(phrase)
        if not phrase or upto < len(phrase):
            return False
        first = upto - len(phrase)
        for word, folded, written in zip(phrase, self.words[first:upto], self.written[first:upto], strict=True):
            if folded != fold(word).strip():
                return False
            if spelled and not written.isascii() and spelling(written) != spelling(word):
                return False
        return True


def service_names(path: Path = SERVICES_FILE) -> dict[str, str]:
    """The names of a service catalogue file (data/catalogue/services.yml: department slug → names of what
    patients ask to have done) → the department's slug."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        " ".join(unicodedata.normalize("NFC", str(name)).lower().split()): str(slug)
        for slug, names in (data.get("services") or {}).items()
        for name in names or ()
    }


class DepartmentNames:
    def __init__(self, names: Mapping[str, str]) -> None:
        """``names``: any spelling (with or without diacritics) → slug."""
        self.names: dict[str, str] = {}
        # Spellings with diacritics say which word was meant ("mắt" is the eye, "mat" may be "mất").
        self.spelled = {" ".join(unicodedata.normalize("NFC", n).lower().split()) for n in names if not n.isascii()}
        # For each name without diacritics, how its words are spelled (the word "da" is spelled "da").
        self.spellings: dict[str, set[tuple[tuple[str, str], ...]]] = {}
        for name, slug in names.items():
            key = " ".join(fold(name).split())
            if key:
                self.names[key] = slug
                self.spellings.setdefault(key, set()).add(tuple(spelling(w) for w in spelled_words(name)))
        for slug in set(self.names.values()):
            self.names.setdefault(" ".join(fold(slug).split()), slug)
        self.slugs = set(self.names.values())
        alternatives = "|".join(
            re.escape(name).replace(r"\ ", r"\s+") for name in sorted(self.names, key=len, reverse=True)
        )
        leads = "|".join(re.escape(lead).replace(r"\ ", r"\s+") for lead in LEADS)
        # After a lead, a name that starts with another lead is that lead's ("lịch khám nhi": "khám" + "nhi").
        unled = "|".join(
            re.escape(name).replace(r"\ ", r"\s+")
            for name in sorted(self.names, key=len, reverse=True)
            if not has_lead(name)
        )
        self._anywhere = re.compile(rf"(?<![a-z0-9])(?P<name>{alternatives})(?![a-z0-9])")
        self._after_lead = re.compile(
            rf"(?<![a-z0-9])(?P<lead>{leads})\s+(?:(?P<cho>cho)\s+)?(?P<name>{unled})(?![a-z0-9])"
        )

    def canonical(self, value: object) -> str | None:
        """The slug for an extracted value ("khám nhi", "Khoa Mắt", "nhi"), or None when it names none."""
        text = str(value or "").strip()
        if text in self.slugs:
            return text
        key = " ".join(fold(text).split())
        for lead in LEADS:
            if key.startswith(lead + " "):
                key = key[len(lead) + 1 :]
                break
        return self.names.get(key)

    def find(self, text: str, avoid: Iterable[tuple[int, int]] = ()) -> tuple[int, int, str] | None:
        """(start, end, slug) of the department the message names, positions in its NFC form; a name that
        overlaps a span of ``avoid`` (another entity: "[sổ tiêm chủng](record_section)") does not count."""
        avoid = list(avoid)
        for start, end, slug in self._candidates(text):
            if not any(start < other_end and other_start < end for other_start, other_end in avoid):
                return start, end, slug
        return None

    def widened(self, text: str, start: int, end: int) -> tuple[int, int, str] | None:
        """A longer name the message spells over the span ``start``–``end`` (a learned entity that cut "than"
        out of "than kinh", thần kinh, not thận): the shortest, or None."""
        longer = [
            (first, last, slug)
            for first, last, slug in self._candidates(text)
            if first <= start and end <= last and last - first > end - start
        ]
        return min(longer, key=lambda found: found[1] - found[0], default=None)

    def _candidates(self, text: str) -> Iterator[tuple[int, int, str]]:
        message = Message(text)
        whole = self._whole_answer(message)
        if whole is not None:
            yield whole
            return
        for pattern, leads in ((self._after_lead, True), (self._anywhere, False)):
            for match in pattern.finditer(message.folded):
                name = " ".join(match.group("name").split())
                if leads and match.group("cho") and name not in PEOPLE:
                    continue  # "khám cho" introduces who is seen, not a department ("khám cho đã")
                if leads and name == "da" and message.ascii and " ".join(match.group("lead").split()) in DA_NOT_AFTER:
                    continue
                start, end = match.span("name")
                after_lead = leads or has_lead(name)
                if (after_lead or not needs_lead(name)) and self._stands(message, start, end, name, after_lead):
                    yield start, end, self.names[name]

    def _whole_answer(self, message: Message) -> tuple[int, int, str] | None:
        """The department a message names when it is nothing else ("nhi ạ", "dạ đông y", "trẻ em")."""
        count = len(message.words)
        first = next((i for i, word in enumerate(message.words) if word not in PARTICLES), count)
        last = next((i for i in range(count, 0, -1) if message.words[i - 1] not in PARTICLES), 0)
        if first >= last:
            return None
        # The longest run of words between the particles around it ("trẻ em": "em" is a particle too).
        for begin, end in sorted(
            ((b, e) for b in range(first + 1) for e in range(last, count + 1)), key=lambda span: span[0] - span[1]
        ):
            name = " ".join(message.words[begin:end])
            if name not in self.names or (name in AMBIGUOUS and message.ascii):
                continue
            start, stop = message.spans[begin][0], message.spans[end - 1][1]
            if self._spelled_as_a_name(message, start, stop, name):
                return start, stop, self.names[name]
        return None

    def _spelled_as_a_name(self, message: Message, start: int, end: int, name: str) -> bool:
        """Whether each word of the name written with diacritics is spelled as in one of its names."""
        first, last = message.index(start), message.index(end)
        written = message.written[first:last]
        spellings = self.spellings.get(name, set())
        for i, word in enumerate(written):
            if not word.isascii() and not any(len(s) == len(written) and s[i] == spelling(word) for s in spellings):
                return False
        return True

    def _stands(self, message: Message, start: int, end: int, name: str, after_lead: bool) -> bool:
        """Whether the name at [start, end) of the message is the department rather than another word or
        part of another phrase (the rules of the module docstring)."""
        if not self._spelled_as_a_name(message, start, end, name):
            return False
        first, last = message.index(start), message.index(end)
        following = message.words[last] if last < len(message.words) else None
        if any(message.words[last : last + len(after.split())] == after.split() for after in NOT_BEFORE.get(name, ())):
            return False
        if name == "da" and message.ascii and following not in DA_BEFORE:
            lead = first - 1  # "kham" right before (else "khoa da", "chuyen khoa da": the skin)
            if (
                lead >= 0
                and message.words[lead] == "kham"
                and not any(message.ends_with(lead, asking.split()) for asking in ASKING)
            ):
                return False
        if after_lead:
            return True
        if name in PEOPLE:
            return False
        for record in RECORDS:
            if message.ends_with(first, record.split(), spelled=True):
                if record == "sổ" and message.ascii and first >= 2 and message.words[first - 2] in NUMBER_NOT_BOOK:
                    continue
                if record == "mũi" and name.split(" ")[0] in ACTS:
                    continue
                return False
        for back in range(first - 1, max(-1, first - 1 - NEWS_WINDOW), -1):
            if message.words[back] in BOOKING:
                break
            if news_word(message, back + 1):
                return False
        return True

    def plausible(self, text: str, start: int, end: int) -> bool:
        """Whether a department another extractor found at ``text[start:end]`` may stand: not another word
        or part of another phrase (see ``_stands``), and a name that needs a lead word must have one before
        it (or be the whole answer, or be spelled with diacritics)."""
        message = Message(text)
        name = " ".join(message.folded[start:end].split())
        spelled = " ".join(message.text[start:end].split())
        if self.find(text) == (start, end, self.names.get(name)):
            return True
        first = message.index(start)
        after_lead = has_lead(name) or any(message.ends_with(first, lead.split()) for lead in LEADS) or (
            name in PEOPLE and first >= 1 and message.words[first - 1] == "cho"
            and any(message.ends_with(first - 1, lead.split()) for lead in LEADS)
        )  # fmt: skip
        if name in self.names and not self._stands(message, start, end, name, after_lead):
            return False
        if not needs_lead(name) and name not in PEOPLE:
            return True
        return after_lead or (spelled in self.spelled and name not in PEOPLE)


def news_word(message: Message, upto: int) -> bool:
    """Whether words[:upto] end with a word for health news ("thông tin" alone is any information)."""
    if message.ends_with(upto, ("thông", "tin"), spelled=True):
        return message.ends_with(upto, ("nhận", "thông", "tin"), spelled=True)
    return any(message.ends_with(upto, news.split(), spelled=True) for news in NEWS)


def has_lead(name: str) -> bool:
    """Whether a name begins with a lead word ("khám thai", "khoa nhi")."""
    return any(name.startswith(lead + " ") for lead in LEADS)


def needs_lead(name: str) -> bool:
    return " " not in name or name in AMBIGUOUS
