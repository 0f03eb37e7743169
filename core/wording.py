"""How henkham words money, weekdays, dates and parts of day for patients (Vietnamese): written once here, used
by every entry point (the chat, the channel's notices, the FAQ answers, the reception desk)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache

from core.timeutil import to_local

# Weekdays (0 = Monday) heading a phrase: a date, a button ("Thứ Hai 07/12/2026").
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
# The same weekdays inside a sentence ("khám thứ Hai–thứ Sáu, Chủ nhật nghỉ").
WEEKDAYS_IN_SENTENCE_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
# Parts of day by their code (core.booking.models.PartOfDay, and "noon" the NLU may read).
PARTS_OF_DAY_VI = {"morning": "sáng", "noon": "trưa", "afternoon": "chiều", "evening": "tối"}
# Who a profile is to the account's holder, by its code (core.booking.vocabulary.Relationship).
RELATIONS_VI = {
    "self": "bản thân", "child": "con", "son": "con trai", "daughter": "con gái", "parent": "bố/mẹ",
    "mother": "mẹ", "father": "bố", "spouse": "vợ/chồng", "wife": "vợ", "husband": "chồng",
    "grandparent": "ông/bà", "grandmother": "bà", "grandfather": "ông", "grandchild": "cháu",
    "sibling": "anh/chị/em", "other": "người thân",
}  # fmt: skip


def day_vi(day: dt.date) -> str:
    """A date as patients read it: "Thứ Hai 07/12/2026"."""
    return f"{WEEKDAYS_VI[day.weekday()]} {day:%d/%m/%Y}"


def short_day_vi(day: dt.date) -> str:
    """A date in a short title, without the year: "Thứ Hai 07/12"."""
    return f"{WEEKDAYS_VI[day.weekday()]} {day:%d/%m}"


def when_vi(moment: dt.datetime) -> str:
    """A moment in local time as patients read it: "07:30 Thứ Hai 07/12/2026"."""
    local = to_local(moment)
    return f"{local:%H:%M} {day_vi(local.date())}"


def part_of_day_vi(part: str) -> str:
    """ "morning" → "sáng"; an unknown code as it is."""
    return PARTS_OF_DAY_VI.get(part, part)


def relation_vi(relation: str) -> str:
    """ "mother" → "mẹ"; an unknown code as "người thân"."""
    return RELATIONS_VI.get(relation, RELATIONS_VI["other"])


def vnd(amount: int) -> str:
    """150000 → "150.000 đ" (Vietnamese digit grouping)."""
    return f"{amount:,}".replace(",", ".") + " đ"


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower case without diacritics ("Xét nghiệm HIV" -> "xet nghiem hiv"), for word matching."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
