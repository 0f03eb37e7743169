"""Access and refresh tokens as Zalo's OAuth hands them out.

An access token is valid when the simulator issued it (by a refresh or by seeding), it has not expired and
it has not been revoked; it belongs to one OA. A refresh token works once: using it returns a new pair and
kills it, while the access token issued before stays valid until it expires.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .codes import OAUTH_INVALID_APP, OAUTH_INVALID_PARAMETER, OAUTH_INVALID_REFRESH_TOKEN, OAuthError
from .config import SimulatedOA
from .ids import token


@dataclass
class _AccessToken:
    oa_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class _RefreshToken:
    oa_id: str
    used: bool = False


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_reply(self) -> dict[str, str]:
        """Zalo's flat OAuth reply; ``expires_in`` is a string."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": str(self.expires_in),
        }


class TokenStore:
    def __init__(self, oas: Sequence[SimulatedOA], ttl: int, clock: Callable[[], float] = time.time) -> None:
        self._oas = list(oas)
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._calls: Counter[str] = Counter()
        self._reuse = 0
        self.reset()

    def reset(self) -> None:
        """Back to the configured seeds: each OA's refresh token valid, no access token."""
        with self._lock:
            self._access = {}
            self._refresh = {oa.refresh_token: _RefreshToken(oa.oa_id) for oa in self._oas if oa.refresh_token}
            self._calls = Counter()
            self._reuse = 0

    def seed(self, oa_id: str, access_token: str | None, refresh_token: str | None, expires_in: int) -> None:
        with self._lock:
            if access_token:
                self._access[access_token] = _AccessToken(oa_id, self._clock() + expires_in)
            if refresh_token:
                self._refresh[refresh_token] = _RefreshToken(oa_id)

    def owner(self, access_token: str | None) -> str | None:
        """The OA a valid access token belongs to; None when the token is unknown, expired or revoked."""
        if not access_token:
            return None
        with self._lock:
            record = self._access.get(access_token)
            if record is None or record.revoked or record.expires_at <= self._clock():
                return None
            return record.oa_id

    def revoke(self, access_token: str | None) -> None:
        with self._lock:
            record = self._access.get(access_token or "")
            if record is not None:
                record.revoked = True

    def refresh(self, app_id: str, secret_key: str, refresh_token: str, grant_type: str) -> TokenPair:
        """Exchange a refresh token for a new pair, or raise ``OAuthError`` as Zalo would answer."""
        app_oas = [oa for oa in self._oas if oa.app_id == app_id] if app_id else []
        with self._lock:
            record = self._refresh.get(refresh_token) if refresh_token else None
            if record is not None:
                self._calls[record.oa_id] += 1
            elif app_oas:
                self._calls[app_oas[0].oa_id] += 1
            if not any(hmac.compare_digest(oa.app_secret.encode(), secret_key.encode()) for oa in app_oas):
                raise OAuthError(OAUTH_INVALID_APP, "The app id is unknown or the secret_key does not match it.")
            if grant_type != "refresh_token":
                raise OAuthError(OAUTH_INVALID_PARAMETER, "Only grant_type=refresh_token is simulated.")
            if record is None or record.oa_id not in {oa.oa_id for oa in app_oas}:
                raise OAuthError(OAUTH_INVALID_REFRESH_TOKEN, "The refresh token is unknown.")
            if record.used:
                self._reuse += 1
                raise OAuthError(OAUTH_INVALID_REFRESH_TOKEN, "The refresh token has already been used.")
            record.used = True
            pair = TokenPair(token("sim-at-"), token("sim-rt-"), self._ttl)
            self._access[pair.access_token] = _AccessToken(record.oa_id, self._clock() + self._ttl)
            self._refresh[pair.refresh_token] = _RefreshToken(record.oa_id)
            return pair

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {"refresh_calls": dict(self._calls), "refresh_token_reuse": self._reuse}
