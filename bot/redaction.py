"""Personal identifiers masked out of log lines: the safety net under every process's logging.

Pure standard library, so that both environments import it: the application's processes (web, worker,
sender, scheduler, the action server) and the Rasa server (``bot/rasa_server.py``, where only the standard
library and Rasa may be imported). ``core`` may not import ``bot``, so ``core/identifiers.py`` keeps its own
``mask_phone`` / ``mask_identifier`` for chat replies; the masks here write the same shapes (``091****678``,
``********1234``), which ``tests/test_log_redaction.py`` checks against those functions.

What is masked in a log message (and in the traceback of an exception logged with it):

- Vietnamese phone numbers (``0912345678``, ``0912 345 678``, ``84912345678``, ``+84912345678``);
- CCCD numbers (12 digits, also written in groups: ``012 345 678 901``), social-insurance numbers (10 digits)
  and legacy BHYT cards (``DN4791234567890``, any case);
- dates before today (``01/05/1990``, ``01/05/90``, ``1990-05-01``, ``1990/05/01``, ``1 tháng 5 năm 1990``): a
  birth date is always one, so a name that stays in a line is never next to its birth date;
- all of these inside percent-encoded URLs too (``?q=An%20012345678901``: decoded before masking);
- the value of keys that name a person or an identifier (``"new_name": "…"``, ``full_name='…'``);
- credentials in URLs and headers (``token=…``, ``Authorization: Bearer …``).

``install()`` wraps the log record factory once per process: every record of every logger (Rasa's structlog
output, Sanic's, gunicorn's, SQLAlchemy's, ours) is masked when it is created, whatever handler prints it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import traceback
from typing import Any
from urllib.parse import unquote

_PHONE = re.compile(r"(?<!\d)(\+?84|0)((?:[ .\-]?\d){9})(?!\d)")
_BHYT_CARD = re.compile(r"[A-Z]{2}[1-5]\d{12}(?!\d)", re.IGNORECASE)
_ID_NUMBER = re.compile(r"(?<!\d)(?:\d{12}|\d{10})(?!\d)")  # CCCD, social-insurance number (BHXH)
_SPACED_CCCD = re.compile(r"(?<!\d)\d{3,4}(?:[ .\-]\d{3,4}){2,3}(?!\d)")  # 012 345 678 901, 0123-4567-8901
_DMY = re.compile(r"(?<!\d)(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?!\d)")
_YMD = re.compile(r"(?<!\d)(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})(?!\d)")
_WORDED = re.compile(r"(?<!\d)(\d{1,2})\s+th(?:áng|ang)\s+(\d{1,2})(?:\s*,?\s*n(?:ăm|am))?\s+(\d{4})(?!\d)", re.I)
_PERCENT = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_PERSON_KEYS = (
    "full_name|patient_name|new_name|fullname|ho_ten|name_vi|date_of_birth|birth_date|new_dob|dob|ngay_sinh"
    "|phone|phone_number|so_dien_thoai|cccd|national_id|insurance_number|bhyt|ma_the_bhyt"
)
_KEYED_VALUE = re.compile(
    rf"""(?P<key>["']?\b(?:{_PERSON_KEYS})\b["']?\s*[:=]\s*)(?P<quote>\\?["'])(?P<value>.*?)(?P=quote)""",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"(?P<key>\b(?:token|auth_token|api_key|access_token|secret_key)=)[^&\s'\"]+", re.IGNORECASE)
_BEARER = re.compile(r"(?P<key>\bBearer\s+)[A-Za-z0-9._~+/=\-]+")

MASK = "***"


def mask_phone(digits: str) -> str:
    """``0912345678`` / ``84912345678`` → ``091****678`` (as ``core.identifiers.mask_phone``)."""
    national = re.sub(r"\D", "", digits)
    if national.startswith("84"):
        national = "0" + national[2:]
    if len(national) < 7:
        return MASK
    return national[:3] + "*" * (len(national) - 6) + national[-3:]


def mask_identifier(value: str) -> str:
    """CCCD / insurance numbers: the last four characters only (as ``core.identifiers.mask_identifier``)."""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def _past(year: int, month: int, day: int, today: dt.date) -> bool:
    try:
        return dt.date(year, month, day) < today
    except ValueError:
        return False


def redact(text: str, today: dt.date | None = None) -> str:
    """``text`` with the identifiers above masked; text without any comes back unchanged."""
    if not text:
        return text
    today = today or dt.date.today()
    # URLs in access logs: "An%20012345678901" hides the number behind the "0" of "%20"
    text = _PERCENT.sub(lambda m: unquote(m[0], errors="replace"), text)
    text = _KEYED_VALUE.sub(lambda m: f"{m['key']}{m['quote']}{MASK}{m['quote']}", text)
    text = _TOKEN.sub(lambda m: m["key"] + MASK, text)
    text = _BEARER.sub(lambda m: m["key"] + MASK, text)
    text = _PHONE.sub(lambda m: mask_phone(m[1] + m[2]), text)
    text = _BHYT_CARD.sub(lambda m: mask_identifier(m[0]), text)
    text = _ID_NUMBER.sub(lambda m: mask_identifier(m[0]), text)
    text = _SPACED_CCCD.sub(lambda m: mask_identifier(re.sub(r"\D", "", m[0])) if _digits(m[0]) == 12 else m[0], text)
    text = _DMY.sub(lambda m: "**/**/****" if _past(_year(m[4], today), int(m[3]), int(m[1]), today) else m[0], text)
    text = _YMD.sub(lambda m: "****-**-**" if _past(int(m[1]), int(m[3]), int(m[4]), today) else m[0], text)
    return _WORDED.sub(
        lambda m: "** tháng ** năm ****" if _past(int(m[3]), int(m[2]), int(m[1]), today) else m[0], text
    )


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _year(written: str, today: dt.date) -> int:
    """A two-digit year as people write a birth date: 90 is 1990, 05 is 2005 (never in the future)."""
    if len(written) == 4:
        return int(written)
    year = 2000 + int(written)
    return year if year <= today.year else year - 100


_installed = False


def install() -> None:
    """Mask every log record this process creates from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as logging always does
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        if isinstance(getattr(record, "request", None), str):  # Sanic's access log puts the URL here
            record.request = redact(record.request)
        return record

    logging.setLogRecordFactory(masked_record)
