"""Who a Zalo Mini App's user is: their Zalo user access token, verified with Zalo's Graph API.

The Mini App runs on the user's phone, so nothing it sends is secret except the user access token the Mini App
SDK gives it. ``GET {graph}/v2.0/me?fields=id,name`` with header ``access_token`` answers the user's id (for
the app); an invalid or expired token is answered with a non-zero ``error`` (HTTP 200). A verified token is
cached briefly under its SHA-256 digest (the token itself is never kept nor logged), so a Mini App's burst of
requests costs one Graph call; a refused one for a shorter time, so a replayed forged token does not reach Zalo
every time. Zalo's rate limit (-32), a 5xx, a time-out or a reply that is not Graph's JSON is "Zalo
unavailable" (503), never cached.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import requests

from core.errors import DomainError

MAX_TOKEN_LENGTH = 2048
MAX_CACHED = 10_000
RATE_LIMITED = -32  # Zalo's "too many requests": Zalo is busy, the token may well be good
REFUSAL_CACHE_SECONDS = 30.0  # a refused token is remembered this long at most


class InvalidUserToken(DomainError):
    """A forged, revoked or expired Zalo user access token (401)."""

    code = "invalid_zalo_token"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the Zalo access token was refused: {reason}",
            "Dạ, phiên đăng nhập Zalo đã hết hạn. Anh/chị mở lại Mini App giúp em ạ.",
        )


class GraphUnavailable(DomainError):
    """Zalo's Graph API could not be asked (network, time-out, 5xx, not JSON): 503, try again."""

    code = "zalo_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Zalo's Graph API could not verify the user ({reason})",
            "Dạ, hệ thống chưa xác thực được tài khoản Zalo. Anh/chị vui lòng thử lại sau ít phút ạ.",
        )


@dataclass(frozen=True)
class ZaloUser:
    id: str  # the user's id for the app (Graph's "id")
    name: str


class ZaloGraph:
    """A thread-safe verifier of Zalo user access tokens, with a short cache of answers."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, cache_seconds: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.http = requests.Session()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, ZaloUser | None]] = {}

    def user_of(self, token: str) -> ZaloUser:
        """The Zalo user holding ``token``; InvalidUserToken or GraphUnavailable otherwise."""
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidUserToken("malformed token")
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                raise InvalidUserToken("refused by Zalo")
            return cached[1]
        user = self._ask(token)
        self._remember(digest, user, now)
        if user is None:
            raise InvalidUserToken("refused by Zalo")
        return user

    def _ask(self, token: str) -> ZaloUser | None:
        try:
            response = self.http.get(
                f"{self.base_url}/v2.0/me",
                params={"fields": "id,name"},
                headers={"access_token": token},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise GraphUnavailable(type(error).__name__) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise GraphUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise GraphUnavailable(f"HTTP {response.status_code}, not JSON") from None
        if not isinstance(body, dict):
            raise GraphUnavailable("unexpected reply")
        error = body.get("error")
        if error in (RATE_LIMITED, str(RATE_LIMITED)):
            raise GraphUnavailable("rate limited")
        if error not in (None, 0, "0") or response.status_code >= 400:
            return None
        user_id = body.get("id")
        if not isinstance(user_id, str | int) or not str(user_id).strip():
            raise GraphUnavailable("reply without an id")
        name = body.get("name")
        return ZaloUser(id=str(user_id), name=name if isinstance(name, str) else "")

    def _remember(self, digest: str, user: ZaloUser | None, now: float) -> None:
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                for key in [k for k, (until, _) in self._cache.items() if until <= now] or list(self._cache)[
                    : MAX_CACHED // 10
                ]:
                    self._cache.pop(key, None)
            ttl = self.cache_seconds if user is not None else min(self.cache_seconds, REFUSAL_CACHE_SECONDS)
            self._cache[digest] = (now + ttl, user)
