"""Odd replies from Zalo's API: the client answers with its own errors (retried, or looked up in doubt),
never with a KeyError or ValueError that would leave a delivered message unrecorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from bot.zalo_webhook.client import ZaloApiError, ZaloClient, ZaloTransportError
from bot.zalo_webhook.messages import OutgoingMessage


class Canned(BaseAdapter):
    """Answers every request with one JSON body (HTTP 200)."""

    def __init__(self, reply: Any) -> None:
        super().__init__()
        self.reply = reply

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.reply).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        pass


def client_answering(reply: Any) -> ZaloClient:
    session = requests.Session()
    session.mount("http://", Canned(reply))
    return ZaloClient(
        api_base="http://zalo.test", zns_base="http://zalo.test", oauth_base="http://zalo.test", session=session
    )


@pytest.mark.parametrize(
    "reply",
    [
        {"error": 0, "message": "Success"},
        {"error": 0, "message": "Success", "data": None},
        {"error": 0, "message": "Success", "data": {"message_id": None}},
        {"error": 0, "message": "Success", "data": {"message_id": {"id": 1}}},
        {"error": 0, "message": "Success", "data": {"message_id": "x" * 65}},
    ],
    ids=["no data", "null data", "null id", "object id", "65-char id"],
)
def test_a_send_accepted_without_a_usable_message_id_is_in_doubt(reply):
    client = client_answering(reply)
    with pytest.raises(ZaloTransportError):
        client.send_message("token", "u1", OutgoingMessage("Dạ, em chào anh/chị ạ."))
    with pytest.raises(ZaloTransportError):
        client.send_zns("token", "+84912345678", "tpl", {"noi_dung": "x"}, "k1")


@pytest.mark.parametrize("code", ["oops", None, [1], "-216"])
def test_error_codes_that_are_not_numbers_are_zalo_errors(code):
    with pytest.raises(ZaloApiError) as raised:
        client_answering({"error": code, "message": "?"}).send_message("token", "u1", OutgoingMessage("a"))
    assert raised.value.code == (-216 if code == "-216" else -1)


@pytest.mark.parametrize(
    ("reply", "expires_in"),
    [
        ({"access_token": "a", "refresh_token": "r", "expires_in": "90000"}, 90000),
        ({"access_token": "a", "refresh_token": "r", "expires_in": "soon"}, 90000),
        ({"access_token": "a", "refresh_token": "r"}, 90000),
    ],
)
def test_token_replies_with_odd_expiry(reply, expires_in):
    pair = client_answering(reply).refresh_token("app", "secret", "old")
    assert (pair.access_token, pair.refresh_token, pair.expires_in) == ("a", "r", expires_in)


@pytest.mark.parametrize(
    "reply", [{"access_token": "a"}, {"access_token": "a", "refresh_token": None}, {"error": "x", "error_name": "bad"}]
)
def test_a_token_reply_without_both_tokens_is_a_zalo_error(reply):
    with pytest.raises(ZaloApiError):
        client_answering(reply).refresh_token("app", "secret", "old")
