"""Sending through the real client to the Zalo simulator: retries, token refresh, the window, exactly once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
import time_machine
from sqlalchemy import select, update

from bot.zalo_webhook import outbox, workers
from bot.zalo_webhook.messages import Button, OutgoingMessage
from bot.zalo_webhook.models import Conversation, OutboundMessage, ZaloOA
from bot.zalo_webhook.tokens import TokenManager
from core.timeutil import local_to_utc, utcnow
from tests.conftest import opened
from tests.factories import build_world, today_local
from tests.harness import run_together
from tests.zalo_helpers import OA_ID, synced_channel
from tests.zalo_sim import running_simulator, sim_settings


@pytest.fixture(scope="module")
def sim():
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def daytime():
    """The latest 10:00 in Vietnam (the clock running): ZNS is not sent at night, and these tests run at any
    hour. In the past, not the future: the simulator keeps the real time, and a message must not look older
    in its records than in ours."""
    ten = local_to_utc(today_local(), dt.time(10, 0))
    with time_machine.travel(ten if ten <= utcnow() else ten - dt.timedelta(days=1), tick=True):
        yield


# Generous for an answer of the local simulator on a busy machine (a spurious timeout is one more attempt, and a
# resend); a "timeout" fault holds its answer a full second longer than the client waits.
HTTP_TIMEOUT = 1.5
HELD = HTTP_TIMEOUT + 1.0


@pytest.fixture
def channel(db, database_url, sim):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(
        database_url, sim, zalo_http_timeout_seconds=HTTP_TIMEOUT, zalo_rate_limit_per_minute=60_000
    )
    return synced_channel(db, settings, backoff_base=0.01)


def talk(db, user_id: str, *, hours_ago: float = 1.0, phone: str | None = None) -> None:
    """A conversation whose last interaction was ``hours_ago``."""
    with db.uow() as uow:
        uow.session.add(
            Conversation(
                oa_id=OA_ID, user_id=user_id, phone=phone, last_interaction_at=utcnow() - dt.timedelta(hours=hours_ago)
            )
        )
        uow.commit()


def queue(db, user_id: str | None, text: str, *, purpose: str = "reply", key: str | None = None, **kw) -> None:
    with db.uow() as uow:
        outbox.enqueue(
            uow, oa_id=OA_ID, user_id=user_id, message=OutgoingMessage(text, **kw), key=key or text, purpose=purpose
        )
        uow.commit()


def drain(db, channel, *, rounds: int = 400) -> None:
    """Run one sender until nothing is open (retries included)."""
    for _ in range(rounds):
        if workers.sender_step(db, channel.sender, batch=10) == 0:
            with db.reader() as uow:
                open_rows = uow.session.scalar(
                    select(OutboundMessage.id).where(OutboundMessage.status.in_(("pending", "processing"))).limit(1)
                )
            if open_rows is None:
                return
            threading.Event().wait(0.02)
    raise AssertionError("the outbox did not drain")


def rows(db) -> list[OutboundMessage]:
    with db.reader() as uow:
        found = list(uow.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))
        uow.session.expunge_all()
        return found


def delivered_texts(sim, user_id: str) -> list[str]:
    return [m["message"].get("text", "") for m in sim.messages(user_id=user_id, kind="cs")]


def test_a_reply_is_sent_once_with_buttons_and_recorded(db, channel, sim):
    talk(db, "u1")
    queue(db, "u1", "Dạ, chọn khoa ạ", buttons=(Button("Nhi", "/nhi"), Button("Mắt", "/mat")))
    drain(db, channel)
    [message] = sim.messages(user_id="u1")
    assert message["message"]["attachment"]["payload"]["buttons"][1] == {
        "title": "Mắt",
        "type": "oa.query.show",
        "payload": "/mat",
    }
    assert "1. Nhi" in message["message"]["text"], "the numbered menu is always in the text"
    [row] = rows(db)
    assert (row.status, row.channel, row.zalo_message_id) == ("done", "cs", message["message_id"])


def test_with_5xx_and_timeouts_injected_every_message_is_delivered_exactly_once(db, channel, sim):
    users = [f"u{i}" for i in range(6)]
    for user in users:
        talk(db, user)
        for n in range(3):
            queue(db, user, f"tin {n} cho {user}")
    sim.fault("http_500", count=4)
    sim.fault("http_503", count=2)
    sim.fault("timeout", count=2, delay_seconds=HELD)  # never reached Zalo
    sim.fault("timeout", count=2, delay_seconds=HELD, processed=True)  # delivered, but the answer was lost
    drain(db, channel)
    for user in users:
        assert delivered_texts(sim, user) == [f"tin {n} cho {user}" for n in range(3)], "once each, in order"
    assert all(r.status == "done" for r in rows(db))
    assert sim.stats()["faults_fired"] == 10


def test_rate_limited_answers_are_retried(db, channel, sim):
    talk(db, "u1")
    queue(db, "u1", "Dạ, lịch hẹn của anh/chị đã được xác nhận ạ.")
    sim.fault("zalo_-32", count=2)
    drain(db, channel)
    assert delivered_texts(sim, "u1") == ["Dạ, lịch hẹn của anh/chị đã được xác nhận ạ."]
    assert rows(db)[0].attempts == 3


def test_an_invalid_token_leads_to_one_refresh_and_one_resend(db, channel, sim):
    talk(db, "u1")
    queue(db, "u1", "tin một")
    drain(db, channel)  # first token obtained with the configured refresh token
    assert sim.stats()["refresh_calls"] == {OA_ID: 1}
    queue(db, "u1", "tin hai")
    sim.fault("zalo_-216", count=1)  # the current token is revoked
    drain(db, channel)
    assert delivered_texts(sim, "u1") == ["tin một", "tin hai"]
    stats = sim.stats()
    assert stats["refresh_calls"] == {OA_ID: 2} and stats["refresh_token_reuse"] == 0, "each refresh token once"
    with db.reader() as uow:
        oa = uow.session.scalar(select(ZaloOA).where(ZaloOA.oa_id == OA_ID))
    assert oa.refresh_token not in (None, "first-refresh-token"), "the new pair is stored"


def test_two_processes_needing_a_refresh_at_once_make_one_refresh_call(db, database_url, channel, sim):
    def need_token() -> str:
        with opened(database_url) as database:  # its own pool, as another process would have
            return TokenManager(database, channel.client, channel.registry).access_token(OA_ID)

    tokens = run_together(need_token, 2)
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    assert sim.stats()["refresh_calls"] == {OA_ID: 1} and sim.stats()["refresh_token_reuse"] == 0


def test_a_failed_refresh_holds_messages_and_raises_an_alert(db, channel, sim, caplog):
    talk(db, "u1")
    queue(db, "u1", "tin giữ lại")
    with db.uow() as uow:
        uow.session.execute(update(ZaloOA).values(refresh_token="already-used"))
        uow.commit()
    workers.sender_step(db, channel.sender)
    [row] = rows(db)
    assert row.status == "pending" and "refreshing the token" in row.last_error
    assert any("ALERT zalo token refresh failed" in r.message for r in caplog.records)


def test_permanent_errors_stop_with_the_reason(db, channel, sim):
    talk(db, "u1")
    queue(db, "u1", "x" * 100, key="k1")
    sim.fault("zalo_-227", count=1)  # user banned or inactive
    drain(db, channel)
    [row] = rows(db)
    assert row.status == "failed" and "-227" in row.last_error
    assert sim.messages(user_id="u1") == []


def test_a_refused_button_template_falls_back_to_the_numbered_menu(db, channel, sim):
    talk(db, "u1")
    queue(db, "u1", "Dạ, chọn buổi ạ", buttons=(Button("Sáng", "/sang"), Button("Chiều", "/chieu")))
    sim.fault("zalo_-201", count=1)
    drain(db, channel)
    [message] = sim.messages(user_id="u1")
    assert "attachment" not in message["message"] and "2. Chiều" in message["message"]["text"]
    with db.reader() as uow:
        assert uow.session.scalar(select(ZaloOA.buttons_refused)) is True


@pytest.mark.parametrize(
    ("hours_ago", "billed", "phone", "purpose", "expected"),
    [
        (47, False, None, "reply", ("done", "cs")),
        (72, True, None, "reply", ("done", "cs")),
        (72, False, "+84912345678", "reminder", ("done", "zns")),
        (72, False, None, "reminder", ("undeliverable", None)),
        (8 * 24, True, "+84912345678", "reminder", ("done", "zns")),
        (8 * 24, True, None, "reminder", ("undeliverable", None)),
        (8 * 24, True, "+84912345678", "reply", ("undeliverable", None)),  # no template for replies
    ],
    ids=[
        "47h",
        "3d billed",
        "3d not billed, phone",
        "3d not billed, no phone",
        "8d phone",
        "8d no phone",
        "8d no template",
    ],
)
def test_the_window_decides_the_channel(db, database_url, sim, hours_ago, billed, phone, purpose, expected):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(database_url, sim, zalo_allow_billed=billed, zns_templates={"reminder": "tpl-reminder"})
    channel = synced_channel(db, settings, backoff_base=0.01)
    talk(db, "u1", hours_ago=hours_ago, phone=phone)
    queue(db, "u1", "Dạ, nhắc lịch khám ngày mai lúc 7:30 ạ.", purpose=purpose)
    drain(db, channel)
    [row] = rows(db)
    assert (row.status, row.channel if row.status == "done" else None) == expected
    if expected[1] == "zns":
        [zns] = sim.messages(kind="zns")
        assert zns["phone"] == "84912345678" and zns["template_id"] == "tpl-reminder"
        assert zns["tracking_id"] == row.idempotency_key[:48]
    if expected[0] == "undeliverable":
        assert row.last_error and sim.messages() == []


def test_a_closed_window_reported_by_zalo_falls_back_to_zns(db, channel, sim):
    talk(db, "u1", phone="+84912345678")
    queue(db, "u1", "Dạ, nhắc lịch ạ.", purpose="reminder")
    sim.fault("zalo_-230", count=1)
    drain(db, channel)
    [row] = rows(db)
    assert (row.status, row.channel) == ("done", "zns") and len(sim.messages(kind="zns")) == 1


def test_the_rate_limit_is_shared_and_respected(db, database_url, sim):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(database_url, sim, zalo_rate_limit_per_minute=600)  # 10 a second, bursts of 10
    channel = synced_channel(db, settings)
    for i in range(30):
        talk(db, f"r{i}")
        queue(db, f"r{i}", f"tin {i}")
    stop = threading.Event()
    runner = threading.Thread(
        target=workers.run_loops,
        args=(lambda: workers.sender_step(db, channel.sender, batch=5),),
        kwargs={"threads": 4, "stop": stop, "idle_sleep": 0.02},
    )
    runner.start()
    try:
        for _ in range(300):
            if len(sim.messages(kind="cs")) >= 30:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join()
    times = sorted(m["time"] for m in sim.messages(kind="cs"))
    assert len(times) == 30
    # In any one-second window of draws at most the burst (10) plus the second's refill (10) go out. The
    # simulator stamps arrivals, which jitter against the draws on a busy machine: a 0.9 s window of arrivals
    # holds draws at most 1 s apart while the jitter stays under 0.1 s.
    worst = max(sum(1 for t in times if start <= t < start + 900) for start in times)
    assert worst <= 20
    assert times[-1] - times[0] >= 1500, "30 messages at 10 a second after a burst of 10 take about 2 s"


def night_channel(db, database_url, sim):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(database_url, sim, zns_templates={"reminder": "tpl-reminder"})
    return synced_channel(db, settings, backoff_base=0.01)


def queue_reminder(db, useful_until: dt.datetime | None = None) -> None:
    with db.uow() as uow:
        outbox.enqueue(
            uow,
            oa_id=OA_ID,
            user_id="u1",
            message=OutgoingMessage("Dạ, nhắc lịch khám sáng mai ạ."),
            key="night-1",
            purpose="reminder",
            useful_until=useful_until,
        )
        uow.commit()


def test_zns_is_held_through_the_night_until_06_00(db, database_url, sim):
    channel = night_channel(db, database_url, sim)
    tonight = local_to_utc(today_local(), dt.time(23, 0))
    morning = local_to_utc(today_local() + dt.timedelta(days=1), dt.time(6, 0))
    with time_machine.travel(tonight, tick=False):
        talk(db, "u1", hours_ago=8 * 24, phone="+84912345678")  # window closed: ZNS is the route
        queue_reminder(db, useful_until=morning + dt.timedelta(hours=2))
        assert workers.sender_step(db, channel.sender) == 1
    [row] = rows(db)
    assert (row.status, row.next_attempt_at, row.channel) == ("pending", morning, "zns")
    assert "held until 06:00" in row.last_error and sim.messages() == []
    with time_machine.travel(morning - dt.timedelta(minutes=1), tick=False):
        assert workers.sender_step(db, channel.sender) == 0, "not before 06:00"
    with time_machine.travel(morning + dt.timedelta(minutes=1), tick=False):
        drain(db, channel)
    [row] = rows(db)
    assert (row.status, row.channel) == ("done", "zns") and len(sim.messages(kind="zns")) == 1


def test_zns_no_longer_useful_at_06_00_is_dropped_with_the_reason(db, database_url, sim):
    channel = night_channel(db, database_url, sim)
    night = local_to_utc(today_local() + dt.timedelta(days=1), dt.time(3, 0))
    with time_machine.travel(night, tick=False):
        talk(db, "u1", hours_ago=8 * 24, phone="+84912345678")
        queue_reminder(db, useful_until=night + dt.timedelta(hours=2))  # 05:00, before the ban ends
        drain(db, channel)
    [row] = rows(db)
    assert row.status == "undeliverable" and "no longer useful at 06:00" in row.last_error
    assert sim.messages() == []


def test_chat_messages_are_not_held_at_night_but_expire_with_their_use(db, database_url, sim):
    channel = night_channel(db, database_url, sim)
    tonight = local_to_utc(today_local(), dt.time(23, 30))
    with time_machine.travel(tonight, tick=False):
        talk(db, "u1", hours_ago=1)
        queue_reminder(db, useful_until=tonight + dt.timedelta(hours=8))
        drain(db, channel)
        queue(db, "u1", "quá hạn", purpose="reminder", key="late")
        with db.uow() as uow:
            uow.session.execute(
                update(OutboundMessage).where(OutboundMessage.idempotency_key == "late").values(useful_until=tonight)
            )
            uow.commit()
        drain(db, channel)
    sent, late = rows(db)
    assert (sent.status, sent.channel) == ("done", "cs")
    assert late.status == "undeliverable" and "no longer useful" in late.last_error
    assert [m["message"]["text"] for m in sim.messages(kind="cs")] == ["Dạ, nhắc lịch khám sáng mai ạ."]


def test_a_delivered_reminders_buttons_become_the_menu_the_user_answers(db, channel, sim):
    talk(db, "u1")
    with db.uow() as uow:
        conversation = uow.session.scalar(select(Conversation).where(Conversation.user_id == "u1"))
        conversation.last_menu = json.dumps(["/inform_old"])
        uow.commit()
    queue(db, "u1", "Dạ, nhắc lịch ạ.", purpose="reminder", buttons=(Button("Xác nhận sẽ đến", "/confirm_x"),))

    def menu() -> list[str]:
        with db.reader() as uow:
            return json.loads(uow.session.scalar(select(Conversation.last_menu).where(Conversation.user_id == "u1")))

    assert menu() == ["/inform_old"], "not before it is sent"
    drain(db, channel)
    assert menu() == ["/confirm_x"]


def test_a_sender_held_by_the_rate_limit_past_its_lease_does_not_send_a_message_taken_over(db, database_url, sim):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(database_url, sim, zalo_outbox_lease_seconds=1, zalo_rate_limit_per_minute=60_000)
    sender = synced_channel(db, settings, backoff_base=0.01).sender
    talk(db, "u-held")
    queue(db, "u-held", "Dạ, lịch hẹn của anh/chị đã được ghi nhận.")
    with db.uow() as uow:
        (held,) = outbox.claim(uow, limit=1, lease_seconds=1)
    taken_over = []

    def slow_rate_limit(_app_id, _sleep):  # the limiter keeps this sender past its lease; another claims it
        time.sleep(1.2)
        with db.uow() as uow:
            taken_over.extend(outbox.claim(uow, limit=1, lease_seconds=60))

    sender.limiter.take = slow_rate_limit  # type: ignore[method-assign]
    assert sender.deliver(held) == "pending", "given back, not sent"
    assert taken_over and delivered_texts(sim, "u-held") == [], "only the sender holding it now may send it"
