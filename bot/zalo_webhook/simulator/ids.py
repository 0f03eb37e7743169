"""Clock and identifiers in Zalo's formats: ids and timestamps are strings of digits or hex."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def now_ms() -> int:
    return int(time.time() * 1000)


def hex_id() -> str:
    """A message id: 32 lowercase hex digits."""
    return secrets.token_hex(16)


def token(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(48)}"


def user_id_by_app(app_id: str, user_id: str) -> str:
    """The user's id for the app (stable: the same user of the same app always gets the same one)."""
    digest = hashlib.sha256(f"{app_id}:{user_id}".encode()).hexdigest()
    return str(int(digest[:15], 16) % 10**18).rjust(18, "1")


def zalo_date(ms: int) -> str:
    """``dd/mm/yyyy`` in Vietnam, as user detail's ``user_last_interaction_date``."""
    return dt.datetime.fromtimestamp(ms / 1000, VIETNAM).strftime("%d/%m/%Y")
