"""Zalo's webhook signature: ``X-ZEvent-Signature: mac=<hex>``.

``mac = sha256(app_id + raw_body + timestamp + oa_secret_key)``, plain SHA-256 in lowercase hex, where
``app_id`` and ``timestamp`` are read from the JSON body and ``raw_body`` is the exact request bytes
(re-serialising the JSON would break it). See shared/zalo-api.md.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-ZEvent-Signature"


def compute_mac(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(raw_body)
    digest.update(timestamp.encode())
    digest.update(oa_secret_key.encode())
    return digest.hexdigest()


def header_value(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """What Zalo sends (and what the simulator sends) in the signature header."""
    return "mac=" + compute_mac(app_id, raw_body, timestamp, oa_secret_key)


def is_valid(header: str | None, app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    """Whether ``header`` (``mac=<hex>`` or bare hex) signs this body; compared in constant time."""
    if not header or not oa_secret_key:
        return False
    given = header.strip()
    if given.lower().startswith("mac="):
        given = given[4:].strip()
    expected = compute_mac(app_id, raw_body, timestamp, oa_secret_key)
    return hmac.compare_digest(given.lower().encode(), expected.encode())
