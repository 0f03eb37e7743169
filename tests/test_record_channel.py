"""The Zalo side of record access in chat, through the real sender and client to the Zalo simulator: a one-time
code goes by ZNS to the phone only (even while the chat window is open), is not held by the night ban, is
undeliverable with the reason on an OA without an ``otp`` template, and leaves no copy of itself in the outbox;
a "results are ready" notice carries no health data and the button that opens the visit."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
import time_machine
from sqlalchemy import select

from bot.actions import context
from bot.zalo_webhook import outbox, workers
from bot.zalo_webhook.accounts import PROVIDER, account_key
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, OutboundMessage
from bot.zalo_webhook.record_channel import ZaloCodeSender, ZaloResultNotifier
from bot.zalo_webhook.window import choose_route
from core.booking import patients
from core.config import Settings
from core.emr.result_notices import ResultNotice
from core.timeutil import local_to_utc, utcnow
from henkham import bootstrap
from tests.factories import build_world, today_local
from tests.zalo_helpers import (
    OA_ID,
    RECORD_SIM_TEMPLATES,
    RECORD_ZNS_TEMPLATES,
    SIMULATED_OA,
    latest_otp,
    synced_channel,
)
from tests.zalo_sim import Simulator, sim_settings, simulator_process

PHONE = "+84912345678"
USER = "u-record"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    log = tmp_path_factory.mktemp("sim") / "simulator.log"
    with simulator_process(
        "http://127.0.0.1:9/zalo/webhook", [SIMULATED_OA], log, templates=RECORD_SIM_TEMPLATES
    ) as base:
        yield Simulator(base)


@pytest.fixture(autouse=True)
def daytime():
    """10:00 in Vietnam (in the past: the simulator keeps the real time), the clock running."""
    ten = local_to_utc(today_local(), dt.time(10, 0))
    with time_machine.travel(ten if ten <= utcnow() else ten - dt.timedelta(days=1), tick=True):
        yield


def channel_for(db, database_url, sim, templates=RECORD_ZNS_TEMPLATES):
    sim.reset()
    build_world(db, start=today_local(), days=1)
    settings = sim_settings(database_url, sim, zns_templates=dict(templates), zalo_rate_limit_per_minute=60_000)
    return synced_channel(db, settings, backoff_base=0.01)


def chatting(db, *, hours_ago: float = 1.0) -> int:
    """The Zalo user's account, their conversation last active ``hours_ago`` (phone shared)."""
    with db.uow() as uow:
        uow.session.add(
            Conversation(
                oa_id=OA_ID, user_id=USER, phone=PHONE, last_interaction_at=utcnow() - dt.timedelta(hours=hours_ago)
            )
        )
        account_id = patients.get_or_create_account(uow, PROVIDER, account_key(OA_ID, USER))
        uow.commit()
    return account_id


def send_code(db, account_id: int, code: str = "482913") -> None:
    now = utcnow()
    with db.uow() as uow:
        ZaloCodeSender().send_code(
            uow, account_id=account_id, phone=PHONE, code=code, expires_at=now + dt.timedelta(minutes=5), now=now
        )
        uow.commit()


def drain(db, channel, *, rounds: int = 200) -> None:
    for _ in range(rounds):
        if workers.sender_step(db, channel.sender, batch=10) == 0:
            with db.reader() as uow:
                busy = uow.session.scalar(
                    select(OutboundMessage.id)
                    .where(OutboundMessage.status == "pending", OutboundMessage.next_attempt_at <= utcnow())
                    .limit(1)
                )
            if busy is None:
                return
        threading.Event().wait(0.02)
    raise AssertionError("the outbox did not drain")


def otp_row(db) -> OutboundMessage:
    with db.reader() as uow:
        row = uow.session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "otp")).one()
        uow.session.expunge_all()
    return row


def test_a_code_goes_by_zns_to_the_phone_even_while_the_chat_window_is_open(db, database_url, sim):
    channel = channel_for(db, database_url, sim)
    account_id = chatting(db, hours_ago=1)  # a chat message could reach the user right now
    send_code(db, account_id, "482913")
    drain(db, channel)
    assert latest_otp(sim, PHONE) == "482913"
    [zns] = sim.messages(kind="zns")
    assert (zns["phone"], zns["template_id"], zns["template_data"]) == ("84912345678", "tpl-otp", {"otp": "482913"})
    assert sim.messages(kind="cs") == [], "nothing in the chat"
    row = otp_row(db)
    assert (row.status, row.channel, row.user_id) == ("done", "zns", None)
    assert "482913" not in row.body, "the outbox keeps no copy of the code once it is sent"


