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
