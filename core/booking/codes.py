"""Booking codes patients read aloud and type: no 0/O/1/I, six characters, random."""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: digits and letters without 0, O, 1, I
CODE_LENGTH = 6
_SEPARATORS = re.compile(r"[\s\-_.]")


def new_booking_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_booking_code(raw: str) -> str | None:
    """Upper-case and drop spaces/dashes; None when it cannot be a booking code."""
    code = _SEPARATORS.sub("", raw or "").upper()
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code