def test_a_code_is_not_held_at_night(db, database_url, sim):
    channel = channel_for(db, database_url, sim)
    tonight = local_to_utc(today_local(), dt.time(23, 30))
    with time_machine.travel(tonight, tick=True):
        account_id = chatting(db, hours_ago=8 * 24)  # window closed too: ZNS either way
        send_code(db, account_id, "105577")
        drain(db, channel)
    assert latest_otp(sim, PHONE) == "105577", "sent at 23:30, not held until 06:00"
    assert otp_row(db).status == "done"


def test_reminders_are_still_held_at_night_while_a_code_goes_out(db, database_url, sim):
    """The night rule holds for every other ZNS; and the code does not wait behind the user's held messages."""
    channel = channel_for(db, database_url, sim)
    tonight = local_to_utc(today_local(), dt.time(23, 30))
    morning = local_to_utc(today_local() + dt.timedelta(days=1), dt.time(6, 0))
    with time_machine.travel(tonight, tick=True):
        account_id = chatting(db, hours_ago=8 * 24)
        with db.uow() as uow:
            outbox.enqueue(
                uow,
                oa_id=OA_ID,
                user_id=USER,
                message=OutgoingMessage("Dạ, nhắc lịch ạ."),
                key="r1",
                purpose="reminder",
            )
            uow.commit()
        send_code(db, account_id, "730021")
        drain(db, channel)
    with db.reader() as uow:
        held = uow.session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "reminder")).one()
        assert (held.status, held.next_attempt_at) == ("pending", morning)
    assert otp_row(db).status == "done"
    assert [m["template_id"] for m in sim.messages(kind="zns")] == ["tpl-otp"]


def test_an_oa_without_an_otp_template_makes_the_code_undeliverable_with_the_reason(db, database_url, sim):
    channel = channel_for(db, database_url, sim, templates={"reminder": "tpl-reminder"})
    account_id = chatting(db, hours_ago=1)
    send_code(db, account_id, "999111")
    drain(db, channel)
    row = otp_row(db)
    assert row.status == "undeliverable"
    assert "ZNS only" in row.last_error and "'otp' ZNS template" in row.last_error
    assert sim.messages() == [], "not as a chat message instead"
    assert "999111" not in row.body


def test_a_code_for_an_account_that_is_no_zalo_user_is_refused(db, database_url, sim):
    channel_for(db, database_url, sim)
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, "api:clinic-app", "user-7")
        with pytest.raises(ValueError, match="not a Zalo user"):
            ZaloCodeSender().send_code(
                uow, account_id=account_id, phone=PHONE, code="123456", expires_at=utcnow(), now=utcnow()
            )


def test_a_code_message_past_its_five_minutes_is_dropped(db, database_url, sim):
    """A code that could not go out in time (Zalo down, say) is not sent late: it would no longer work."""
    channel = channel_for(db, database_url, sim)
    account_id = chatting(db)
    sent_at = utcnow()
    send_code(db, account_id, "246810")
    with time_machine.travel(sent_at + dt.timedelta(minutes=6), tick=False):
        drain(db, channel)
    row = otp_row(db)
    assert row.status == "undeliverable" and "no longer useful" in row.last_error
    assert sim.messages() == []
    assert json.loads(row.body)["zns_data"] == {"otp": ""}


def test_an_otp_row_naming_the_user_still_never_goes_to_the_chat(db, database_url, sim):
    """Whoever queues it: purpose ``otp`` is ZNS only, also with a Zalo user on the row and the window open."""
    channel = channel_for(db, database_url, sim)
    chatting(db, hours_ago=1)
    with db.uow() as uow:
        message = OutgoingMessage("Mã xác minh", zns_data={"otp": "551100"})
        outbox.enqueue(uow, oa_id=OA_ID, user_id=USER, message=message, key="otp-1", purpose="otp", phone=PHONE)
        uow.commit()
    drain(db, channel)
    assert sim.messages(kind="cs") == []
    assert latest_otp(sim, PHONE) == "551100"
    assert (otp_row(db).status, otp_row(db).channel) == ("done", "zns")


