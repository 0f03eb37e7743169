"""The staff inbox's channel service (bot/zalo_webhook/staff_inbox.py): the waiting list in the order staff
should take it, scoped to one hospital; transcripts as text; taking, taking over, replying through the outbox,
the window notice, handing back; the fingerprint the console's polling compares."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.zalo_webhook import conversations, outbox, staff_inbox
from bot.zalo_webhook.handoff import BotUnreachable
from bot.zalo_webhook.messages import Button, OutgoingMessage
from bot.zalo_webhook.models import Conversation, InboundEvent, OutboundMessage, ZaloOA
from bot.zalo_webhook.rasa_bridge import RasaBot
from bot.zalo_webhook.staff_inbox import Reason, TakenByOther
from core.booking.models import Hospital
from core.errors import InvalidInput, NotFound
from core.staff.models import StaffAccount
from core.timeutil import utcnow
from tests.console_support import make_staff
from tests.factories import add_hospital
from tests.test_handoff import RASA_TOKEN, fake_rasa
from tests.zalo_helpers import APP_ID, event, text_event

OA, OTHER_OA = "388613280878808645", "1000000000000000001"
NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam


@pytest.fixture
def hospitals(db, world) -> dict[str, int]:
    """Hospital "test" with OA ``OA``, hospital "other" with ``OTHER_OA``; their ids by slug."""
    add_hospital(db, "other")
    with db.uow() as uow:
        ids = dict(uow.session.execute(select(Hospital.slug, Hospital.id)).all())
        uow.session.add_all(
            [
                ZaloOA(oa_id=OA, app_id=APP_ID, hospital_id=ids["test"]),
                ZaloOA(oa_id=OTHER_OA, app_id="2000000000000000002", hospital_id=ids["other"]),
            ]
        )
        uow.commit()
    return ids


def flagged(db, user: str, reason: str, *, at: dt.datetime, oa: str = OA, human: bool = True) -> int:
    with db.uow() as uow:
        c = conversations.get_or_create(uow, oa, user, at)
        if human:
            conversations.to_human(c, reason, at)
        conversations.flag_for_staff(c, reason, at)
        c.last_interaction_at = at
        uow.commit()
        return c.id


def said(db, user: str, text: str, *, at: dt.datetime, oa: str = OA) -> None:
    payload = text_event(user, text)
    payload["recipient"]["id"] = oa
    with db.uow() as uow:
        uow.session.add(
            InboundEvent(
                oa_id=oa,
                event_key=f"msg:user_send_text:{payload['message']['msg_id']}",
                event_name="user_send_text",
                user_id=user,
                payload=json.dumps(payload, ensure_ascii=False),
                received_at=at,
                status="done",
            )
        )
        uow.commit()


def staff_id(db, username: str) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))


@pytest.fixture
def two_receptionists(db, hospitals) -> Iterator[tuple[int, int]]:
    a, _ = make_staff(db, "receptionist")
    b, _ = make_staff(db, "receptionist")
    yield staff_id(db, a), staff_id(db, b)


def test_the_waiting_list_puts_emergencies_first_then_requests_then_the_assistant_down_then_not_understood(
    db, hospitals
):
    minute = dt.timedelta(minutes=1)
    flagged(db, "u-not-understood", "the assistant did not understand twice in a row", at=NOW - 50 * minute)
    flagged(db, "u-down", "the assistant did not answer (HTTP 500)", at=NOW - 40 * minute, human=False)
    flagged(db, "u-asked-late", "the user asked for staff", at=NOW - 5 * minute)
    flagged(db, "u-asked-early", "the user asked for staff", at=NOW - 30 * minute)
    flagged(db, "u-emergency", "emergency: khó thở quá", at=NOW - 1 * minute, human=False)
    flagged(db, "u-withdraw", "the user asked to withdraw their data (user_withdraw)", at=NOW - 90 * minute)
    flagged(db, "u-unknown", "something else", at=NOW - 99 * minute)
    flagged(db, "u-other-hospital", "emergency: đau ngực", at=NOW - 60 * minute, oa=OTHER_OA, human=False)
    said(db, "u-emergency", "khó thở quá", at=NOW - minute)
    with db.reader() as uow:
        items = staff_inbox.waiting(uow, hospitals["test"])
    assert [w.user_id for w in items] == [
        "u-emergency",
        "u-asked-early",
        "u-asked-late",
        "u-down",
        "u-not-understood",
        "u-withdraw",
        "u-unknown",
    ]
    assert [w.reason_vi for w in items] == [
        "Cấp cứu",
        "Yêu cầu gặp nhân viên",
        "Yêu cầu gặp nhân viên",
        "Trợ lý tự động gặp sự cố",
        "Trợ lý không hiểu hai lần liên tiếp",
        "Yêu cầu về dữ liệu cá nhân",
        "Cần nhân viên hỗ trợ",
    ]
    assert items[0].emergency and items[0].last_text == "khó thở quá"
    assert items[1].waited(NOW) == dt.timedelta(minutes=30)
    with db.reader() as uow:
        other = staff_inbox.waiting(uow, hospitals["other"])
    assert [w.user_id for w in other] == ["u-other-hospital"]


def test_an_emergency_waiting_keeps_its_reason_and_its_place_when_flagged_again(db, hospitals):
    conversation_id = flagged(db, "u1", "emergency: ngất xỉu", at=NOW - dt.timedelta(minutes=9), human=False)
    flagged(db, "u1", "the assistant did not answer (timeout)", at=NOW)
    with db.reader() as uow:
        view = staff_inbox.conversation(uow, conversation_id, hospitals["test"])
    assert view.reason is Reason.EMERGENCY and view.waiting_since == NOW - dt.timedelta(minutes=9)


def test_a_conversation_of_another_hospital_is_not_found_for_every_action(db, hospitals, two_receptionists):
    mine, _ = two_receptionists
    theirs = flagged(db, "u-theirs", "the user asked for staff", at=NOW, oa=OTHER_OA)
    here = hospitals["test"]
    with db.reader() as uow, pytest.raises(NotFound):
        staff_inbox.transcript(uow, theirs, here)
    with db.uow() as uow, pytest.raises(NotFound):
        staff_inbox.take(uow, theirs, mine, hospital_id=here)
    with db.uow() as uow, pytest.raises(NotFound):
        staff_inbox.reply(uow, theirs, mine, "Dạ", hospital_id=here, key_token="k" * 12)
    with pytest.raises(NotFound):
        staff_inbox.hand_back(db, RasaBot("http://127.0.0.1:9", 1), theirs, "x", hospital_id=here)
    with db.reader() as uow:
        row = uow.session.get(Conversation, theirs)
        assert row.taken_by_staff_id is None
        assert uow.session.scalar(select(OutboundMessage.id)) is None


def test_taking_shows_who_has_it_and_taking_it_from_someone_else_needs_a_take_over(db, hospitals, two_receptionists):
    a, b = two_receptionists
    conversation_id = flagged(db, "u1", "emergency: chảy máu", at=NOW, human=False)
    here = hospitals["test"]
    with db.uow() as uow:
        view = staff_inbox.take(uow, conversation_id, a, hospital_id=here, now=NOW)
    assert view.taken_by_id == a and view.taken_by_name == "Nhân viên receptionist"
    assert view.mode == "human"  # the assistant stays silent while staff answer
    with db.uow() as uow, pytest.raises(TakenByOther) as refused:
        staff_inbox.take(uow, conversation_id, b, hospital_id=here)
    assert "Nhân viên receptionist" in refused.value.message_vi and "Nhận thay" in refused.value.message_vi
    with db.uow() as uow, pytest.raises(TakenByOther):
        staff_inbox.reply(uow, conversation_id, b, "Dạ", hospital_id=here, key_token="b" * 12)
    with db.uow() as uow:
        view = staff_inbox.take(uow, conversation_id, b, hospital_id=here, take_over=True)
    assert view.taken_by_id == b


def test_a_reply_goes_through_the_outbox_once_per_form_and_takes_an_untaken_conversation(
    db, hospitals, two_receptionists
):
    a, _ = two_receptionists
    conversation_id = flagged(db, "u1", "the user asked for staff", at=NOW)
    here = hospitals["test"]
    for _ in range(2):  # the same form sent twice
        with db.uow() as uow:
            staff_inbox.reply(
                uow, conversation_id, a, "  Dạ, em chào anh/chị ạ. ", hospital_id=here, key_token="f" * 16
            )
    with db.reader() as uow:
        rows = uow.session.scalars(select(OutboundMessage)).all()
        assert [(r.user_id, r.purpose, OutgoingMessage.from_json(r.body).text) for r in rows] == [
            ("u1", "staff_reply", "Dạ, em chào anh/chị ạ.")
        ]
        assert uow.session.get(Conversation, conversation_id).taken_by_staff_id == a
    for text, token in (("   ", "g" * 12), ("x" * 2001, "g" * 12), ("Dạ", "<bad>")):
        with db.uow() as uow, pytest.raises(InvalidInput):
            staff_inbox.reply(uow, conversation_id, a, text, hospital_id=here, key_token=token)


def test_the_transcript_holds_both_sides_as_text_with_who_sent_what(db, hospitals, two_receptionists):
    a, _ = two_receptionists
    here = hospitals["test"]
    hostile = '<script>alert(1)</script> <img src=x onerror=alert(1)> <a href="javascript:alert(1)">x</a>'
    conversation_id = flagged(db, "u1", "the user asked for staff", at=NOW - dt.timedelta(minutes=3))
    said(db, "u1", hostile, at=NOW - dt.timedelta(minutes=3))
    with db.uow() as uow:
        outbox.enqueue(
            uow,
            oa_id=OA,
            user_id="u1",
            message=OutgoingMessage("Dạ, em đã chuyển tới nhân viên ạ.", (Button("Đặt lịch", "/book"),)),
            key="in:1:0",
            now=NOW - dt.timedelta(minutes=2),
        )
        uow.commit()
    with db.uow() as uow:
        staff_inbox.reply(uow, conversation_id, a, "Dạ, em nghe ạ.", hospital_id=here, key_token="t" * 12, now=NOW)
    echo = event("oa_send_text", "u1", message={"text": "Nhân viên trả lời từ Zalo", "msg_id": "zalo-staff-1"})
    echo["sender"]["id"] = OA
    with db.uow() as uow:
        uow.session.add(
            InboundEvent(
                oa_id=OA,
                event_key="msg:oa_send_text:zalo-staff-1",
                event_name="oa_send_text",
                user_id="u1",
                payload=json.dumps(echo),
                received_at=NOW + dt.timedelta(minutes=1),
                status="done",
                outcome="staff_replied",
            )
        )
        uow.commit()
    with db.reader() as uow:
        found = staff_inbox.transcript(uow, conversation_id, here)
        assert found.conversation.last_text == hostile
    assert [(e.side, e.text, e.status_vi) for e in found.entries] == [
        ("patient", hostile, ""),
        ("assistant", "Dạ, em đã chuyển tới nhân viên ạ.\n[Đặt lịch]", "Đang gửi"),
        ("staff", "Dạ, em nghe ạ.", "Đang gửi"),
        ("staff_zalo", "Nhân viên trả lời từ Zalo", ""),
    ]
    assert found.entries[2].side_vi == "Nhân viên Nhân viên receptionist"


def test_the_fingerprint_changes_with_what_the_list_shows_and_only_then(db, hospitals, two_receptionists):
    a, _ = two_receptionists
    here = hospitals["test"]

    def current() -> str:
        with db.reader() as uow:
            return staff_inbox.fingerprint(staff_inbox.waiting(uow, here))

    empty = current()
    conversation_id = flagged(db, "u1", "the user asked for staff", at=NOW)
    one = current()
    assert one != empty and current() == one
    said(db, "u1", "còn ai không?", at=NOW)
    two = current()
    assert two != one
    with db.uow() as uow:
        staff_inbox.take(uow, conversation_id, a, hospital_id=here)
    assert current() != two
    flagged(db, "u2", "the user asked for staff", at=NOW, oa=OTHER_OA)  # another hospital's: no change here
    assert len({current(), current()}) == 1


def test_the_window_notice_says_when_the_chat_window_closes_and_what_happens_after():
    last = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)  # 10:00 on 1/12 in Vietnam
    open_free = staff_inbox.window_notice(
        last, last + dt.timedelta(hours=1), allow_billed=False, phone_known=True, zns_template=False
    )
    assert open_free.open and open_free.closes_at == last + dt.timedelta(hours=48)
    assert "mở đến 10:00 ngày 03/12/2026" in open_free.text_vi and "không gửi được" in open_free.text_vi
    zns = staff_inbox.window_notice(
        last, last + dt.timedelta(hours=49), allow_billed=False, phone_known=True, zns_template=True
    )
    assert not zns.open and "đã đóng" in zns.text_vi and "qua ZNS" in zns.text_vi
    billed = staff_inbox.window_notice(
        last, last + dt.timedelta(hours=49), allow_billed=True, phone_known=False, zns_template=False
    )
    assert billed.open and "tính phí đến 10:00 ngày 08/12/2026" in billed.text_vi
    never = staff_inbox.window_notice(None, last, allow_billed=False, phone_known=False, zns_template=True)
    assert not never.open and "chưa chia sẻ số điện thoại" in never.text_vi


def test_hand_back_resumes_the_assistant_and_nobody_has_the_conversation_any_more(db, hospitals, two_receptionists):
    a, b = two_receptionists
    here = hospitals["test"]
    conversation_id = flagged(db, "u1", "the user asked for staff", at=NOW)
    with db.uow() as uow:
        staff_inbox.take(uow, conversation_id, a, hospital_id=here)
    with fake_rasa() as (url, received), pytest.raises(staff_inbox.TakenByOther):  # a's to hand back, not b's
        staff_inbox.hand_back(db, RasaBot(url, 2, token=RASA_TOKEN), conversation_id, "b", hospital_id=here, staff_id=b)
    assert received == []
    with pytest.raises(BotUnreachable):  # Rasa down: it stays with staff, still taken
        staff_inbox.hand_back(
            db, RasaBot("http://127.0.0.1:9", 1, token=RASA_TOKEN), conversation_id, "a", hospital_id=here
        )
    with db.reader() as uow:
        assert uow.session.get(Conversation, conversation_id).taken_by_staff_id == a
    with fake_rasa() as (url, received):
        view = staff_inbox.hand_back(db, RasaBot(url, 2, token=RASA_TOKEN), conversation_id, "a", hospital_id=here)
    assert view.mode == "bot" and not view.needs_staff
    assert received and received[0][0] == f"/conversations/{OA}:u1/tracker/events"
    with db.reader() as uow:
        row = uow.session.get(Conversation, conversation_id)
        assert (row.taken_by_staff_id, row.taken_at, row.needs_staff_since) == (None, None, None)
        assert staff_inbox.waiting(uow, here) == []
    with db.uow() as uow, pytest.raises(staff_inbox.NotWaiting):
        staff_inbox.reply(uow, conversation_id, a, "Dạ", hospital_id=here, key_token="z" * 12)


def test_a_staff_reply_is_routed_by_the_window_rules_like_any_message(db, hospitals, two_receptionists):
    """The sender decides the route from the conversation's last interaction: a reply after the window closed
    and without a staff_reply ZNS template is undeliverable, with the reason."""
    from bot.zalo_webhook.window import choose_route

    a, _ = two_receptionists
    here = hospitals["test"]
    conversation_id = flagged(db, "u1", "the user asked for staff", at=NOW - dt.timedelta(days=3))
    with db.uow() as uow:
        staff_inbox.reply(uow, conversation_id, a, "Dạ", hospital_id=here, key_token="w" * 12)
    with db.reader() as uow:
        row = uow.session.scalar(select(OutboundMessage))
        c = uow.session.get(Conversation, conversation_id)
        route = choose_route(
            last_interaction_at=c.last_interaction_at,
            now=utcnow(),
            allow_billed=False,
            phone=None,
            zns_template=None,
            purpose=row.purpose,
        )
    assert route.channel == "none" and "chat window closed" in route.reason


@pytest.mark.postgres_only("concurrent writers are shown on PostgreSQL; SQLite runs one writer at a time")
def test_two_receptionists_taking_at_once_one_gets_it_the_other_is_told_who(db, hospitals, two_receptionists):
    conversation_id = flagged(db, "u1", "emergency: bất tỉnh", at=NOW, human=False)
    start = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def attempt(who: int) -> None:
        start.wait()
        try:
            with db.uow() as uow:
                staff_inbox.take(uow, conversation_id, who, hospital_id=hospitals["test"])
            outcomes[who] = "took"
        except TakenByOther:
            outcomes[who] = "refused"

    threads = [threading.Thread(target=attempt, args=(who,)) for who in two_receptionists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes.values()) == ["refused", "took"]
    winner = next(who for who, outcome in outcomes.items() if outcome == "took")
    with db.reader() as uow:
        assert uow.session.get(Conversation, conversation_id).taken_by_staff_id == winner
