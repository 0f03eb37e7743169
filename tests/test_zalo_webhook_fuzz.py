"""Fuzzing the webhook: random bodies, signed and unsigned, and mutations of real ones never get a 5xx, and
nothing is stored without a valid signature. Bounded and derandomized: the same examples on every run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.zalo_webhook import signature
from bot.zalo_webhook.models import InboundEvent
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.zalo_fixtures import body, names, sign
from tests.zalo_helpers import SECRET, zalo_settings

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any code point, lone surrogates and NUL included.
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=30)
ODD_IDS = st.sampled_from(
    ["", "0", "1" * 41, "a\u0000b", "\ud800", "This is message id", "84987654321", "579745863508352884"]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT | ODD_IDS
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=12
)
FIELDS = ["app_id", "event_name", "timestamp", "sender", "recipient", "message", "oa_id", "follower", "info", "user_id"]
NESTED = ["id", "admin_id", "msg_id", "text", "msg_ids", "phone", "attachments"]


@st.composite
def mutated_real_body(draw: st.DrawFn) -> dict[str, Any]:
    payload = body(draw(st.sampled_from(names())), fresh=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["set", "delete", "nested"]))
        if action == "delete":
            payload.pop(field, None)
        elif action == "set":
            payload[field] = draw(JSON)
        else:
            inner = payload.get(field) if isinstance(payload.get(field), dict) else {}
            payload[field] = {**inner, draw(st.sampled_from(NESTED)): draw(JSON)}
    return payload


ENCODINGS = st.sampled_from(["utf-8", "ascii escapes", "utf-16", "utf-16-le", "utf-8-sig", "deeply nested"])


def encode(payload: Any, encoding: str) -> bytes:
    if encoding == "deeply nested":
        return b'{"app_id":"360846524940903967","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    text = json.dumps(payload, ensure_ascii=encoding == "ascii escapes")
    if encoding in ("utf-8", "ascii escapes"):
        return text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "surrogatepass")


ODD_ID_FIELDS = st.sampled_from(["sender", "recipient", "follower"])


@st.composite
def real_body_with_odd_id(draw: st.DrawFn) -> dict[str, Any]:
    """A real body, fresh, with one id replaced by something that is not a Zalo id."""
    payload = body(draw(st.sampled_from(names())))
    payload[draw(ODD_ID_FIELDS)] = {"id": draw(ODD_IDS | ANY_TEXT)}
    return payload


BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(encode, JSON, ENCODINGS),
    st.builds(encode, mutated_real_body(), ENCODINGS),
    st.builds(encode, real_body_with_odd_id(), ENCODINGS),
)
SIGNING = st.sampled_from(["ours", "none", "wrong secret", "garbage"])


def header_for(raw: bytes, how: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if how == "garbage":
        headers[signature.HEADER] = "mac=zz"
    elif how != "none":
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            parsed = {}
        parsed = parsed if isinstance(parsed, dict) else {}
        app_id, timestamp = (_as_text(parsed.get(f)) for f in ("app_id", "timestamp"))
        headers.update(sign(raw, app_id, timestamp, SECRET if how == "ours" else "not-the-secret"))
    return headers


def _as_text(value: Any) -> str:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def validly_signed(raw: bytes, header: str | None) -> bool:
    parsed = json.loads(raw)
    app_id, timestamp = _as_text(parsed.get("app_id")), _as_text(parsed.get("timestamp"))
    return signature.is_valid(header, app_id, raw, timestamp, SECRET)


@pytest.fixture
def client(db, database_url):
    build_world(db, start=today_local(), days=1)
    return create_app(zalo_settings(database_url), database=db).test_client()


def count(db) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(InboundEvent))


def test_random_and_mutated_bodies_never_get_a_5xx_and_nothing_unsigned_is_stored(db, client):
    @FUZZ
    @given(raw=BODIES, how=SIGNING)
    def check(raw: bytes, how: str) -> None:
        headers = header_for(raw, how)
        before = count(db)
        response = client.post("/zalo/webhook", data=raw, headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        assert response.is_json, "every answer is JSON"
        if count(db) > before:
            assert response.status_code == 200
            assert validly_signed(raw, headers.get(signature.HEADER)), "stored without a valid signature"

    check()
    assert count(db) > 0, "the examples include validly signed events, which are stored"
