"""The value rules of XML 130/4750 (shared/xml130.md §1): text, dates, numbers and lists as HIS write them.

Every reader returns the clean value or raises ``BadValue`` with a reason a records clerk can act on; the table
readers turn that into a Problem (a refusal for a required field, a warning otherwise).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from core.timeutil import LOCAL_TZ, UTC

_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_DIGITS = re.compile(r"^\d+$")
# A file repeats the same few hundred instants (order, execution and result times): parse each once.
_CACHE_SIZE = 65536
_instants: dict[str, dt.datetime] = {}


class BadValue(ValueError):
    """A field whose text cannot be read as its type."""


def clean(raw: str | None) -> str:
    """NFC, trimmed, "" when absent (an empty tag, an absent tag and blanks are the same)."""
    if not raw:
        return ""
    text = raw.strip()
    if text and not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def split_list(text: str) -> tuple[str, ...]:
    """A ';'-list: items trimmed, empty items dropped."""
    if not text:
        return ()
    if ";" not in text:
        return (text,)
    return tuple(item for item in (part.strip() for part in text.split(";")) if item)


def _digits(text: str, field: str) -> str:
    if not _DIGITS.match(text):
        raise BadValue(f"{field} '{text}' is not a date of digits (yyyyMMddHHmm)")
    return text


def instant(text: str, field: str) -> dt.datetime | None:
    """yyyyMMddHHmm (12), also yyyyMMddHHmmss (14, seconds dropped) and yyyyMMdd (8, midnight), local time ->
    aware UTC. None when empty."""
    if not text:
        return None
    known = _instants.get(text)
    if known is None:
        known = _instant(text, field)
        if len(_instants) >= _CACHE_SIZE:
            _instants.clear()
        _instants[text] = known
    return known


def _instant(text: str, field: str) -> dt.datetime:
    digits = _digits(text, field)
    size = len(digits)
    try:
        if size in (12, 14):
            local = dt.datetime(
                int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
            )
        elif size == 8:
            local = dt.datetime(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
        else:
            raise BadValue(f"{field} '{text}' has {size} digits; expected yyyyMMddHHmm (12)")
        return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    except BadValue:
        raise
    except (ValueError, OverflowError) as exc:  # month 13, 25:00, or year 1 (no UTC before it)
        raise BadValue(f"{field} '{text}' is not a real date and time") from exc


def day(text: str, field: str) -> dt.date | None:
    """yyyyMMdd (8); a 12- or 14-character instant gives its local day. None when empty."""
    if not text:
        return None
    digits = _digits(text, field)
    if len(digits) not in (8, 12, 14):
        raise BadValue(f"{field} '{text}' has {len(digits)} digits; expected yyyyMMdd (8)")
    try:
        return dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as exc:
        raise BadValue(f"{field} '{text}' is not a real date") from exc


def day_and_time(text: str, field: str) -> tuple[dt.date | None, dt.time | None]:
    """NGAY_HEN_KL: yyyyMMddHHmm (QĐ 4750) or yyyyMMdd (QĐ 3176): the local day and the time when one is given
    (00:00 means none)."""
    on = day(text, field)
    if on is None or len(text) < 12:
        return on, None
    try:
        at = dt.time(int(text[8:10]), int(text[10:12]))
    except ValueError as exc:
        raise BadValue(f"{field} '{text}' has no real time of day") from exc
    return on, None if at == dt.time(0, 0) else at


def birth(text: str, field: str = "NGAY_SINH") -> tuple[int | None, int | None, int | None]:
    """NGAY_SINH: yyyyMMddHHmm with 00 for an unknown month or day (198500000000), also yyyyMMdd and yyyy
    (QĐ 4210 habits). (year, month, day), None for the unknown parts."""
    if not text:
        return None, None, None
    digits = _digits(text, field)
    if len(digits) not in (4, 8, 12, 14):
        raise BadValue(f"{field} '{text}' has {len(digits)} digits; expected yyyyMMddHHmm (12)")
    year = int(digits[0:4])
    month = int(digits[4:6]) if len(digits) >= 8 else 0
    day_of_month = int(digits[6:8]) if len(digits) >= 8 else 0
    if year < 1850 or year > dt.date.today().year + 1:  # 9999: a placeholder, not a birth in the future
        raise BadValue(f"{field} '{text}' has no real year")
    if month == 0:
        return year, None, None
    if month > 12:
        raise BadValue(f"{field} '{text}' has month {month}")
    if day_of_month == 0:
        return year, month, None
    try:
        dt.date(year, month, day_of_month)
    except ValueError as exc:
        raise BadValue(f"{field} '{text}' is not a real date") from exc
    return year, month, day_of_month


def decimal(text: str, field: str) -> Decimal | None:
    """A number with "." as the decimal point ("50600", "50600.00", "0.5"). None when empty."""
    if not text:
        return None
    if not _NUMBER.match(text):
        raise BadValue(f"{field} '{text}' is not a number written with '.' as decimal point")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid literals
        raise BadValue(f"{field} '{text}' is not a number") from exc


def integer(text: str, field: str) -> int | None:
    """An integer, tolerating a zero fraction ("5.00"). None when empty."""
    number = decimal(text, field)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise BadValue(f"{field} '{text}' is not a whole number")
    return int(number)
