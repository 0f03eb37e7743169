"""The Zalo client against the simulator (Zalo's real paths, headers and envelopes), the Rasa bridge, several
OAs in one deployment, and tokens refreshed ahead of expiry."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from flask import Flask, request
from sqlalchemy import select, update

from bot.zalo_webhook.client import ZaloApiError, ZaloClient
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.metrics import TOKEN_REFRESH_FAILURES
from bot.zalo_webhook.models import ZaloOA
from bot.zalo_webhook.rasa_bridge import BotUnavailable, RasaBot
from bot.zalo_webhook.tokens import TokenManager, TokenUnavailable
from core.config import Settings, ZaloOASettings
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.harness import serving_app
from tests.zalo_helpers import APP_ID, OA_ID, SECRET, signed, synced_channel, text_event, zalo_settings
from tests.zalo_sim import running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture
def client(sim) -> ZaloClient:
    return ZaloClient(api_base=sim.base, zns_base=sim.base, oauth_base=sim.base, timeout=5)


@pytest.fixture
def token(client) -> str:
    return client.refresh_token(APP_ID, "app-secret-for-tests", "first-refresh-token").access_token


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.reset()


def test_user_detail_tags_and_template_info(sim, client, token):
    sim.http.post(
        f"{sim.base}/_sim/users",
        json={"oa_id": OA_ID, "user_id": "u1", "display_name": "Chị Lan", "phone": "84912345678", "follower": True},
    )
    detail = client.user_detail(token, "u1")
    assert detail["display_name"] == "Chị Lan" and detail["user_is_follower"] is True
    client.tag_follower(token, "u1", "tin_tieu_duong")
    assert "tin_tieu_duong" in client.tags(token)
    assert client.user_detail(token, "u1")["tags_and_notes_info"]["tag_names"] == ["tin_tieu_duong"]
    client.untag_follower(token, "u1", "tin_tieu_duong")
    assert client.user_detail(token, "u1")["tags_and_notes_info"]["tag_names"] == []
    info = client.template_info(token, "tpl-reminder")
    assert [p["name"] for p in info["listParams"]] == ["noi_dung"]


def test_request_user_info_and_zns_shapes(sim, client, token):
    client.send_message(
        token, "u2", OutgoingMessage("Dạ, anh/chị chia sẻ số điện thoại giúp em ạ.", request_phone=True)
    )
    [card] = sim.messages(user_id="u2", kind="cs")
    payload = card["message"]["attachment"]["payload"]
    assert payload["template_type"] == "request_user_info" and payload["elements"][0]["title"]
    msg_id = client.send_zns(token, "+84912345678", "tpl-reminder", {"noi_dung": "Nhắc lịch"}, "key-1")
    [zns] = sim.messages(kind="zns")
    assert (zns["phone"], zns["msg_id"], zns["tracking_id"]) == ("84912345678", msg_id, "key-1")


def test_zalo_errors_come_with_http_200_and_are_raised(sim, client):
    with pytest.raises(ZaloApiError) as error:
        client.user_detail("not-a-token", "u1")
    assert error.value.code == -216 and error.value.token_problem


def test_a_token_is_refreshed_ahead_of_expiry(db, database_url, sim, client):
    build_world(db, start=today_local(), days=1)
    channel = synced_channel(db, zalo_settings(database_url))
    manager = TokenManager(db, client, channel.registry, margin=dt.timedelta(minutes=30))
    first = manager.access_token(OA_ID)
    assert manager.access_token(OA_ID) == first, "a fresh token is reused"
    with db.reader() as uow:
        expires = uow.session.scalar(select(ZaloOA.access_expires_at))
    assert manager.access_token(OA_ID, now=expires - dt.timedelta(minutes=31)) == first, "31 minutes left: kept"
    second = manager.access_token(OA_ID, now=expires - dt.timedelta(minutes=29))  # inside the 30-minute margin
    assert second != first and sim.stats()["refresh_calls"] == {OA_ID: 2}
    with db.reader() as uow:
        assert uow.session.scalar(select(ZaloOA.access_token)) == second


def test_a_failed_refresh_counts_in_the_alert_metric(db, database_url, sim, client):
    build_world(db, start=today_local(), days=1)
    channel = synced_channel(db, zalo_settings(database_url))
    with db.uow() as uow:
        uow.session.execute(update(ZaloOA).values(refresh_token="spent"))
        uow.commit()
    before = TOKEN_REFRESH_FAILURES.labels(oa_id=OA_ID)._value.get()
    with pytest.raises(TokenUnavailable):
        TokenManager(db, client, channel.registry).access_token(OA_ID)
    assert TOKEN_REFRESH_FAILURES.labels(oa_id=OA_ID)._value.get() == before + 1


def test_several_oas_each_with_its_own_secret_and_hospital(db, database_url):
    build_world(db, start=today_local(), days=1)
    second = ZaloOASettings(oa_id="900", app_id="901", hospital="test", oa_secret_key="other-secret", app_secret="s2")
    base = zalo_settings(database_url)
    settings = Settings(database_url=database_url, zalo_oas=[*base.zalo_oas, second])
    web = create_app(settings, database=db).test_client()
    ours = text_event("u1", "chào")
    theirs = dict(text_event("u1", "chào"), app_id="901", recipient={"id": "900"})
    assert web.post("/zalo/webhook", data=(s := signed(ours))[0], headers=s[1]).status_code == 200
    assert (
        web.post("/zalo/webhook", data=(s := signed(theirs, secret="other-secret"))[0], headers=s[1]).status_code == 200
    )
    signed_with_wrong_oa = signed(theirs, secret=SECRET)
    assert web.post("/zalo/webhook", data=signed_with_wrong_oa[0], headers=signed_with_wrong_oa[1]).status_code == 401
    synced_channel(db, settings)
    with db.reader() as uow:
        rows = {oa.oa_id: oa.hospital_id for oa in uow.session.scalars(select(ZaloOA))}
    assert set(rows) == {OA_ID, "900"} and None not in rows.values()


@pytest.fixture
def rasa():
    """Rasa's REST channel: an answer with buttons and a phone request, or a slow one."""
    app = Flask("fake-rasa")
    seen: list[dict] = []

    @app.post("/webhooks/rest/webhook")
    def reply():
        body = request.get_json()
        seen.append(body)
        if body["message"] == "chậm":
            time.sleep(1.0)
        return json.dumps(
            [
                {
                    "recipient_id": body["sender"],
                    "text": "Dạ, khoa nào ạ?",
                    "buttons": [{"title": "Nhi", "payload": '/inform{"department":"nhi"}'}],
                },
                {
                    "recipient_id": body["sender"],
                    "custom": {"request_phone": True, "text": "Cho em xin số điện thoại ạ"},
                },
            ]
        )

    with serving_app(app) as url:
        yield url, seen


def test_rasa_answers_become_zalo_messages(rasa):
    url, seen = rasa
    replies = RasaBot(url, timeout=2).reply(f"{OA_ID}:u1", "đặt lịch", {"oa_id": OA_ID})
    assert seen[0]["sender"] == f"{OA_ID}:u1" and seen[0]["message"] == "đặt lịch"
    assert replies[0].text == "Dạ, khoa nào ạ?" and replies[0].buttons[0].title == "Nhi"
    assert replies[1].request_phone and replies[1].text == "Cho em xin số điện thoại ạ"


def test_a_slow_or_absent_rasa_is_unavailable(rasa):
    url, _ = rasa
    with pytest.raises(BotUnavailable):
        RasaBot(url, timeout=0.3).reply("x", "chậm", {})
    with pytest.raises(BotUnavailable):
        RasaBot("http://127.0.0.1:9", timeout=0.3).reply("x", "chào", {})
