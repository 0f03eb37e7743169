"""The Zalo simulator as our Zalo client and webhook see it: Zalo's envelopes and error codes, token
refresh semantics, injected failures, the control API, signed webhook events, and the chat page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from bot.zalo_webhook.signature import HEADER, is_valid
from bot.zalo_webhook.simulator import SimulatedOA, SimulatorConfig, create_simulator
from bot.zalo_webhook.simulator.context import EXTENSION_KEY
from tests.harness import answers, free_port, run_together, serving_app, wait_until
from tests.zalo_helpers import OTHER_OA
from tests.zalo_helpers import SIMULATED_OA as OA

TEMPLATES = {"231234": ["patient_name", "appointment_time"]}
USER = "246845883529197922"
CS = "/v3.0/oa/message/cs"
ZNS = "/message/template"
OAUTH = "/v4/oa/access_token"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
DIGITS = re.compile(r"^\d+$")


# -- a webhook that records what the simulator posts -------------------------------------------------------
@dataclass
class Webhook:
    url: str
    received: list[tuple[Headers, bytes]] = field(default_factory=list)
    status: int = 200

    def last(self) -> tuple[Headers, bytes, dict[str, Any]]:
        headers, body = self.received[-1]
        return headers, body, json.loads(body)


@pytest.fixture(scope="module")
def webhook_server() -> Iterator[Webhook]:
    hook = Webhook(url="")

    @Request.application
    def app(request: Request) -> Response:
        hook.received.append((Headers(request.headers), request.get_data()))
        return Response("ok", status=hook.status)

    with serving_app(app) as base:
        hook.url = f"{base}/zalo/webhook"
        yield hook


@pytest.fixture
def webhook(webhook_server: Webhook) -> Webhook:
    webhook_server.received.clear()
    webhook_server.status = 200
    return webhook_server


@pytest.fixture
def sim(webhook: Webhook) -> Flask:
    config = SimulatorConfig(webhook_url=webhook.url, oas=[OA, OTHER_OA], templates=TEMPLATES, webhook_timeout=3)
    return create_simulator(config)


@pytest.fixture
def client(sim: Flask) -> FlaskClient:
    return sim.test_client()


@pytest.fixture
def token(client: FlaskClient) -> str:
    seed(client, OA, "access-1", "refresh-1")
    return "access-1"


def seed(client: FlaskClient, oa: SimulatedOA, access: str, refresh: str, expires_in: int = 3600) -> None:
    reply = client.post(
        "/_sim/tokens",
        json={"oa_id": oa.oa_id, "access_token": access, "refresh_token": refresh, "expires_in": expires_in},
    )
    assert reply.status_code == 200


def send_cs(client: FlaskClient, token: str | None, message: dict[str, Any], user_id: str = USER) -> dict[str, Any]:
    headers = {"access_token": token} if token else {}
    reply = client.post(CS, json={"recipient": {"user_id": user_id}, "message": message}, headers=headers)
    assert reply.status_code == 200
    return reply.get_json()


def zalo_get(client: FlaskClient, token: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = client.get(path, query_string={"data": json.dumps(data)}, headers={"access_token": token})
    assert reply.status_code == 200
    return reply.get_json()


def refresh(client: FlaskClient, refresh_token: str, app_id: str = OA.app_id, secret: str = OA.app_secret) -> Any:
    form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
    reply = client.post(OAUTH, data=form, headers={"secret_key": secret})
    assert reply.status_code == 200
    return reply.get_json()


def messages(client: FlaskClient, **filters: Any) -> list[dict[str, Any]]:
    return client.get("/_sim/messages", query_string=filters).get_json()["messages"]


def stats(client: FlaskClient) -> dict[str, Any]:
    return client.get("/_sim/stats").get_json()


def add_fault(client: FlaskClient, **spec: Any) -> None:
    reply = client.post("/_sim/faults", json=spec)
    assert reply.status_code == 200, reply.get_json()


def chat_event(client: FlaskClient, event_name: str, user_id: str = USER, **extra: Any) -> dict[str, Any]:
    reply = client.post(
        "/_sim/chat/event", json={"oa_id": OA.oa_id, "user_id": user_id, "event_name": event_name, **extra}
    )
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def signed_by(headers: Headers, body: bytes, secret: str) -> bool:
    event = json.loads(body)
    return is_valid(headers.get(HEADER), str(event["app_id"]), body, str(event["timestamp"]), secret)


# -- consultation messages ----------------------------------------------------------------------------------
def test_consultation_message_is_recorded_and_answered_in_zalos_envelope(client: FlaskClient, token: str) -> None:
    reply = send_cs(client, token, {"text": "Dạ, em chào anh/chị ạ."})

    assert reply["error"] == 0
    assert reply["message"] == "Success"
    assert HEX32.match(reply["data"]["message_id"])
    assert reply["data"]["user_id"] == USER
    [record] = messages(client, user_id=USER)
    assert record["kind"] == "cs"
    assert record["oa_id"] == OA.oa_id
    assert record["message"] == {"text": "Dạ, em chào anh/chị ạ."}
    assert record["message_id"] == reply["data"]["message_id"]
    assert isinstance(record["seq"], int)
    assert isinstance(record["time"], int)


def test_the_message_is_recorded_for_the_oa_the_token_belongs_to(client: FlaskClient) -> None:
    seed(client, OTHER_OA, "other-access", "other-refresh")
    send_cs(client, "other-access", {"text": "xin chào"})

    assert [m["oa_id"] for m in messages(client)] == [OTHER_OA.oa_id]
    assert messages(client, oa_id=OA.oa_id) == []


@pytest.mark.parametrize("token", [None, "never-issued"])
def test_a_missing_or_unknown_access_token_is_refused_with_216(client: FlaskClient, token: str | None) -> None:
    reply = send_cs(client, token, {"text": "xin chào"})

    assert reply["error"] == -216
    assert reply["message"].startswith("Access token is invalid")
    assert "data" not in reply
    assert messages(client) == []


def test_an_expired_access_token_is_refused(client: FlaskClient) -> None:
    seed(client, OA, "short-lived", "r", expires_in=0)

    assert send_cs(client, "short-lived", {"text": "xin chào"})["error"] == -216


def test_the_token_header_is_access_token_not_bearer(client: FlaskClient, token: str) -> None:
    reply = client.post(
        CS,
        json={"recipient": {"user_id": USER}, "message": {"text": "a"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.get_json()["error"] == -216


BUTTONS = {
    "text": "Anh/chị muốn khám khoa nào ạ?",
    "attachment": {
        "type": "template",
        "payload": {
            "template_type": "button",
            "buttons": [
                {"title": "Nội", "type": "oa.query.show", "payload": "khoa noi"},
                {"title": "Nhi", "type": "oa.query.hide", "payload": "khoa nhi"},
                {"title": "Trang web", "type": "oa.open.url", "payload": {"url": "https://benhvien.example/"}},
                {"title": "Gọi tổng đài", "type": "oa.open.phone", "payload": {"phone_code": "19001234"}},
            ],
        },
    },
}
REQUEST_INFO = {
    "attachment": {
        "type": "template",
        "payload": {
            "template_type": "request_user_info",
            "elements": [{"title": "Bệnh viện", "subtitle": "Xin số điện thoại", "image_url": "https://x/y.png"}],
        },
    }
}
MEDIA = {
    "attachment": {
        "type": "template",
        "payload": {"template_type": "media", "elements": [{"media_type": "image", "url": "https://x/map.png"}]},
    }
}


@pytest.mark.parametrize(
    "message", [{"text": "x" * 2000}, BUTTONS, REQUEST_INFO, MEDIA], ids=["text-2000", "buttons", "info", "media"]
)
def test_the_documented_message_shapes_are_accepted(client: FlaskClient, token: str, message: dict) -> None:
    reply = send_cs(client, token, message)

    assert reply["error"] == 0
    assert messages(client)[0]["message"] == message


def _with_buttons(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": "?", "attachment": {"type": "template", "payload": {"template_type": "button", "buttons": buttons}}}


@pytest.mark.parametrize(
    "message",
    [
        {"text": "x" * 2001},
        {"text": ""},
        {"sticker": "hi"},
        {},
        {"attachment": {"type": "template", "payload": {"template_type": "carousel"}}},
        _with_buttons([{"title": "A", "type": "oa.open.sms", "payload": "x"}]),
        _with_buttons([{"title": "A", "type": "oa.open.url", "payload": "not-an-object"}]),
        _with_buttons([{"title": str(i), "type": "oa.query.show", "payload": str(i)} for i in range(6)]),
    ],
    ids=["too-long", "empty", "unknown-field", "nothing", "unknown-template", "unknown-button", "bad-url", "6-buttons"],
)
def test_invalid_messages_are_refused_with_201_and_not_recorded(client: FlaskClient, token: str, message: dict) -> None:
    reply = send_cs(client, token, message)

    assert reply["error"] == -201
    assert messages(client) == []


def test_a_message_without_recipient_is_refused_with_201(client: FlaskClient, token: str) -> None:
    reply = client.post(CS, json={"message": {"text": "a"}}, headers={"access_token": token}).get_json()

    assert reply["error"] == -201


# -- ZNS ------------------------------------------------------------------------------------------------------
def zns(client: FlaskClient, token: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "phone": "84987654321",
        "template_id": "231234",
        "template_data": {"patient_name": "Nguyễn Văn A", "appointment_time": "08:30 12/05/2025"},
        "tracking_id": "appt-42",
        **overrides,
    }
    reply = client.post(ZNS, json=body, headers={"access_token": token})
    assert reply.status_code == 200
    return reply.get_json()


def test_zns_is_recorded_and_reports_msg_id_and_quota(client: FlaskClient, token: str) -> None:
    first = zns(client, token)
    second = zns(client, token, mode="development")

    assert first["error"] == 0
    data = first["data"]
    assert HEX32.match(data["msg_id"])
    assert DIGITS.match(data["sent_time"])
    assert data["quota"] == {"dailyQuota": "500", "remainingQuota": "499"}
    assert second["data"]["quota"]["remainingQuota"] == "498"
    record = messages(client, kind="zns")[0]
    assert record["phone"] == "84987654321"
    assert record["template_id"] == "231234"
    assert record["template_data"]["patient_name"] == "Nguyễn Văn A"
    assert record["tracking_id"] == "appt-42"
    assert record["msg_id"] == data["msg_id"]
    assert messages(client, kind="cs") == []


@pytest.mark.parametrize("phone", ["0987654321", "8498765432", "849876543210", "+84987654321", 84987654321])
def test_zns_refuses_a_phone_that_is_not_84_and_nine_digits(client: FlaskClient, token: str, phone: Any) -> None:
    assert zns(client, token, phone=phone)["error"] == -108
    assert messages(client) == []


def test_zns_refuses_unknown_templates_incomplete_data_and_long_tracking_ids(client: FlaskClient, token: str) -> None:
    assert zns(client, token, template_id="999")["error"] == -124
    assert zns(client, token, template_data={"patient_name": "A"})["error"] == -115
    assert (
        zns(client, token, template_data={"patient_name": "A", "appointment_time": "x", "extra": "y"})["error"] == -115
    )
    assert zns(client, token, tracking_id="t" * 49)["error"] == -201
    assert zns(client, "not-a-token")["error"] == -216
    assert messages(client) == []


def test_template_info_lists_the_configured_parameters(client: FlaskClient, token: str) -> None:
    reply = client.get("/template/info/v2", query_string={"template_id": "231234"}, headers={"access_token": token})
    data = reply.get_json()["data"]

    assert data["templateId"] == "231234"
    assert data["status"] == "ENABLE"
    assert [p["name"] for p in data["listParams"]] == ["patient_name", "appointment_time"]
    assert all(p["require"] is True and p["type"] == "STRING" for p in data["listParams"])
    unknown = client.get("/template/info/v2", query_string={"template_id": "1"}, headers={"access_token": token})
    assert unknown.get_json()["error"] == -124


# -- OAuth --------------------------------------------------------------------------------------------------
def test_a_refresh_token_works_once_and_the_old_access_token_stays_valid(client: FlaskClient, token: str) -> None:
    first = refresh(client, "refresh-1")

    assert set(first) == {"access_token", "refresh_token", "expires_in"}
    assert first["expires_in"] == "90000"
    assert send_cs(client, first["access_token"], {"text": "new token"})["error"] == 0
    assert send_cs(client, token, {"text": "old token, not expired"})["error"] == 0

    reused = refresh(client, "refresh-1")
    assert reused["error"] == -14014
    assert reused["error_name"] == "Invalid refresh token"
    assert "error_description" in reused

    second = refresh(client, first["refresh_token"])
    assert second["access_token"] != first["access_token"]
    assert stats(client)["refresh_calls"] == {OA.oa_id: 3}
    assert stats(client)["refresh_token_reuse"] == 1


def test_each_oas_configured_refresh_token_is_valid_at_start(client: FlaskClient) -> None:
    pair = refresh(client, OTHER_OA.refresh_token, OTHER_OA.app_id, OTHER_OA.app_secret)

    assert send_cs(client, pair["access_token"], {"text": "a"})["error"] == 0
    assert messages(client)[0]["oa_id"] == OTHER_OA.oa_id


def test_a_wrong_secret_or_app_is_refused_without_using_up_the_refresh_token(client: FlaskClient) -> None:
    assert refresh(client, OA.refresh_token, secret="wrong")["error"] == -14002
    assert refresh(client, OA.refresh_token, app_id="123")["error"] == -14002
    assert refresh(client, OA.refresh_token, OTHER_OA.app_id, OTHER_OA.app_secret)["error"] == -14014
    assert refresh(client, "never-issued")["error"] == -14014
    assert stats(client)["refresh_token_reuse"] == 0

    assert "access_token" in refresh(client, OA.refresh_token)


def test_the_refresh_body_must_be_form_encoded(client: FlaskClient) -> None:
    reply = client.post(
        OAUTH,
        json={"refresh_token": OA.refresh_token, "app_id": OA.app_id, "grant_type": "refresh_token"},
        headers={"secret_key": OA.app_secret},
    )
    assert reply.get_json()["error"] == -14002


def test_two_simultaneous_refreshes_with_one_token_give_one_pair_and_one_reuse(sim: Flask) -> None:
    results = run_together(lambda: refresh(sim.test_client(), OA.refresh_token), 2)
    assert sorted("access_token" in result for result in results) == [False, True]
    counters = stats(sim.test_client())
    assert counters["refresh_calls"] == {OA.oa_id: 2}
    assert counters["refresh_token_reuse"] == 1


# -- injected failures ----------------------------------------------------------------------------------------
def test_http_faults_hit_the_next_count_requests_on_their_path_only(client: FlaskClient, token: str) -> None:
    add_fault(client, path=CS, kind="http_502", count=2)

    statuses = [
        client.post(
            CS, json={"recipient": {"user_id": USER}, "message": {"text": "a"}}, headers={"access_token": token}
        )
        for _ in range(3)
    ]
    assert [reply.status_code for reply in statuses] == [502, 502, 200]
    assert zns(client, token)["error"] == 0
    assert len(messages(client, kind="cs")) == 1
    assert stats(client)["faults_fired"] == 2


def test_a_star_fault_hits_any_zalo_endpoint_but_not_the_control_api(client: FlaskClient, token: str) -> None:
    add_fault(client, path="*", kind="zalo_-32", count=1)

    assert client.get("/_sim/stats").status_code == 200
    assert zns(client, token)["error"] == -32
    assert zns(client, token)["error"] == 0


def test_a_216_fault_revokes_the_token_so_only_a_refreshed_one_works(client: FlaskClient, token: str) -> None:
    add_fault(client, path=CS, kind="zalo_-216")

    assert send_cs(client, token, {"text": "a"})["error"] == -216
    assert send_cs(client, token, {"text": "a"})["error"] == -216
    pair = refresh(client, "refresh-1")
    assert send_cs(client, pair["access_token"], {"text": "a"})["error"] == 0


def test_a_rate_fault_fires_until_cleared(client: FlaskClient, token: str) -> None:
    add_fault(client, path=CS, kind="http_503", rate=1.0)

    assert all(client.post(CS, json={}, headers={"access_token": token}).status_code == 503 for _ in range(4))
    assert len(client.get("/_sim/faults").get_json()["faults"]) == 1
    assert client.delete("/_sim/faults").status_code == 200
    assert send_cs(client, token, {"text": "a"})["error"] == 0


def test_a_timeout_delays_and_does_not_deliver(client: FlaskClient, token: str) -> None:
    add_fault(client, path=CS, kind="timeout", delay_seconds=0.2)

    started = time.monotonic()
    reply = client.post(
        CS, json={"recipient": {"user_id": USER}, "message": {"text": "a"}}, headers={"access_token": token}
    )

    assert time.monotonic() - started >= 0.2
    assert reply.status_code == 504
    assert messages(client) == []


def test_a_processed_timeout_delivers_before_the_delay(client: FlaskClient, token: str) -> None:
    add_fault(client, path=CS, kind="timeout", delay_seconds=0.4, processed=True)
    answered = threading.Event()
    seen: list[tuple[list[str], bool]] = []  # the recorded texts, and whether the send call had returned then

    def look() -> None:
        wait_until(lambda: messages(client), timeout=10, what="the message recorded", every=0.01)
        seen.append(([m["message"]["text"] for m in messages(client)], answered.is_set()))

    watcher = threading.Thread(target=look)
    watcher.start()
    reply = send_cs(client, token, {"text": "đã gửi rồi"})
    answered.set()
    watcher.join()

    assert reply["error"] == 0
    assert seen == [(["đã gửi rồi"], False)], "recorded while the send call was still held"


@pytest.mark.parametrize(
    "spec",
    [{"kind": "boom"}, {"kind": "zalo_216"}, {"kind": "http_502", "count": 0}, {"kind": "timeout", "rate": 2}],
)
def test_a_fault_that_cannot_be_understood_is_refused(client: FlaskClient, spec: dict[str, Any]) -> None:
    reply = client.post("/_sim/faults", json={"path": CS, **spec})

    assert reply.status_code == 400
    assert "error" in reply.get_json()


# -- users, tags and conversation --------------------------------------------------------------------------
def test_user_detail_shows_registration_follow_and_shared_info(client: FlaskClient, token: str) -> None:
    client.post(
        "/_sim/users",
        json={
            "oa_id": OA.oa_id,
            "user_id": USER,
            "display_name": "Trần Thị B",
            "phone": "84912000111",
            "follower": False,
        },
    )
    detail = zalo_get(client, token, "/v3.0/oa/user/detail", {"user_id": USER})["data"]

    assert detail["user_id"] == USER
    assert detail["display_name"] == "Trần Thị B"
    assert detail["user_is_follower"] is False
    assert detail["shared_info"]["phone"] == "84912000111"
    assert re.match(r"^\d{2}/\d{2}/\d{4}$", detail["user_last_interaction_date"])
    assert detail["tags_and_notes_info"] == {"tag_names": [], "notes": []}
    assert DIGITS.match(detail["user_id_by_app"])

    chat_event(client, "follow")
    chat_event(client, "user_submit_info", info={"name": "Trần Thị B", "phone": "84987000222"})
    detail = zalo_get(client, token, "/v3.0/oa/user/detail", {"user_id": USER})["data"]
    assert detail["user_is_follower"] is True
    assert detail["shared_info"]["phone"] == "84987000222"


def test_user_detail_of_an_unknown_user_or_without_data_is_an_error(client: FlaskClient, token: str) -> None:
    assert zalo_get(client, token, "/v3.0/oa/user/detail", {"user_id": "1"})["error"] == -210
    raw = client.get("/v3.0/oa/user/detail", query_string={"data": "{not json"}, headers={"access_token": token})
    assert raw.get_json()["error"] == -201


def test_users_appear_when_they_send_something(client: FlaskClient, token: str) -> None:
    client.post("/_sim/chat/send", json={"oa_id": OA.oa_id, "user_id": "777", "text": "alo"})

    assert zalo_get(client, token, "/v3.0/oa/user/detail", {"user_id": "777"})["error"] == 0
    assert [u["user_id"] for u in client.get(f"/_sim/users?oa_id={OA.oa_id}").get_json()["users"]] == ["777"]


def test_tags(client: FlaskClient, token: str) -> None:
    client.post("/_sim/users", json={"oa_id": OA.oa_id, "user_id": USER})
    headers = {"access_token": token}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        return client.post(f"/v2.0/oa/tag/{path}", json=body, headers=headers).get_json()

    def oa_tags() -> list[str]:
        return client.get("/v2.0/oa/tag/gettagsofoa", headers=headers).get_json()["data"]

    def user_tags() -> list[str]:
        return zalo_get(client, token, "/v3.0/oa/user/detail", {"user_id": USER})["data"]["tags_and_notes_info"][
            "tag_names"
        ]

    assert post("tagfollower", {"user_id": USER, "tag_name": "benh-nhan"})["error"] == 0
    assert post("tagfollower", {"user_id": USER, "tag_name": "nhi"})["error"] == 0
    assert oa_tags() == ["benh-nhan", "nhi"]
    assert user_tags() == ["benh-nhan", "nhi"]
    assert post("rmfollowerfromtag", {"user_id": USER, "tag_name": "nhi"})["error"] == 0
    assert user_tags() == ["benh-nhan"]
    assert post("rmtag", {"tag_name": "benh-nhan"})["error"] == 0
    assert oa_tags() == ["nhi"]
    assert user_tags() == []
    assert post("tagfollower", {"user_id": "unknown", "tag_name": "x"})["error"] == -210
    assert post("tagfollower", {"user_id": USER})["error"] == -201


def test_conversation_lists_both_sides_newest_first(client: FlaskClient, token: str) -> None:
    assert (
        client.post(
            "/_sim/chat/send", json={"oa_id": OA.oa_id, "user_id": USER, "text": "Tôi muốn đặt lịch"}
        ).status_code
        == 200
    )
    first = send_cs(client, token, {"text": "Dạ, khoa nào ạ?"})["data"]["message_id"]
    second = send_cs(client, token, BUTTONS)["data"]["message_id"]

    entries = zalo_get(client, token, "/v2.0/oa/conversation", {"user_id": USER, "offset": 0, "count": 10})["data"]

    assert [e["src"] for e in entries] == [0, 0, 1]
    assert [e["message_id"] for e in entries[:2]] == [second, first]
    assert entries[2]["message"] == "Tôi muốn đặt lịch"
    assert entries[2]["type"] == "text"
    assert entries[2]["from_id"] == USER and entries[2]["to_id"] == OA.oa_id
    assert entries[0]["from_id"] == OA.oa_id and entries[0]["to_id"] == USER
    assert entries[0]["type"] == "template"
    assert all(isinstance(e["time"], int) for e in entries)
    assert set(entries[0]) == {"message_id", "src", "time", "type", "message", "from_id", "to_id"}
    page = zalo_get(client, token, "/v2.0/oa/conversation", {"user_id": USER, "offset": 1, "count": 1})["data"]
    assert [e["message_id"] for e in page] == [first]
    too_many = zalo_get(client, token, "/v2.0/oa/conversation", {"user_id": USER, "offset": 0, "count": 11})
    assert too_many["error"] == -201


# -- control API ----------------------------------------------------------------------------------------------
def test_messages_filter_by_sequence_user_and_kind(client: FlaskClient, token: str) -> None:
    send_cs(client, token, {"text": "1"})
    send_cs(client, token, {"text": "2"}, user_id="999")
    zns(client, token)
    first_seq = messages(client)[0]["seq"]

    assert [m["message"]["text"] for m in messages(client, after=first_seq, kind="cs")] == ["2"]
    assert [m["message"]["text"] for m in messages(client, user_id=USER)] == ["1"]
    assert [m["kind"] for m in messages(client)] == ["cs", "cs", "zns"]


def test_a_long_poll_answers_when_a_matching_message_arrives(sim: Flask, client: FlaskClient, token: str) -> None:
    send_cs(client, token, {"text": "before"})
    after = messages(client)[-1]["seq"]

    arrived = sim.extensions[EXTENSION_KEY].store._arrived

    def send_later() -> None:  # once the long poll below is held, waiting for a message
        wait_until(lambda: arrived._waiters, timeout=10, what="the long poll to wait")
        other = sim.test_client()
        send_cs(other, token, {"text": "to someone else"}, user_id="999")
        send_cs(other, token, {"text": "the answer"})

    sender = threading.Thread(target=send_later)
    sender.start()
    began = time.monotonic()
    got = messages(client, user_id=USER, after=after, wait=30)
    waited = time.monotonic() - began
    sender.join()

    assert [m["message"]["text"] for m in got] == ["the answer"]
    assert waited < 20  # held until the message came, not for the whole wait
    assert messages(client, user_id=USER, after=got[-1]["seq"], wait=0.2) == []  # nothing new: empty after the wait


@pytest.mark.parametrize("wait", ["soon", "-1", "61"])
def test_a_wait_that_is_not_0_to_60_seconds_is_refused(client: FlaskClient, wait: str) -> None:
    reply = client.get("/_sim/messages", query_string={"wait": wait})
    assert reply.status_code == 400
    assert "wait" in reply.get_json()["error"]


def test_stats_count_requests_per_path(client: FlaskClient, token: str) -> None:
    send_cs(client, token, {"text": "1"})
    send_cs(client, None, {"text": "2"})
    zns(client, token)

    counters = stats(client)
    assert counters["requests"] == {CS: 2, ZNS: 1}
    assert counters["messages"] == 2
    assert counters["faults_fired"] == 0


def test_reset_forgets_everything_and_restores_the_seed_tokens(client: FlaskClient, token: str) -> None:
    refresh(client, OA.refresh_token)
    send_cs(client, token, {"text": "1"})
    add_fault(client, path="*", kind="http_500", count=5)

    assert client.post("/_sim/reset").status_code == 200

    assert messages(client) == []
    assert client.get("/_sim/faults").get_json()["faults"] == []
    assert stats(client) == {
        "requests": {},
        "messages": 0,
        "webhook_posts": {"delivered": 0, "failed": 0},
        "refresh_calls": {},
        "refresh_token_reuse": 0,
        "faults_fired": 0,
    }
    assert send_cs(client, token, {"text": "seeded token is gone"})["error"] == -216
    assert "access_token" in refresh(client, OA.refresh_token)


# -- events posted to the webhook -------------------------------------------------------------------------
def test_chat_send_posts_a_signed_user_send_text_event(client: FlaskClient, webhook: Webhook) -> None:
    reply = client.post("/_sim/chat/send", json={"oa_id": OA.oa_id, "user_id": USER, "text": "Đặt lịch khám"})

    assert reply.status_code == 200
    assert reply.get_json()["status"] == 200
    headers, raw, event = webhook.last()
    assert reply.get_json()["event"] == event
    assert headers["Content-Type"] == "application/json"
    assert headers[HEADER].startswith("mac=")
    assert signed_by(headers, raw, OA.oa_secret_key)
    assert "Đặt lịch khám".encode() in raw  # sent as UTF-8, signed over these exact bytes
    assert event["app_id"] == OA.app_id
    assert event["event_name"] == "user_send_text"
    assert event["sender"] == {"id": USER}
    assert event["recipient"] == {"id": OA.oa_id}
    assert event["message"]["text"] == "Đặt lịch khám"
    assert event["message"]["msg_id"]
    assert isinstance(event["timestamp"], str) and DIGITS.match(event["timestamp"])
    assert DIGITS.match(event["user_id_by_app"])


def test_a_wrong_secret_or_no_signature_does_not_verify(client: FlaskClient, webhook: Webhook) -> None:
    chat_event(client, "user_send_text", text="a", secret="wrong")
    headers, raw, _ = webhook.last()
    assert HEADER in headers
    assert not signed_by(headers, raw, OA.oa_secret_key)

    chat_event(client, "user_send_text", text="a", sign=False)
    headers, raw, _ = webhook.last()
    assert HEADER not in headers


@pytest.mark.parametrize("shape", ["flat", "new"])
def test_user_submit_info_comes_in_both_shapes(client: FlaskClient, webhook: Webhook, shape: str) -> None:
    chat_event(client, "user_submit_info", shape=shape, info={"name": "Lê C", "phone": "84911222333"})

    headers, raw, event = webhook.last()
    assert signed_by(headers, raw, OA.oa_secret_key)
    assert event["sender"] == {"id": USER}
    assert event["recipient"] == {"id": OA.oa_id}
    info = event["info"]
    assert info["name"] == "Lê C"
    assert info["phone"] == "84911222333"
    if shape == "flat":
        assert set(info) == {"name", "phone", "address", "city", "district", "ward"}
    else:
        assert set(info) == {"name", "phone", "user_dob", "gender", "full_address"}
        assert isinstance(info["full_address"], dict)


def test_follow_unfollow_staff_reply_image_and_unknown_events(client: FlaskClient, webhook: Webhook) -> None:
    chat_event(client, "follow")
    _, _, follow = webhook.last()
    assert follow["oa_id"] == OA.oa_id
    assert follow["follower"] == {"id": USER}
    assert follow["source"]
    assert follow["app_id"] == OA.app_id

    reply = client.post(
        "/_sim/chat/staff-reply", json={"oa_id": OA.oa_id, "user_id": USER, "text": "Chị chờ em chút ạ"}
    )
    assert reply.status_code == 200, reply.get_json()
    _, _, staff = webhook.last()
    assert staff["event_name"] == "oa_send_text"
    assert staff["sender"] == {"id": OA.oa_id}, "real echoes name no admin_id"
    assert staff["recipient"] == {"id": USER}
    assert staff["message"]["text"] == "Chị chờ em chút ạ" and staff["message"]["msg_id"]

    chat_event(client, "user_send_image", url="https://x/photo.jpg")
    _, _, image = webhook.last()
    assert image["message"]["attachments"] == [
        {"type": "image", "payload": {"url": "https://x/photo.jpg", "thumbnail": "https://x/photo.jpg"}}
    ]

    chat_event(client, "user_click_chatnow")
    _, _, chatnow = webhook.last()
    assert (chatnow["oa_id"], chatnow["user_id"]) == (OA.oa_id, USER)

    chat_event(client, "user_did_something_new", detail="x")
    headers, raw, unknown = webhook.last()
    assert unknown["event_name"] == "user_did_something_new"
    assert unknown["detail"] == "x"
    assert signed_by(headers, raw, OA.oa_secret_key)
    assert len(webhook.received) == 5


def test_a_raw_body_is_posted_verbatim_and_repeat_redelivers_the_same_bytes(
    client: FlaskClient, webhook: Webhook
) -> None:
    chat_event(client, "ignored", raw=True, body="{not json")
    assert webhook.received[-1][1] == b"{not json"

    reply = chat_event(client, "user_send_text", text="a", repeat=2)
    assert reply["statuses"] == [200, 200]
    assert webhook.received[-1][1] == webhook.received[-2][1]


def test_an_unreachable_webhook_is_reported_not_raised(webhook: Webhook) -> None:
    port = free_port()
    config = SimulatorConfig(webhook_url=f"http://127.0.0.1:{port}/x", oas=[OA], webhook_timeout=1)
    reply = (
        create_simulator(config)
        .test_client()
        .post("/_sim/chat/send", json={"oa_id": OA.oa_id, "user_id": USER, "text": "a"})
    )

    assert reply.status_code == 502
    assert reply.get_json()["status"] is None
    assert reply.get_json()["error"]


def test_the_webhooks_status_is_passed_back(client: FlaskClient, webhook: Webhook) -> None:
    webhook.status = 500
    reply = client.post("/_sim/chat/send", json={"oa_id": OA.oa_id, "user_id": USER, "text": "a"})

    assert reply.status_code == 200
    assert reply.get_json()["status"] == 500


# -- chat page ------------------------------------------------------------------------------------------------
def test_the_chat_page_is_self_contained_and_escapes_message_text(client: FlaskClient) -> None:
    reply = client.get("/")
    page = reply.get_data(as_text=True)

    assert reply.status_code == 200
    assert reply.mimetype == "text/html"
    for control in ('id="oa"', 'id="user"', 'id="new-user"', 'id="text"', 'id="send"', 'id="follow"', 'id="unfollow"'):
        assert control in page
    for css_class in (".bubble.oa", ".bubble.user", ".chip"):
        assert css_class in page
    assert "Chia sẻ số điện thoại" in page
    assert "textContent" in page
    assert "innerHTML" not in page and "outerHTML" not in page and "insertAdjacentHTML" not in page
    assert "http://" not in page and "https://" not in page  # offline: no external resources


# -- configuration and the real server -----------------------------------------------------------------------
def test_config_from_plain_data() -> None:
    config = SimulatorConfig.from_dict(
        {"webhook_url": "http://x/", "oas": [dict(OA.__dict__)], "templates": {7: ["a"]}}
    )

    assert config.oas == [OA]
    assert config.templates == {"7": ["a"]}
    with pytest.raises(ValueError):
        SimulatorConfig(webhook_url="http://x/", oas=[])
    with pytest.raises(ValueError):
        SimulatorConfig(webhook_url="http://x/", oas=[OA, OA])


def test_serve_keeps_zalos_underscore_headers(webhook: Webhook) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        from bot.zalo_webhook.simulator import SimulatedOA, SimulatorConfig, serve
        oa = SimulatedOA(**{OA.__dict__!r})
        serve(SimulatorConfig(webhook_url={webhook.url!r}, oas=[oa]), "127.0.0.1", {port})
        """
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: answers(f"{base}/_sim/stats"),
            timeout=60,
            what="the simulator to start",
            alive=lambda: server.poll() is None,
            details=lambda: server.stderr.read().decode() if server.poll() is not None and server.stderr else "",
        )
        form = {"refresh_token": OA.refresh_token, "app_id": OA.app_id, "grant_type": "refresh_token"}
        pair = requests.post(f"{base}{OAUTH}", data=form, headers={"secret_key": OA.app_secret}, timeout=5).json()
        sent = requests.post(
            f"{base}{CS}",
            json={"recipient": {"user_id": USER}, "message": {"text": "qua gunicorn"}},
            headers={"access_token": pair["access_token"]},
            timeout=5,
        ).json()
        assert sent["error"] == 0
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_cs_message_is_echoed_to_the_webhook_before_the_send_call_is_answered(
    client: FlaskClient, webhook: Webhook, token: str
) -> None:
    before = len(webhook.received)
    answer = send_cs(client, token, {"text": "Dạ, em chào anh/chị ạ"})
    assert len(webhook.received) == before + 1, "the echo was posted before /cs answered"
    headers, raw, echo = webhook.last()
    assert signed_by(headers, raw, OA.oa_secret_key)
    assert echo["event_name"] == "oa_send_text"
    assert echo["app_id"] == OA.app_id
    assert echo["sender"] == {"id": OA.oa_id}, "the OA is the sender; no admin_id in a real echo"
    assert echo["recipient"] == {"id": USER}
    assert echo["message"] == {"msg_id": answer["data"]["message_id"], "text": "Dạ, em chào anh/chị ạ"}


def test_receipts_name_the_oa_as_sender(client: FlaskClient, webhook: Webhook) -> None:
    chat_event(client, "user_seen_message", msg_ids=["m1", "m2"])
    _, _, seen = webhook.last()
    assert (seen["sender"], seen["recipient"]) == ({"id": OA.oa_id}, {"id": USER})
    assert seen["message"] == {"msg_ids": ["m1", "m2"]}
    chat_event(client, "user_received_message", msg_id="m3")
    _, _, received = webhook.last()
    assert (received["sender"], received["recipient"]) == ({"id": OA.oa_id}, {"id": USER})


def test_a_file_comes_without_text_and_with_its_size_as_a_string(client: FlaskClient, webhook: Webhook) -> None:
    chat_event(client, "user_send_file", name="ket-qua.pdf", size=482113)
    _, _, event = webhook.last()
    assert "text" not in event["message"]
    [attachment] = event["message"]["attachments"]
    assert attachment["type"] == "file"
    assert attachment["payload"]["size"] == "482113" and attachment["payload"]["name"] == "ket-qua.pdf"
