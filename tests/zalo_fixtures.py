"""Real-shaped Zalo webhook bodies (tests/fixtures/zalo/*.json), signed over the exact bytes Zalo would send."""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from bot.zalo_webhook import signature
from tests.zalo_helpers import SECRET

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zalo"
USER = "246845883529197922"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def body(name: str, *, fresh: bool = True, **changes: Any) -> dict[str, Any]:
    """A fixture as a dict (a copy), its timestamp now in milliseconds unless ``fresh`` is false; ``changes``
    replace top-level fields."""
    payload = copy.deepcopy(_load(name))
    if fresh:
        payload["timestamp"] = str(int(time.time() * 1000))
    payload.update(changes)
    return payload


def compact(payload: dict[str, Any]) -> bytes:
    """What Zalo sends: compact JSON, UTF-8 (the signature was checked over such bytes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(raw: bytes, app_id: str, timestamp: str, secret: str = SECRET) -> dict[str, str]:
    return {
        signature.HEADER: signature.header_value(app_id, raw, timestamp, secret),
        "Content-Type": "application/json",
    }


def signed_body(payload: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = compact(payload)
    return raw, sign(raw, str(payload["app_id"]), str(payload["timestamp"]), secret)
