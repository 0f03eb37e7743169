"""Staff replies told from our own messages by the message id, through the real sender and the simulator.

The simulator echoes every /cs message to our webhook as ``oa_send_text`` before it answers the send call,
as Zalo may: the echo can be in the inbox before the sender has recorded the id Zalo gave it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from bot.zalo_webhook import echoes, inbox, outbox, workers
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, InboundEvent, OutboundMessage
from core.timeutil import utcnow
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.harness import serving_app
from tests.zalo_helpers import OA_ID, ScriptedBot, signed, synced_channel, text_event
from tests.zalo_sim import running_simulator, sim_settings

USER = "246845883529197922"


class Dispatch:
    """A WSGI server started once for the module, serving whichever test's app is current."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def web() -> Iterator[tuple[Dispatch, str]]:
    dispatch = Dispatch()
    with serving_app(dispatch) as base:
        yield dispatch, f"{base}/zalo/webhook"


@pytest.fixture(scope="module")
def sim(web):
    with running_simulator(web[1]) as simulator:
        yield simulator


HTTP_TIMEOUT = 1.5  # generous for the local simulator's answers on a busy machine


@pytest.fixture
def bot():
    return ScriptedBot()


@pytest.fixture
def channel(db, database_url, sim, web, bot):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(
        database_url, sim, zalo_http_timeout_seconds=HTTP_TIMEOUT, zalo_rate_limit_per_minute=60_000
    )
    channel = synced_channel(db, settings, bot, backoff_base=0.01)
    web[0].app = create_app(settings, database=db)
    with db.uow() as uow:  # the user wrote an hour ago: the chat window is open
        uow.session.add(Conversation(oa_id=OA_ID, user_id=USER, last_interaction_at=utcnow() - dt.timedelta(hours=1)))
        outbox.enqueue(uow, oa_id=OA_ID, user_id=USER, message=OutgoingMessage("Dạ, em chào anh/chị ạ."), key="r1")
        uow.commit()
    return channel


def mode(db) -> str:
    with db.reader() as uow:
        return uow.session.scalar(select(Conversation.mode).where(Conversation.user_id == USER))


def stored_echoes(db) -> list[InboundEvent]:
    with db.reader() as uow:
        rows = list(uow.session.scalars(select(InboundEvent).where(InboundEvent.event_name == "oa_send_text")))
        uow.session.expunge_all()
        return rows


def sent_id(db) -> str | None:
    with db.reader() as uow:
        return uow.session.scalar(
            select(OutboundMessage.zalo_message_id).where(OutboundMessage.idempotency_key == "r1")
        )


def handle_next(db, channel, now: dt.datetime | None = None) -> str | None:
    """Claim the next inbox event (as of ``now``) and handle it; its outcome, or None when none is due."""
    with db.uow() as uow:
        claims = inbox.claim(uow, now=now)
    return channel.processor.handle(claims[0], now=now) if claims else None


def drain_sender(db, channel) -> None:
    done = threading.Event()
    for _ in range(400):
        workers.sender_step(db, channel.sender, batch=10)
        with db.reader() as uow:
            status = uow.session.scalar(select(OutboundMessage.status).where(OutboundMessage.idempotency_key == "r1"))
        if status not in ("pending", "processing"):
            return
        done.wait(0.02)  # the retry's backoff (0.01 s base)
    raise AssertionError("the message was not settled")


def test_our_echo_handled_after_the_send_returned_changes_nothing(db, channel, sim):
    assert workers.sender_step(db, channel.sender) == 1
    [echo] = stored_echoes(db)
    assert sent_id(db) and sent_id(db) in echo.payload, "the echo carries the id the send call got back"
    assert handle_next(db, channel) == "own_echo"
    assert mode(db) == "bot"


def test_our_echo_handled_while_the_send_is_in_flight_is_put_back_and_changes_nothing(db, channel, sim):
    real_send = channel.sender.client.send_message
    during: list[tuple[str | None, str, str | None]] = []

    def send_then_race(*args, **kwargs):
        message_id = real_send(*args, **kwargs)  # Zalo has answered; the sender has not recorded the id yet
        assert len(stored_echoes(db)) == 1, "the simulator posted the echo before answering"
        during.append((handle_next(db, channel), mode(db), sent_id(db)))
        return message_id

    channel.sender.client.send_message = send_then_race
    channel.processor.echo_settle_seconds = 0.0  # no brief wait: straight to putting the echo back
    assert workers.sender_step(db, channel.sender) == 1
    assert during == [("deferred", "bot", None)], "judged while in flight, it waits instead of pausing"
    assert stored_echoes(db)[0].attempts == 0, "waiting does not count towards giving up"
    assert handle_next(db, channel) is None, "the deferred echo is not claimed again at once"
    later = utcnow() + dt.timedelta(seconds=5)
    assert handle_next(db, channel, now=later) == "own_echo"
    assert mode(db) == "bot"


