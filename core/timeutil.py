"""Time helpers: the database holds UTC, people read and write Vietnamese local time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = dt.UTC
# The night, local time, when nothing unsolicited is sent: no broadcast, no ZNS template (Zalo refuses some
# templates 22:00-06:00, error -133).
NIGHT_START = dt.time(22, 0)
NIGHT_END = dt.time(6, 0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def to_local(moment: dt.datetime) -> dt.datetime:
    return ensure_utc(moment).astimezone(LOCAL_TZ)


def ensure_utc(moment: dt.datetime) -> dt.datetime:
    """Attach UTC to a naive datetime (SQLite drops the zone) or convert an aware one."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_to_utc(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)


def local_today(now: dt.datetime | None = None) -> dt.date:
    return to_local(now or utcnow()).date()
