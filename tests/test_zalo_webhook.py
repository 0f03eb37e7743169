"""POST /zalo/webhook: Zalo's signature, storing each event once, and refusing what is not an event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.zalo_webhook import signature
from bot.zalo_webhook.models import InboundEvent
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.zalo_helpers import APP_ID, OA_ID, SECRET, event, signed, text_event, zalo_settings


@pytest.fixture
def client(db, database_url):
    build_world(db, start=today_local(), days=1)
    app = create_app(zalo_settings(database_url, zalo_site_verification='abc"<x>'), database=db)
    return app.test_client()


def stored(db) -> list[InboundEvent]:
    with db.reader() as uow:
        return list(uow.session.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def post(client, raw: bytes, headers: dict[str, str]):
    return client.post("/zalo/webhook", data=raw, headers=headers)


@pytest.mark.parametrize("prefix", [True, False], ids=["mac=hex", "bare hex"])
def test_a_signed_event_is_stored_and_acknowledged(client, db, prefix):
    raw, headers = signed(text_event("u1", "Xin chào, tôi muốn đặt lịch"), prefix=prefix)
    response = post(client, raw, headers)
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "duplicate": False}
    [row] = stored(db)
    assert (row.oa_id, row.user_id, row.event_name, row.status) == (OA_ID, "u1", "user_send_text", "pending")
    assert row.payload.encode() == raw, "the body is kept exactly as Zalo sent it"


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "changed body", "missing header", "empty header", "other app"],
)
def test_a_bad_signature_gets_401_and_nothing_is_stored(client, db, tamper):
    payload = text_event("u1", "chào")
    raw, headers = signed(payload, secret="not-the-secret" if tamper == "wrong secret" else SECRET)
    if tamper == "changed body":
        raw = raw.replace("chào".encode(), b"chao")
    if tamper == "missing header":
        headers.pop(signature.HEADER)
    if tamper == "empty header":
        headers[signature.HEADER] = "mac="
    if tamper == "other app":
        payload["app_id"] = "999"
        raw, headers = signed(payload)
    response = post(client, raw, headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("bad_signature", "unknown_oa")
    assert stored(db) == []


def test_the_same_event_five_times_is_stored_once(client, db):
    raw, headers = signed(text_event("u1", "đặt lịch khám", msg_id="96d3cdf3af150460909"))
    answers = [post(client, raw, headers).get_json() for _ in range(5)]
    assert answers[0]["duplicate"] is False and all(a["duplicate"] for a in answers[1:])
    assert len(stored(db)) == 1


def test_events_without_message_id_are_deduplicated_by_name_user_and_time(client, db):
    follow = event("follow", "u7")
    raw, headers = signed(follow)
    assert post(client, raw, headers).get_json()["duplicate"] is False
    assert post(client, raw, headers).get_json()["duplicate"] is True
    later = dict(follow, timestamp=str(int(follow["timestamp"]) + 1))
    assert post(client, *signed(later)).get_json()["duplicate"] is False
    assert [r.event_name for r in stored(db)] == ["follow", "follow"]


def test_unknown_event_names_are_stored_and_acknowledged(client, db):
    response = post(
        client, *signed(event("user_reacted_message", "u1", message={"msg_id": "m1", "react_icon": "/-heart"}))
    )
    assert response.status_code == 200
    response = post(client, *signed(event("some_future_event", "u1")))
    assert response.status_code == 200
    assert [r.event_name for r in stored(db)] == ["user_reacted_message", "some_future_event"]


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"event_name": "user_send_text"}', '{"app_id": "x", "é'.encode(), b"\xff\xfe"],
    ids=["empty", "text", "array", "missing fields", "truncated", "not utf-8"],
)
def test_malformed_bodies_get_400_and_nothing_is_stored(client, db, body):
    response = post(client, body, {"Content-Type": "application/json", signature.HEADER: "mac=00"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_event"
    assert stored(db) == []


def test_an_oversized_body_gets_413(client, db):
    payload = text_event("u1", "x" * 70_000)
    response = post(client, *signed(payload))
    assert response.status_code == 413
    assert stored(db) == []


def test_a_body_with_wrong_types_never_crashes(client, db):
    payload = {"app_id": APP_ID, "event_name": "user_send_text", "timestamp": "1", "sender": ["x"], "recipient": 5}
    response = post(client, *signed(payload))
    assert response.status_code == 400  # names no OA
    assert stored(db) == []


def test_the_site_verification_meta_tag_is_served_escaped(client):
    page = client.get("/").get_data(as_text=True)
    assert '<meta name="zalo-platform-site-verification" content="abc&quot;&lt;x&gt;" />' in page


def test_metrics_count_webhook_outcomes(db):
    app = create_app(zalo_settings(db.url, metrics_token="scrape-token"), database=db)
    client = app.test_client()
    post(client, *signed(text_event("u1", "a")))
    body = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"}).get_data(as_text=True)
    assert 'henkham_zalo_webhook_events_total{outcome="stored"}' in body


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Bearer ", "Basic c2NyYXBlLXRva2Vu"])
def test_metrics_are_refused_without_the_metrics_token(db, authorization):
    app = create_app(zalo_settings(db.url, metrics_token="scrape-token"), database=db)
    headers = {"Authorization": authorization} if authorization else {}
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "henkham_zalo" not in response.get_data(as_text=True)


def test_metrics_are_refused_to_everyone_when_no_token_is_configured(db):
    app = create_app(zalo_settings(db.url), database=db)
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
