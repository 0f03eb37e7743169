"""Reading the short free answers of a form: sex, a name, a phone, a visit type, "another day" (a birth date is
bot.nlu.vi_datetime.parse_birth_date's)."""

from __future__ import annotations

import re

from core.errors import InvalidInput
from core.identifiers import national_phone, normalise_phone

from .symptoms import fold

_PHONE = re.compile(r"(?:\+?84|0)[\s.\-]?\d(?:[\s.\-]?\d){8}")
# Words of requests that no Vietnamese name contains (folded: without diacritics; not "huy" or "dat",
# which are also the names Huy and Đạt).
NOT_IN_NAMES = {"khong", "ko", "thoi", "nua", "lich", "kham", "muon", "gap"}
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


def sex(text: str) -> str | None:
    words = set(fold(text).split())
    if words & {"nu", "gai", "female"}:
        return "female"
    if words & {"nam", "trai", "male"}:
        return "male"
    return None


def person_name(text: str) -> str | None:
    """A plausible full name: letters and spaces, 2 to 120 characters, no digits; title case."""
    cleaned = re.sub(r"^(?:(?:dạ|da|tên|ten|là|la|em|tôi|toi|con|cháu|chau|của|cua)\s+)+", "", text.strip(), flags=re.I)
    cleaned = " ".join(cleaned.replace(",", " ").split()).strip(" .!")
    if not 2 <= len(cleaned) <= 120 or any(ch.isdigit() for ch in cleaned) or not _LETTERS.search(cleaned):
        return None
    if len(cleaned.split()) > 6 or set(fold(cleaned).split()) & NOT_IN_NAMES:
        return None  # a sentence ("thôi không đặt nữa"), not a name
    return " ".join(word[:1].upper() + word[1:].lower() for word in cleaned.split())


def phone(text: str) -> str | None:
    """A Vietnamese mobile number in the message, in the national form 0xxxxxxxxx; None if none is valid."""
    match = _PHONE.search(text)
    if not match:
        return None
    try:
        return national_phone(normalise_phone(match.group(0)))
    except InvalidInput:
        return None


def visit_type(text: str, codes: list[str]) -> str | None:
    """ "BHYT", "bảo hiểm" → the hospital's insurance code; "dịch vụ", "tự túc" → its service code."""
    folded = fold(text)
    wanted = None
    if any(word in folded for word in (" bhyt ", " bao hiem ", " the bh ", " bh ")):
        wanted = "bhyt"
    elif any(word in folded for word in (" dich vu ", " dv ", " tu tuc ", " tu tra ", " kham thuong ")):
        wanted = "dich_vu"
    return wanted if wanted in codes else None


def wants_another_day(text: str) -> bool:
    folded = fold(text)
    return any(
        phrase in folded
        for phrase in (" ngay khac ", " hom khac ", " buoi khac ", " gio khac ", " lich khac ", " khung gio khac ")
    )
