"""Vietnamese text without diacritics, as many patients type it (pure Python: both environments)."""

from __future__ import annotations

import unicodedata


def strip_diacritics(text: str) -> str:
    """Lower case, tone marks and vowel marks removed, đ → d; one character for one (NFC positions kept)."""
    out = []
    for ch in unicodedata.normalize("NFC", text).lower():
        out.append("d" if ch == "đ" else unicodedata.normalize("NFD", ch)[0])
    return "".join(out)
