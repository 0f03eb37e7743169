"""Access tokens per OA: read from the database, refreshed ahead of expiry under one lock for all processes.

Zalo's refresh token works once: each refresh returns a new pair and kills the old refresh token. So a
refresh runs with the OA's row locked (``SELECT … FOR UPDATE`` on PostgreSQL, the write lock on SQLite):
a second process that needs a token at the same moment waits, then finds the new pair and uses it instead
of spending the (now dead) refresh token again. The new pair is committed before it is used.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from core.timeutil import utcnow
from core.uow import Database

from .client import ZaloClient, ZaloError
from .metrics import TOKEN_REFRESH_FAILURES, TOKEN_REFRESHES
from .models import ZaloOA
from .oas import OARegistry

log = logging.getLogger(__name__)

CACHE = dt.timedelta(seconds=60)


class TokenUnavailable(RuntimeError):
    """No usable access token for the OA (no refresh token, or the refresh failed): staff must re-authorise."""


class TokenManager:
    def __init__(
        self, db: Database, client: ZaloClient, registry: OARegistry, margin: dt.timedelta = dt.timedelta(minutes=30)
    ) -> None:
        self.db = db
        self.client = client
        self.registry = registry
        self.margin = margin
        self._cache: dict[str, tuple[str, dt.datetime, dt.datetime]] = {}  # oa_id -> token, kept until, expiry

    def access_token(self, oa_id: str, now: dt.datetime | None = None) -> str:
        """A token valid for at least ``margin``; refreshes first when the stored one expires sooner.

        The last token read is kept in memory for ``CACHE`` (a send then costs no token query); a token
        another process replaced meanwhile still works at Zalo until it expires, and one Zalo refuses is
        dropped by ``after_rejection``.
        """
        now = now or utcnow()
        cached = self._cache.get(oa_id)
        if cached is not None and cached[1] > now and cached[2] > now + self.margin:
            return cached[0]
        with self.db.reader() as uow:
            row = uow.session.execute(
                select(ZaloOA.access_token, ZaloOA.access_expires_at).where(ZaloOA.oa_id == oa_id)
            ).first()
        if row is not None and row.access_token and row.access_expires_at and row.access_expires_at > now + self.margin:
            self._cache[oa_id] = (row.access_token, now + CACHE, row.access_expires_at)
            return row.access_token
        return self._refresh(oa_id, rejected=None, now=now)

    def after_rejection(self, oa_id: str, rejected: str, now: dt.datetime | None = None) -> str:
        """Zalo refused ``rejected`` (-216 / -220): a new token, refreshed once however many callers ask."""
        self._cache.pop(oa_id, None)
        return self._refresh(oa_id, rejected=rejected, now=now or utcnow())

    def _refresh(self, oa_id: str, *, rejected: str | None, now: dt.datetime) -> str:
        oa = self.registry.get(oa_id)
        if oa is None:
            raise TokenUnavailable(f"OA {oa_id} is not configured")
        with self.db.uow() as uow:
            row = uow.session.scalar(select(ZaloOA).where(ZaloOA.oa_id == oa_id).with_for_update())
            if row is None:
                raise TokenUnavailable(f"OA {oa_id} has no database row (run henkham zalo sync)")
            fresh = row.access_token and row.access_expires_at and row.access_expires_at > now + self.margin
            if fresh and (rejected is None or row.access_token != rejected):
                return row.access_token  # another process refreshed while this one waited for the lock
            refresh_token = row.refresh_token or oa.refresh_token
            if not refresh_token:
                self._alert(oa_id, "no refresh token stored")
                raise TokenUnavailable(f"OA {oa_id} has no refresh token")
            try:
                pair = self.client.refresh_token(oa.app_id, oa.app_secret, refresh_token)
            except ZaloError as error:
                self._alert(oa_id, str(error))
                raise TokenUnavailable(f"refreshing the token of OA {oa_id} failed: {error}") from None
            row.access_token = pair.access_token
            row.refresh_token = pair.refresh_token
            row.access_expires_at = now + dt.timedelta(seconds=pair.expires_in)
            row.token_refreshed_at = now
            uow.commit()  # persisted before anyone uses it: the old refresh token is dead now
            self._cache[oa_id] = (pair.access_token, now + CACHE, row.access_expires_at)
            TOKEN_REFRESHES.labels(oa_id=oa_id).inc()
            log.info("zalo token of OA %s refreshed; valid until %s", oa_id, row.access_expires_at.isoformat())
            return pair.access_token

    @staticmethod
    def _alert(oa_id: str, reason: str) -> None:
        TOKEN_REFRESH_FAILURES.labels(oa_id=oa_id).inc()
        log.error("ALERT zalo token refresh failed for OA %s: %s; messages to its users are held", oa_id, reason)
