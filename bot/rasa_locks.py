"""Rasa's lock store from one URL (``lock_store`` in bot/endpoints.yml): ``redis://[user:password@]host:port/db``
(``rediss://`` with TLS) for a Redis lock store that every Rasa server shares, so two servers never handle one
conversation at once; empty for the server's own memory (one server, ``make run``).

Rasa's ``redis`` lock store takes host, port and db as separate settings, and an endpoints file cannot choose the
store by whether a variable is set: this class lets one setting (HENKHAM_RASA_LOCK_URL) do both. Runs in the
Rasa environment.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

KEY_PREFIX = "henkham"


class UrlLockStore:
    """Not a store itself: Rasa calls ``UrlLockStore(endpoint_config=...)`` and gets the store the URL names."""

    def __new__(cls, endpoint_config: EndpointConfig) -> LockStore:  # type: ignore[misc]
        return lock_store_for((endpoint_config.url or "").strip())


def lock_store_for(url: str) -> LockStore:
    if not url:
        return InMemoryLockStore()
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError("HENKHAM_RASA_LOCK_URL must be redis://host:port/db (or empty for one server)")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError("HENKHAM_RASA_LOCK_URL: the Redis database must be a number (redis://host:port/1)")
    return RedisLockStore(
        host=parts.hostname,
        port=parts.port or 6379,
        db=int(db),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_ssl=parts.scheme == "rediss",
        key_prefix=KEY_PREFIX,
    )
