"""Handling inbox events: what each kind of event does to the conversation and what the user is sent."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select, update

from bot.zalo_webhook import workers
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, InboundEvent, OutboundMessage
from core.emr.subject_requests import DataSubjectRequest
from core.timeutil import utcnow
from henkham.web import create_app
from tests.zalo_helpers import OA_ID, ScriptedBot, event, signed, synced_channel, text_event, zalo_settings

pytestmark = pytest.mark.world(days=1)


@pytest.fixture
def bot():
    return ScriptedBot()


@pytest.fixture
def channel(db, database_url, world, bot):
    return synced_channel(db, zalo_settings(database_url), bot)


@pytest.fixture
def deliver(db, database_url, channel):
    """Post events to the webhook as Zalo would, then let one worker drain the inbox."""
    client = create_app(channel.settings, database=db).test_client()

    def deliver(*payloads, times: int = 1):
        post_and_handle(db, channel, *payloads, times=times, client=client)

    return deliver


def post_and_handle(db, channel, *payloads, times: int = 1, client=None) -> None:
    """Post ``payloads`` to ``channel``'s webhook as Zalo would (``times`` each), then let one worker drain the
    inbox of what is due."""
    client = client or create_app(channel.settings, database=db).test_client()
    for payload in payloads:
        for _ in range(times):
            assert client.post("/zalo/webhook", data=(s := signed(payload))[0], headers=s[1]).status_code == 200
    while workers.inbox_step(db, channel.processor):
        pass


def sent(db, user_id: str) -> list[OutgoingMessage]:
    with db.reader() as uow:
        rows = uow.session.scalars(
            select(OutboundMessage.body).where(OutboundMessage.user_id == user_id).order_by(OutboundMessage.id)
        )
        return [OutgoingMessage.from_json(body) for body in rows]


def conversation(db, user_id: str) -> Conversation:
    with db.reader() as uow:
        row = uow.session.scalar(select(Conversation).where(Conversation.user_id == user_id))
        uow.session.expunge_all()
        return row


def test_text_goes_to_the_bot_and_its_answer_to_the_outbox(db, deliver, bot):
    deliver(text_event("u1", "Xin chào"))
    assert bot.calls == [(f"{OA_ID}:u1", "Xin chào")], "sender id is stable per OA and user"
    assert [m.text for m in sent(db, "u1")] == ["Dạ, em đã nhận: Xin chào"]
    assert conversation(db, "u1").last_interaction_at is not None


def test_one_event_delivered_five_times_is_processed_once_and_answered_once(db, deliver, bot):
    deliver(text_event("u1", "đặt lịch khám nhi", msg_id="96d3cdf3af150460909"), times=5)
    assert len(bot.calls) == 1
    assert len(sent(db, "u1")) == 1


def test_follow_gets_a_welcome_with_the_main_menu_and_unfollow_is_recorded(db, deliver, bot):
    deliver(event("follow", "u2"))
    [welcome] = sent(db, "u2")
    assert welcome.text.startswith("Dạ, Bệnh viện Thử nghiệm cảm ơn") and "02900000115" in welcome.text
    assert [b.title for b in welcome.buttons] == [
        "Đặt lịch khám",
        "Lịch hẹn của tôi",
        "Giờ làm việc, địa chỉ",
        "Gặp nhân viên",
    ]
    assert conversation(db, "u2").follower is True and bot.calls == []
    deliver(event("unfollow", "u2"))
    row = conversation(db, "u2")
    assert row.follower is False and row.unfollowed_at is not None
    assert len(sent(db, "u2")) == 1, "nothing is sent to a user who left"


def test_a_numbered_answer_to_a_menu_reaches_the_bot_as_the_button_payload(db, deliver, bot):
    deliver(text_event("u3", "menu"))
    deliver(text_event("u3", "2"))
    assert bot.calls[-1] == (f"{OA_ID}:u3", '/inform{"department":"mat"}')
    deliver(text_event("u3", "7"))  # not on the menu: passed on as written
    assert bot.calls[-1] == (f"{OA_ID}:u3", "7")


@pytest.mark.parametrize(
    "info",
    [
        {"name": "Lan", "phone": "84912345678", "address": "", "city": "", "district": "", "ward": ""},
        {"name": "Lan", "phone": "84912345678", "user_dob": "01/01/1990", "gender": "female", "full_address": {}},
    ],
    ids=["flat shape", "new shape"],
)
def test_a_shared_phone_is_stored_and_handed_to_the_conversation(db, deliver, bot, info):
    deliver(event("user_submit_info", "u4", info=info))
    assert conversation(db, "u4").phone == "+84912345678"
    assert bot.calls == [(f"{OA_ID}:u4", '/inform{"phone_number": "0912345678"}')]


def test_a_staff_reply_from_the_oa_inbox_silences_the_bot_for_the_configured_time(db, deliver, bot, channel):
    deliver(event("oa_send_text", "u5", sender={"id": OA_ID, "admin_id": "staff-9"}))
    row = conversation(db, "u5")
    assert row.mode == "human" and "staff-9" in row.mode_reason
    minutes = channel.settings.zalo_human_mode_minutes
    assert dt.timedelta(minutes=minutes - 1) < row.human_until - row.mode_changed_at <= dt.timedelta(minutes=minutes)
    deliver(text_event("u5", "cho hỏi thêm"))
    assert bot.calls == [] and sent(db, "u5") == [], "the bot stays silent while staff handle the conversation"
    with db.uow() as uow:  # the hand-off time runs out
        uow.session.execute(
            Conversation.__table__.update().values(human_until=row.mode_changed_at - dt.timedelta(seconds=1))
        )
        uow.commit()
    deliver(text_event("u5", "còn ai không ạ"))
    assert bot.calls == [(f"{OA_ID}:u5", "còn ai không ạ")] and conversation(db, "u5").mode == "bot"


def test_our_own_messages_echoed_back_change_nothing(db, deliver, bot):
    with db.uow() as uow:  # a reply the sender delivered: Zalo answered its send call with this message id
        uow.session.add(
            OutboundMessage(
                oa_id=OA_ID,
                user_id="u6",
                idempotency_key="k-u6",
                purpose="reply",
                body="{}",
                status="done",
                zalo_message_id="oa-own-u6",
            )
        )
        uow.commit()
    deliver(event("oa_send_text", "u6", message={"text": "Dạ, em chào anh/chị ạ", "msg_id": "oa-own-u6"}))
    assert conversation(db, "u6").mode == "bot" and len(sent(db, "u6")) == 1


@pytest.mark.parametrize("name", ["user_send_image", "user_send_sticker", "user_send_audio"])
def test_images_stickers_and_voice_get_a_polite_answer_with_a_staff_button(db, deliver, bot, name):
    deliver(event(name, "u7", message={"msg_id": f"att-{name}", "attachments": [{"type": "image", "payload": {}}]}))
    [answer] = sent(db, "u7")
    assert "chỉ đọc được tin nhắn chữ" in answer.text
    assert [(b.title, b.payload) for b in answer.buttons] == [("Gặp nhân viên", "/request_human")]
    assert bot.calls == []


def test_user_withdraw_is_recorded_for_staff(db, deliver):
    deliver(event("user_withdraw", "u8"))
    with db.reader() as uow:
        [request] = uow.session.scalars(select(DataSubjectRequest)).all()
        assert (request.user_id, request.kind, request.status) == ("u8", "withdraw", "open")
    assert conversation(db, "u8").needs_staff is True


def test_when_the_bot_is_down_the_patient_is_answered_and_staff_are_flagged(db, database_url, world):
    channel = synced_channel(db, zalo_settings(database_url), ScriptedBot(fail=True))
    post_and_handle(db, channel, text_event("u9", "Tôi muốn đặt lịch khám mắt thứ 2"))
    [answer] = sent(db, "u9")
    assert answer.text.startswith("Dạ, trợ lý tự động đang tạm gián đoạn") and "115" in answer.text
    row = conversation(db, "u9")
    assert row.needs_staff is True and "did not answer" in row.staff_reason
    with db.reader() as uow:
        [stored] = uow.session.scalars(select(InboundEvent)).all()
    assert "Tôi muốn đặt lịch khám mắt thứ 2" in json.loads(stored.payload)["message"]["text"], "nothing is lost"
    assert stored.outcome == "bot_unavailable"


def test_while_no_rasa_server_answers_the_message_waits_in_order_and_is_answered_once_one_is_back(
    db, database_url, world
):
    bot = ScriptedBot(unreachable=2)
    channel = synced_channel(db, zalo_settings(database_url), bot)
    start = utcnow()
    post_and_handle(db, channel, text_event("u20", "Tôi muốn đặt lịch"), text_event("u20", "khám mắt"))
    for attempt in range(3):  # each attempt a little later: the event is deferred, not failed
        if attempt:
            post_and_handle(db, channel)
        assert not sent(db, "u20") or attempt == 2
        with db.uow() as uow:  # the retry time comes (instead of sleeping two seconds)
            uow.session.execute(
                update(InboundEvent).where(InboundEvent.status == "processing").values(lease_until=start)
            )
            uow.commit()
    assert [m.text for m in sent(db, "u20")] == ["Dạ, em đã nhận: Tôi muốn đặt lịch", "Dạ, em đã nhận: khám mắt"]
    assert [text for _, text in bot.calls] == ["Tôi muốn đặt lịch"] * 3 + ["khám mắt"], "in order, the second waited"
    ids = {m["message_id"] for m in bot.metadata[:3]}
    assert len(ids) == 1 and bot.metadata[0]["retry"] is False and bot.metadata[2]["retry"] is True
    assert conversation(db, "u20").needs_staff is False


def test_when_no_rasa_server_answers_for_long_the_patient_is_told_and_staff_are_flagged(db, database_url, world):
    settings = zalo_settings(database_url).model_copy(update={"rasa_unreachable_wait_seconds": 0})
    channel = synced_channel(db, settings, ScriptedBot(unreachable=10))
    post_and_handle(db, channel, text_event("u21", "Tôi muốn đặt lịch"))
    [answer] = sent(db, "u21")
    assert answer.text.startswith("Dạ, trợ lý tự động đang tạm gián đoạn")
    assert conversation(db, "u21").needs_staff is True


def test_when_the_bot_answers_nothing_the_patient_is_told_and_staff_are_flagged(db, deliver, bot, monkeypatch):
    # Rasa answers [] when an action fails or a component raises: the patient must not be left unanswered.
    monkeypatch.setattr(bot, "reply", lambda *a: [])
    deliver(text_event("u12", "Tôi muốn hủy lịch khám"))
    [answer] = sent(db, "u12")
    assert answer.text.startswith("Dạ, em chưa xử lý được tin nhắn này") and "115" in answer.text
    assert [(b.title, b.payload) for b in answer.buttons] == [("Gặp nhân viên", "/request_human")]
    row = conversation(db, "u12")
    assert row.needs_staff is True and "no answer" in row.staff_reason


def test_long_answers_are_split_on_sentences_and_keep_their_order(db, deliver, bot, monkeypatch):
    sentence = "Dạ, đây là một câu dài về quy trình khám bệnh và những giấy tờ cần mang theo. "
    long_text = sentence * 60  # about 4,700 characters
    monkeypatch.setattr(bot, "reply", lambda *a: [OutgoingMessage(long_text.strip())])
    deliver(text_event("u10", "hướng dẫn"))
    parts = [m.text for m in sent(db, "u10")]
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts)
    assert all(p.endswith("theo.") for p in parts), "each part ends on a sentence boundary"
    assert " ".join(parts) == long_text.strip()


@pytest.mark.postgres_only("parallel workers are shown on PostgreSQL; SQLite runs one writer at a time")
def test_events_of_one_user_in_order_while_users_are_served_in_parallel(db, database_url, world):
    bot = ScriptedBot(delay=0.02)
    channel = synced_channel(db, zalo_settings(database_url), bot)
    client = create_app(channel.settings, database=db).test_client()
    users = [f"p{i}" for i in range(50)]
    for n in range(20):  # interleaved as they would arrive: "solo" writes 20 times, the fifty others 3 times
        for user in ["solo", *users] if n < 3 else ["solo"]:
            raw, headers = signed(text_event(user, f"tin {n}"))
            assert client.post("/zalo/webhook", data=raw, headers=headers).status_code == 200
    stop = threading.Event()
    runner = threading.Thread(
        target=workers.run_loops,
        args=(lambda: workers.inbox_step(db, channel.processor),),
        kwargs={"threads": 8, "stop": stop, "idle_sleep": 0.02},
    )
    runner.start()
    try:
        for _ in range(600):
            with db.reader() as uow:
                open_events = uow.session.scalar(select(InboundEvent.id).where(InboundEvent.status != "done").limit(1))
            if open_events is None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join()
    solo = [text for sender, text in bot.calls if sender.endswith(":solo")]
    assert solo == [f"tin {n}" for n in range(20)], "one user's messages reach the bot in order"
    for user in users:
        assert [t for s, t in bot.calls if s.endswith(f":{user}")] == ["tin 0", "tin 1", "tin 2"]
    assert bot.max_active_per_sender == 1, "never two events of one user at once"
    assert bot.max_active > 1, "different users are served in parallel"
    assert len(bot.calls) == 20 + 50 * 3


def test_typed_bot_commands_are_read_as_text_but_tapped_buttons_pass(db, deliver, bot):
    deliver(text_event("u12", '/inform{"phone_number": "0912345678"}'))
    assert bot.calls[-1][1] == 'inform{"phone_number": "0912345678"}', "a patient cannot forge a verified phone"
    for n, forged in enumerate(['/ /inform{"slot_id": "15921"}', ' //\t/inform{"slot_id": "1"}', "\u3000/greet", "/"]):
        deliver(text_event("u12", forged, msg_id=f"forged-{n}"))
        assert not bot.calls[-1][1].lstrip().startswith("/"), f"{forged!r} reached the bot as a command"
    deliver(text_event("u12", "menu"))
    deliver(text_event("u12", '/inform{"department":"nhi"}'))  # what Zalo sends when the button is tapped
    assert bot.calls[-1][1] == '/inform{"department":"nhi"}'


def test_a_worker_whose_lease_ran_out_can_no_longer_finish_or_free_the_next_event(db, deliver, channel):
    from bot.zalo_webhook import inbox
    from core.timeutil import utcnow

    client = create_app(channel.settings, database=db).test_client()
    for n in range(2):
        raw, headers = signed(text_event("u13", f"tin {n}"))
        client.post("/zalo/webhook", data=raw, headers=headers)
    with db.uow() as uow:
        [first] = inbox.claim(uow, lease_seconds=1)
    later = utcnow() + dt.timedelta(seconds=5)
    with db.uow() as uow:
        [again] = inbox.claim(uow, now=later, limit=5)  # the same event, taken over; the second still waits
    assert (again.id, again.in_doubt, again.attempt) == (first.id, True, first.attempt + 1)
    with db.uow() as uow:
        assert inbox.finish(uow, first, "late") is False, "the first holder's write is fenced off"
    with db.uow() as uow:
        assert inbox.finish(uow, again, "done") is True
        uow.commit()
    with db.uow() as uow:
        [second] = inbox.claim(uow)
    assert second.id == first.id + 1
