"""The per-app send rate (Zalo allows about 4,000 requests a minute per app), shared by every sender.

A token bucket kept in the database: any number of sender processes draw from the same bucket, so the app
stays under its limit however the senders are scaled. Capacity is one second of the rate, so the rate over
any minute stays within one second's worth of the limit.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from core.db import insert_ignoring_conflicts
from core.timeutil import utcnow
from core.uow import Database

from .models import RateBucket

BUCKETS = RateBucket.__table__


class RateLimiter:
    def __init__(self, db: Database, per_minute: int, *, chunk: int | None = None) -> None:
        self.db = db
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = max(1.0, self.rate)
        # Tokens are drawn from the shared bucket a few at a time and handed out locally: one database
        # transaction per ``chunk`` sends instead of one per send (a tenth of a second's worth at most).
        self.chunk = chunk or max(1, min(10, int(self.rate / 10)))
        self._reserve: dict[str, int] = {}
        self._not_before: dict[str, float] = {}  # monotonic time before which the bucket is known to be empty
        self._lock = threading.Lock()

    def take(self, app_id: str, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until one send is allowed for ``app_id``.

        The threads of a process share a local reserve; when it is empty one of them draws from the shared
        bucket, and when the bucket is empty too they all wait until it has refilled, without asking the
        database again in between.
        """
        while True:
            with self._lock:
                if self._reserve.get(app_id, 0) > 0:
                    self._reserve[app_id] -= 1
                    return
                wait = self._not_before.get(app_id, 0.0) - time.monotonic()
                if wait <= 0:
                    granted, wait = self.acquire(app_id, self.chunk)
                    if granted:
                        self._reserve[app_id] = granted - 1
                        return
                    self._not_before[app_id] = time.monotonic() + wait
            sleep(min(max(wait, 0.002), 1.0))

    def acquire(self, app_id: str, want: int = 1, now: dt.datetime | None = None) -> tuple[int, float]:
        """Take up to ``want`` tokens now. Returns how many were granted and, if none, how long to wait."""
        now = now or utcnow()
        with self.db.uow() as uow:
            session = uow.session
            locked = select(BUCKETS.c.tokens, BUCKETS.c.updated_at).where(BUCKETS.c.app_id == app_id).with_for_update()
            bucket = session.execute(locked).first()
            if bucket is None:  # the app's first send: a full bucket (the key decides between racing senders)
                session.execute(
                    insert_ignoring_conflicts(session.get_bind().dialect.name, BUCKETS, ["app_id"]),
                    {"app_id": app_id, "tokens": self.capacity, "updated_at": now},
                )
                bucket = session.execute(locked).one()
            elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
            tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            granted = min(want, math.floor(tokens))
            session.execute(
                BUCKETS.update()
                .where(BUCKETS.c.app_id == app_id)
                .values(tokens=tokens - granted, updated_at=max(now, bucket.updated_at))
            )
            uow.commit()
        wait = 0.0 if granted else (min(want, self.capacity) - tokens) / self.rate  # until ``want`` are there
        return granted, wait
