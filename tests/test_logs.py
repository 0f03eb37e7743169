"""Structured logs (henkham/logs.py) with the correlation id of the Zalo event (core/correlation.py) through the
processes: the webhook, the worker (and what it sends Rasa), the action server, the sender."""

from __future__ import annotations

import json
import logging

import pytest

from bot.action_server import correlation_of
from bot.zalo_webhook import workers
from core.correlation import CURRENT, correlated, of_event, of_outbox_key
from henkham import logs
from henkham.web import create_app
from tests.zalo_helpers import ScriptedBot, signed, synced_channel, text_event, zalo_settings


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_the_role_and_correlation_id_and_no_identifiers(capsys, restore_logging):
    logs.configure("worker", "json")
    log = logging.getLogger("henkham.test")
    with correlated("zalo-42"):
        log.info("patient phone %s", "0912345678")
        try:
            raise ValueError("CCCD 012345678901 refused")
        except ValueError:
            log.exception("failed for 0987654321")
    log.warning("outside any event")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["correlation_id"] for line in lines] == ["zalo-42", "zalo-42", "-"]
    assert {line["role"] for line in lines} == {"worker"} and lines[0]["level"] == "INFO"
    text = json.dumps(lines, ensure_ascii=False)
    assert "0912345678" not in text and "012345678901" not in text and "0987654321" not in text
    assert "ValueError" in lines[1]["exc_info"], "the traceback is kept, masked"


def test_text_lines_show_the_correlation_id(capsys, restore_logging):
    logs.configure("sender", "text")
    with correlated(of_outbox_key("in:77:0")):
        logging.getLogger("x").info("sent")
    assert " sender INFO x [zalo-77]: sent" in capsys.readouterr().err


def test_ids_follow_the_event_from_webhook_to_reply():
    assert of_event(5) == "zalo-5"
    assert of_outbox_key("in:5:2") == "zalo-5", "a reply carries its event's id"
    assert of_outbox_key("reminder:123:24h") == "reminder:123:24h"
    assert of_outbox_key("bad key\n with spaces") == ""
    call = {"tracker": {"latest_message": {"metadata": {"message_id": "zalo-5"}}}}
    assert correlation_of(call) == "zalo-5"
    assert correlation_of({"tracker": {"latest_message": {"metadata": {"message_id": "x\ny"}}}}) == ""
    assert correlation_of({"tracker": None}) == ""


def test_the_worker_handles_each_event_under_its_id_and_tells_rasa(db, database_url, world):
    seen: list[str] = []

    class Recording(ScriptedBot):
        def reply(self, sender_id, text, metadata):
            seen.append(CURRENT.get())
            return super().reply(sender_id, text, metadata)

    bot = Recording()
    channel = synced_channel(db, zalo_settings(database_url), bot)
    client = create_app(channel.settings, database=db).test_client()
    raw, headers = signed(text_event("log-1", "xin chào"))
    client.post("/zalo/webhook", data=raw, headers=headers)
    while workers.inbox_step(db, channel.processor):
        pass
    [message_id] = [m["message_id"] for m in bot.metadata]
    assert seen == [message_id] and message_id.startswith("zalo-")
    assert CURRENT.get() == "", "nothing leaks to the next event"
