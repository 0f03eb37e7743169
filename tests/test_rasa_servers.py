"""The worker's client of several Rasa servers (bot/zalo_webhook/rasa_bridge.py): each user on one server,
the next one when it cannot be reached, a lost answer asked again marked as a retry."""

from __future__ import annotations

import collections
import json

import pytest
from werkzeug.wrappers import Request, Response

from bot.zalo_webhook.rasa_bridge import BotUnavailable, NoRasaServer, RasaBot, servers_for
from tests.harness import free_port, serving_app


def rasa_stub(name: str, seen: list, status: int = 200):
    """A Rasa REST channel that answers with its own name and records what it was sent (tests only)."""

    @Request.application
    def app(request: Request) -> Response:
        body = json.loads(request.get_data() or b"null")
        seen.append((name, request.path, body))
        if status != 200:
            return Response("busy", status=status)
        if isinstance(body, list):  # the tracker events of a resume
            return Response("{}", content_type="application/json")
        answer = [{"recipient_id": body.get("sender"), "text": f"{name}: {body.get('message')}"}]
        return Response(json.dumps(answer), content_type="application/json")

    return serving_app(app)


def test_each_user_stays_on_one_server_and_users_spread_over_all():
    servers = [f"http://10.0.0.{i}:5005" for i in range(1, 4)]
    users = [f"oa:{n}" for n in range(3000)]
    first = collections.Counter(servers_for(user, servers)[0] for user in users)
    assert set(first) == set(servers) and min(first.values()) > 800, first
    assert all(servers_for(u, servers) == servers_for(u, list(reversed(servers))) for u in users[:50])
    # A stopped server's users move to the others; everybody else's stay where they were.
    without = servers[1:]
    moved = [u for u in users if servers_for(u, servers)[0] != servers_for(u, without)[0]]
    assert all(servers_for(u, servers)[0] == servers[0] for u in moved)


def test_a_refused_server_is_skipped_and_the_user_answered_by_the_next():
    seen: list = []
    with rasa_stub("b", seen) as live:
        dead = f"http://127.0.0.1:{free_port()}"
        bot = RasaBot(f"{dead},{live}", timeout=2)
        users = [f"oa:{n}" for n in range(12)]
        for user in users:
            [reply] = bot.reply(user, "chào", {"message_id": f"zalo-{user}", "retry": False})
            assert reply.text == "b: chào"
    assert len(seen) == len(users), "each message reached the live server once"
    tried_dead_first = [body for _, _, body in seen if servers_for(body["sender"], [dead, live])[0] == dead]
    # The refused server is tried last for a while: after the first failure nobody waits on it.
    assert sum(1 for body in tried_dead_first if body["metadata"]["retry"]) == 1
    assert all(body["metadata"]["message_id"] == f"zalo-{body['sender']}" for _, _, body in seen)


def test_a_proxy_answering_503_for_a_stopped_server_moves_on(tmp_path):
    seen: list = []
    with rasa_stub("a", seen, status=503) as busy, rasa_stub("b", seen) as live:
        bot = RasaBot(f"{busy},{live}", timeout=2)
        user = next(u for u in (f"oa:{n}" for n in range(100)) if servers_for(u, [busy, live])[0] == busy)
        [reply] = bot.reply(user, "đặt lịch", {})
    assert reply.text == "b: đặt lịch"
    assert [(name, body["metadata"].get("retry")) for name, _, body in seen] == [("a", None), ("b", True)]


def test_no_server_reachable_is_told_apart_from_an_error_answer():
    with pytest.raises(NoRasaServer) as unreachable:
        RasaBot(f"http://127.0.0.1:{free_port()},http://127.0.0.1:{free_port()}", timeout=1).reply("u", "x", {})
    assert "ConnectionError" in str(unreachable.value) and "127.0.0.1" not in str(unreachable.value)
    seen: list = []
    with rasa_stub("a", seen, status=500) as failing, pytest.raises(BotUnavailable) as error:
        RasaBot(failing, timeout=1).reply("u", "x", {})
    assert not isinstance(error.value, NoRasaServer) and "HTTP 500" in str(error.value)


def test_hand_back_resumes_on_a_server_that_is_up():
    seen: list = []
    with rasa_stub("b", seen) as live:
        RasaBot(f"http://127.0.0.1:{free_port()},{live}", timeout=1, token="t").resume("oa:u1")
    [(_name, path, body)] = seen
    assert path == "/conversations/oa:u1/tracker/events" and body[0] == {"event": "resume"}
