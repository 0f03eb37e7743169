"""Rasa's check of action server responses, with the validator kept (bot/rasa_server.py): the same verdicts
and the same errors as Rasa's own ``RemoteAction._validate_action_result``."""

from __future__ import annotations

import json

from tests.rasa_env import run_in_rasa

CHECK = r"""
import json
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from bot import rasa_server

responses = json.loads(input())
original = RemoteAction._validate_action_result
action = RemoteAction("action_x", None)

def verdict(check):
    out = []
    for response in responses:
        try:
            out.append(["valid", check(action, response)])
        except ValidationError as error:
            out.append(["invalid", error.message])
    return out

before = verdict(original)
rasa_server.install()
after = verdict(RemoteAction._validate_action_result)
print(json.dumps({"before": before, "after": after, "patched": RemoteAction._validate_action_result is not original}))
"""

RESPONSES = [
    {"events": [{"event": "slot", "name": "department", "value": "nhi"}], "responses": [{"text": "Dạ"}]},
    {"events": [], "responses": []},
    {"events": [{"event": "form", "name": None}], "responses": [{"text": "x", "buttons": []}]},
    {"events": "not a list", "responses": []},
    {"events": [{"name": "no event key"}], "responses": []},
    {"events": [], "responses": ["not an object"]},
    {"events": [{"event": "slot", "name": 3}], "responses": []},
]


def test_the_kept_validator_accepts_and_refuses_exactly_as_rasa_does() -> None:
    result = json.loads(run_in_rasa(CHECK, stdin=json.dumps(RESPONSES)))
    assert result["patched"], "install() replaces Rasa's check"
    assert result["after"] == result["before"]
    verdicts = [v for v, _ in result["after"]]
    assert verdicts[:3] == ["valid"] * 3 and verdicts[3:6] == ["invalid"] * 3
    assert all("Failed to validate Action server response" in m for v, m in result["after"] if v == "invalid")


FAILED_CALL = r"""
import json
from rasa.utils import endpoints
from bot import rasa_guard

original = endpoints.ClientResponseError
rasa_guard.install()
body = json.dumps({"error": "x", "request_body": {"slots": {"phone": "0912345678"}}})
error = endpoints.ClientResponseError(500, "Internal Server Error", body)
print(json.dumps({"str": str(error), "text": error.text, "caught": isinstance(error, original)}))
"""


def test_a_failed_action_call_is_logged_by_rasa_without_the_action_servers_body() -> None:
    result = json.loads(run_in_rasa(FAILED_CALL))
    assert result["str"] == "500, Internal Server Error" and "0912345678" not in result["str"]
    assert "0912345678" in result["text"], "Rasa's handling of a rejected action still reads the body"
    assert result["caught"], "Rasa's `except ClientResponseError` still catches it"