@pytest.mark.parametrize("hours_ago", [1, 72, None])
def test_the_window_rule_sends_a_code_by_zns_whatever_the_window(hours_ago):
    now = utcnow()
    last = None if hours_ago is None else now - dt.timedelta(hours=hours_ago)
    common = {"last_interaction_at": last, "now": now, "allow_billed": True, "purpose": "otp"}
    assert choose_route(**common, phone=PHONE, zns_template="tpl-otp").channel == "zns"
    assert choose_route(**common, phone=None, zns_template="tpl-otp").channel == "none"
    assert choose_route(**common, phone=PHONE, zns_template=None).channel == "none"
    reply = choose_route(**{**common, "purpose": "reply"}, phone=PHONE, zns_template="tpl-otp")
    assert reply.channel == ("cs" if hours_ago in (1, 72) else "zns"), "other purposes keep the window's rules"


def results_notice(account: str = account_key(OA_ID, USER)) -> ResultNotice:
    return ResultNotice(
        key="results:41:7",
        account_id=7,
        account_provider=PROVIDER,
        account_key=account,
        visit_id=41,
        facility_name="Bệnh viện Thử nghiệm",
        day=dt.date(2026, 11, 12),
    )


def queue_results(db, *notices: ResultNotice) -> list[bool]:
    with db.uow() as uow:
        queued = ZaloResultNotifier().queue_results(uow, list(notices), utcnow())
        uow.commit()
    return queued


def test_a_results_notice_in_the_window_is_a_chat_message_with_the_button(db, database_url, sim):
    channel = channel_for(db, database_url, sim)
    chatting(db, hours_ago=1)
    assert queue_results(db, results_notice()) == [True]
    drain(db, channel)
    [message] = sim.messages(user_id=USER, kind="cs")
    text = message["message"]["text"]
    assert text.startswith(
        'Dạ, kết quả lần khám ngày 12/11/2026 tại Bệnh viện Thử nghiệm đã có. Anh/chị bấm "Xem kết quả" để xem ạ.'
    )
    [button] = message["message"]["attachment"]["payload"]["buttons"]
    assert (button["title"], button["payload"]) == ("Xem kết quả", '/ask_record_summary{"record_visit": "41"}')
    with db.reader() as uow:
        menu = uow.session.scalar(select(Conversation.last_menu).where(Conversation.user_id == USER))
    assert json.loads(menu) == ['/ask_record_summary{"record_visit": "41"}'], 'answering "1" opens the visit'


def test_a_results_notice_with_the_window_closed_goes_by_zns_with_facility_and_date(db, database_url, sim):
    channel = channel_for(db, database_url, sim)
    chatting(db, hours_ago=8 * 24)  # the phone the user shared serves for ZNS
    queue_results(db, results_notice())
    drain(db, channel)
    [zns] = sim.messages(kind="zns")
    assert (zns["phone"], zns["template_id"]) == ("84912345678", "tpl-results")
    assert zns["template_data"] == {"facility": "Bệnh viện Thử nghiệm", "date": "12/11/2026"}


def test_a_results_notice_is_held_at_night_like_any_zns(db, database_url, sim):
    channel = channel_for(db, database_url, sim)
    with time_machine.travel(local_to_utc(today_local(), dt.time(23, 0)), tick=True):
        chatting(db, hours_ago=8 * 24)
        queue_results(db, results_notice())
        drain(db, channel)
    with db.reader() as uow:
        row = uow.session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "results")).one()
    assert row.status == "pending" and "held until 06:00" in row.last_error
    assert sim.messages() == []


def test_an_account_that_is_no_zalo_user_cannot_be_told(db, database_url, sim):
    channel_for(db, database_url, sim)
    other = replace(results_notice(), account_provider="api:clinic-app", account_key="user-7")
    assert queue_results(db, other, results_notice()) == [False, True]
    with db.reader() as uow:
        assert uow.session.scalars(select(OutboundMessage.user_id)).all() == [USER]


def test_the_action_server_sends_codes_through_the_zalo_outbox(tmp_path):
    db = bootstrap.actions(Settings(database_url=f"sqlite:///{tmp_path / 'actions.db'}"))
    try:
        assert isinstance(context.code_sender(), ZaloCodeSender)
    finally:
        db.dispose()
