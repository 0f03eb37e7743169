"""Department names as patients write them → canonical slugs, and finding them in a message.

Pure Python (both environments). The names are the NLU data's synonyms of the department slugs, so there
is one list. A name of one word ("nhi", "mắt", "tim", "da") is taken only after a word that introduces a
department ("khám nhi", "khoa mắt", "chuyên khoa da") or as the whole answer ("nhi ạ"): without diacritics
"tim" is also "tìm" (to look for) and "da" is "dạ" (yes). Longer names ("tai mũi họng") count anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from bot.nlu.folding import strip_diacritics

LEADS = ("chuyen khoa", "phong kham", "kham", "khoa")  # not "lịch": "lich da dat" is "lịch đã đặt"
# Names of more than one word that are also common words without diacritics: "dong y" is "đông y"
# (traditional medicine) and "đồng ý" (agree). They need a lead word too.
AMBIGUOUS = {"dong y"}
PARTICLES = {"a", "ad", "da", "nha", "nhe", "voi", "ah", "ak", "the", "thi", "em", "minh"}


def fold(text: str) -> str:
    """Lower case without diacritics, one character for one (positions stay those of the NFC text);
    anything but a letter or digit becomes a space."""
    return "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in strip_diacritics(text))


class DepartmentNames:
    def __init__(self, names: Mapping[str, str]) -> None:
        """``names``: any spelling (with or without diacritics) → slug."""
        self.names: dict[str, str] = {}
        # Spellings with diacritics say which word was meant ("mắt" is the eye, "mat" may be "mất").
        self.spelled = {" ".join(unicodedata.normalize("NFC", n).lower().split()) for n in names if not n.isascii()}
        for name, slug in names.items():
            key = " ".join(fold(name).split())
            if key:
                self.names[key] = slug
        for slug in set(self.names.values()):
            self.names.setdefault(" ".join(fold(slug).split()), slug)
        self.slugs = set(self.names.values())
        alternatives = "|".join(
            re.escape(name).replace(r"\ ", r"\s+") for name in sorted(self.names, key=len, reverse=True)
        )
        leads = "|".join(re.escape(lead).replace(r"\ ", r"\s+") for lead in LEADS)
        self._anywhere = re.compile(rf"(?<![a-z0-9])(?P<name>{alternatives})(?![a-z0-9])")
        self._after_lead = re.compile(rf"(?<![a-z0-9])(?:{leads})\s+(?P<name>{alternatives})(?![a-z0-9])")

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

    def find(self, text: str) -> tuple[int, int, str] | None:
        """(start, end, slug) of the department the message names, positions in its NFC form."""
        folded = fold(text)
        words = folded.split()
        if words and " ".join(w for w in words if w not in PARTICLES) in self.names:
            whole = " ".join(w for w in words if w not in PARTICLES)
            match = re.search(re.escape(whole).replace(r"\ ", r"\s+"), folded)
            if match:
                return match.start(), match.end(), self.names[whole]
        for pattern, after_lead in ((self._after_lead, True), (self._anywhere, False)):
            for match in pattern.finditer(folded):
                name = " ".join(match.group("name").split())
                if after_lead or not needs_lead(name):
                    return match.start("name"), match.end("name"), self.names[name]
        return None

    def plausible(self, text: str, start: int, end: int) -> bool:
        """Whether a department another extractor found at ``text[start:end]`` may stand: a name that
        needs a lead word must have one before it (or be the whole answer)."""
        folded = fold(text)
        name = " ".join(folded[start:end].split())
        spelled = " ".join(unicodedata.normalize("NFC", text).lower()[start:end].split())
        if not needs_lead(name) or spelled in self.spelled or self.find(text) == (start, end, self.names.get(name)):
            return True
        before = folded[:start].split()
        return any(" ".join(before[-len(lead.split()) :]) == lead for lead in LEADS)


def needs_lead(name: str) -> bool:
    return " " not in name or name in AMBIGUOUS
