"""A lost database connection (a restart, a cut: pg_terminate_backend) costs no patient message: the webhook
stores the event on a new connection instead of answering Zalo 500, and an action whose connection was cut under
it runs again instead of leaving the patient with "the assistant could not handle this"."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from bot import action_server
from bot.zalo_webhook import inbox
from bot.zalo_webhook.models import InboundEvent
from core.db import is_disconnect
from henkham.web import create_app
from tests.zalo_helpers import signed, text_event, zalo_settings


def cut() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("terminating connection"), connection_invalidated=True)


def test_what_counts_as_a_lost_connection():
    assert is_disconnect(cut())
    assert not is_disconnect(OperationalError("SELECT 1", {}, Exception("lock timeout")))
    assert not is_disconnect(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not is_disconnect(ValueError("x"))


def test_the_webhook_stores_the_event_on_a_new_connection(db, database_url, monkeypatch):
    real, calls = inbox.store, []

    def flaky(uow, event, raw, now=None):
        calls.append(1)
        if len(calls) == 1:
            raise cut()
        return real(uow, event, raw, now)

    monkeypatch.setattr(inbox, "store", flaky)
    client = create_app(zalo_settings(database_url), database=db).test_client()
    raw, headers = signed(text_event("cut-1", "đặt lịch"))
    response = client.post("/zalo/webhook", data=raw, headers=headers)
    assert response.status_code == 200 and response.get_json()["duplicate"] is False
    with db.reader() as uow:
        assert uow.session.scalars(select(InboundEvent.user_id)).all() == ["cut-1"]
    assert len(calls) == 2


class Executor:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures, self.runs = failures, 0

    async def run(self, call):
        self.runs += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"events": [], "responses": [{"text": "Dạ"}]}


def test_an_action_cut_off_from_the_database_runs_again_once():
    executor = Executor([cut()])
    assert asyncio.run(action_server._run(executor, {"next_action": "validate_booking_form"}))["responses"]
    assert executor.runs == 2
    twice = Executor([cut(), cut()])
    with pytest.raises(OperationalError):
        asyncio.run(action_server._run(twice, {"next_action": "x"}))
    other = Executor([ValueError("a bug")])
    with pytest.raises(ValueError):
        asyncio.run(action_server._run(other, {"next_action": "x"}))
    assert other.runs == 1, "only a lost connection is tried again"
