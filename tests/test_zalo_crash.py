"""SIGKILL a worker or a sender mid-batch, start another: every message is delivered exactly once.

Real processes (``henkham zalo worker`` / ``henkham zalo sender``) on PostgreSQL, the Zalo simulator as the
far side, a stand-in for Rasa over HTTP. Leases are short so the restarted process takes over quickly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask, request
from sqlalchemy import func, select

from bot.zalo_webhook import inbox, outbox
from bot.zalo_webhook.events import parse
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, InboundEvent, OutboundMessage
from bot.zalo_webhook.oas import OARegistry
from core.timeutil import utcnow
from tests.factories import build_world, today_local
from tests.harness import serving_app, stop_process, wait_until
from tests.zalo_helpers import APP_ID, APP_SECRET, OA_ID, SECRET, text_event, zalo_settings
from tests.zalo_sim import running_simulator

HENKHAM = Path(sys.executable).parent / "henkham"


pytestmark = pytest.mark.postgres_only(
    "several worker processes are shown on PostgreSQL; SQLite runs one writer at a time"
)


@pytest.fixture
def sim():
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture
def fake_rasa():
    """Rasa's REST channel, answering each message after a short think (widens the window for a kill)."""
    app = Flask("fake-rasa")

    @app.post("/webhooks/rest/webhook")
    def reply():
        body = request.get_json()
        time.sleep(0.02)
        return json.dumps([{"recipient_id": body["sender"], "text": f"Dạ, em đã nhận: {body['message']}"}])

    with serving_app(app) as url:
        yield url


def environment(database_url: str, sim, rasa_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    oas = [
        {
            "oa_id": OA_ID,
            "app_id": APP_ID,
            "hospital": "test",
            "oa_secret_key": SECRET,
            "app_secret": APP_SECRET,
            "refresh_token": "first-refresh-token",
        }
    ]
    return {
        **os.environ,
        "HENKHAM_DATABASE_URL": database_url,
        "HENKHAM_ZALO_OAS": json.dumps(oas),
        "HENKHAM_ZALO_API_BASE": sim.base,
        "HENKHAM_ZALO_ZNS_BASE": sim.base,
        "HENKHAM_ZALO_OAUTH_BASE": sim.base,
        "HENKHAM_ZALO_RATE_LIMIT_PER_MINUTE": "60000",
        "HENKHAM_ZALO_INBOX_LEASE_SECONDS": "3",
        "HENKHAM_ZALO_OUTBOX_LEASE_SECONDS": "3",
        "HENKHAM_RASA_URL": rasa_url,
    }


def start(role: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [HENKHAM, "zalo", role, "--threads", "4"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_for(condition, what: str, process: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    alive = (lambda: process.poll() is None) if process else None
    wait_until(condition, timeout=timeout, what=what, alive=alive)


def count(db, model, *conditions) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*conditions))


def prepare(db, database_url: str) -> None:
    build_world(db, start=today_local(), days=1)
    with db.uow() as uow:
        OARegistry(zalo_settings(database_url)).sync(uow)


def stop(process: subprocess.Popen) -> None:
    stop_process(process, timeout=10)


def test_a_sender_killed_mid_batch_and_restarted_delivers_each_message_once(db, database_url, sim):
    prepare(db, database_url)
    users = [f"s{i}" for i in range(30)]
    with db.uow() as uow:
        for user in users:
            uow.session.add(Conversation(oa_id=OA_ID, user_id=user, last_interaction_at=utcnow()))
            for n in range(8):
                outbox.enqueue(
                    uow, oa_id=OA_ID, user_id=user, message=OutgoingMessage(f"{user} tin {n}"), key=f"{user}:{n}"
                )
        uow.commit()
    # Slow answers after Zalo has recorded the message: a kill then lands between sending and recording.
    sim.fault("timeout", rate=0.3, delay_seconds=0.3, processed=True)
    env = environment(database_url, sim)
    first = start("sender", env)
    try:
        # Killed while messages are in flight (claimed, not yet recorded as sent): the case being shown.
        wait_for(
            lambda: (
                len(sim.messages(kind="cs")) >= 60
                and count(db, OutboundMessage, OutboundMessage.status == "processing") > 0
            ),
            "60 messages sent and more in flight",
            first,
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    in_flight = count(db, OutboundMessage, OutboundMessage.status == "processing")
    second = start("sender", env)
    try:
        wait_for(
            lambda: count(db, OutboundMessage, OutboundMessage.status != "done") == 0,
            "every message delivered",
            second,
            timeout=120,
        )
    finally:
        stop(second)
    delivered = [m["message"]["text"] for m in sim.messages(kind="cs")]
    expected = [f"{user} tin {n}" for user in users for n in range(8)]
    assert sorted(delivered) == sorted(expected), "every message exactly once"
    for user in users:
        assert [t for t in delivered if t.startswith(f"{user} ")] == [f"{user} tin {n}" for n in range(8)]
    assert in_flight > 0, "the kill landed while messages were in flight"


def test_a_worker_killed_mid_batch_and_restarted_answers_each_event_once(db, database_url, sim, fake_rasa):
    prepare(db, database_url)
    users = [f"w{i}" for i in range(20)]
    with db.uow() as uow:
        for n in range(6):
            for user in users:
                raw = json.dumps(text_event(user, f"{user} hỏi {n}")).encode()
                inbox.store(uow, parse(raw)[0], raw)
    env = environment(database_url, sim, rasa_url=fake_rasa)
    sender = start("sender", env)
    worker = start("worker", env)
    try:
        wait_for(
            lambda: (
                count(db, InboundEvent, InboundEvent.status == "done") >= 30
                and count(db, InboundEvent, InboundEvent.status == "processing") > 0
            ),
            "30 events answered and more being handled",
            worker,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        in_flight = count(db, InboundEvent, InboundEvent.status == "processing")
        worker = start("worker", env)
        wait_for(
            lambda: count(db, InboundEvent, InboundEvent.status != "done") == 0, "every event handled", worker, 120
        )
        wait_for(
            lambda: count(db, OutboundMessage, OutboundMessage.status != "done") == 0,
            "every answer delivered",
            sender,
            120,
        )
    finally:
        stop(worker)
        stop(sender)
    delivered = [m["message"]["text"] for m in sim.messages(kind="cs")]
    expected = [f"Dạ, em đã nhận: {user} hỏi {n}" for user in users for n in range(6)]
    assert sorted(delivered) == sorted(expected), "one answer per event, none lost, none twice"
    for user in users:
        mine = [t for t in delivered if f" {user} hỏi" in t]
        assert mine == [f"Dạ, em đã nhận: {user} hỏi {n}" for n in range(6)], "in the order the user wrote"
    assert in_flight > 0, "the kill landed while events were being handled"