def test_a_worker_waits_briefly_for_the_send_in_flight_and_then_knows_the_echo_is_ours(db, channel, sim, monkeypatch):
    real_send, real_wait = channel.sender.client.send_message, echoes.wait_for_send
    echo_stored, worker_waiting, go = threading.Event(), threading.Event(), threading.Event()

    def send_and_hold(*args, **kwargs):
        message_id = real_send(*args, **kwargs)
        echo_stored.set()
        assert go.wait(30), "the test never let the sender go on"
        return message_id

    def waiting(*args, **kwargs):
        worker_waiting.set()
        return real_wait(*args, **kwargs)

    channel.sender.client.send_message = send_and_hold
    channel.processor.echo_settle_seconds = 30.0
    monkeypatch.setattr(echoes, "wait_for_send", waiting)
    sender = threading.Thread(target=workers.sender_step, args=(db, channel.sender))
    sender.start()
    assert echo_stored.wait(30)
    outcome: list[str | None] = []
    worker = threading.Thread(target=lambda: outcome.append(handle_next(db, channel)))
    worker.start()
    assert worker_waiting.wait(30), "the worker saw the send in flight"
    assert mode(db) == "bot" and outcome == []
    go.set()  # the send call returns and the sender records the id
    sender.join(30)
    worker.join(30)
    assert outcome == ["own_echo"] and mode(db) == "bot"


def test_our_echo_of_a_send_in_doubt_waits_for_the_look_up_and_changes_nothing(db, channel, sim):
    """The send timed out after Zalo delivered (and echoed) it: the id is learnt from the look-up."""
    sim.fault("timeout", delay_seconds=HTTP_TIMEOUT + 1.0, processed=True)  # held past the client's timeout
    assert workers.sender_step(db, channel.sender) == 1
    assert sent_id(db) is None and len(stored_echoes(db)) == 1
    assert handle_next(db, channel) == "deferred"
    drain_sender(db, channel)  # the retry finds the message in the conversation and records its id
    assert sent_id(db) is not None
    assert handle_next(db, channel, now=utcnow() + dt.timedelta(seconds=5)) == "own_echo"
    assert mode(db) == "bot"
    assert len(sim.messages(user_id=USER, kind="cs")) == 1, "sent once"


def test_a_staff_reply_from_the_oa_inbox_pauses_the_assistant(db, channel, sim, bot):
    assert workers.sender_step(db, channel.sender) == 1
    assert handle_next(db, channel) == "own_echo"
    reply = sim.http.post(
        f"{sim.base}/_sim/chat/staff-reply", json={"oa_id": OA_ID, "user_id": USER, "text": "Dạ, chị chờ em chút ạ"}
    )
    assert reply.status_code == 200 and reply.json()["status"] == 200, reply.text
    assert "admin_id" not in reply.json()["event"]["sender"]
    assert handle_next(db, channel) == "staff_replied"
    assert mode(db) == "human"
    client = web_client(channel, db)
    raw, headers = signed(text_event(USER, "cho em hỏi thêm"))
    assert client.post("/zalo/webhook", data=raw, headers=headers).status_code == 200
    assert handle_next(db, channel) == "human_mode"
    assert bot.calls == []


def web_client(channel, db):
    return create_app(channel.settings, database=db).test_client()


def test_a_card_without_text_sent_in_doubt_is_found_not_sent_twice_and_its_echo_is_ours(db, channel, sim):
    """The phone-request card has no text to find it by: the look-up takes the OA's card sent after it was queued
    (whose id no other message of ours holds) instead of sending it again, and its echo does not look like a
    staff reply."""
    card = OutgoingMessage("", request_phone=True)
    with db.uow() as uow:
        uow.session.execute(
            update(OutboundMessage).where(OutboundMessage.idempotency_key == "r1").values(body=card.to_json())
        )
        uow.commit()
    sim.fault("timeout", delay_seconds=HTTP_TIMEOUT + 1.0, processed=True)  # Zalo took it; the answer was lost
    assert workers.sender_step(db, channel.sender) == 1
    assert sent_id(db) is None
    assert handle_next(db, channel) == "deferred"
    drain_sender(db, channel)
    assert sent_id(db) is not None
    assert handle_next(db, channel, now=utcnow() + dt.timedelta(seconds=5)) == "own_echo"
    assert mode(db) == "bot"
    assert len(sim.messages(user_id=USER, kind="cs")) == 1, "sent once"
