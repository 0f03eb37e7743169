"""The webhook and the inbox worker against real-shaped Zalo bodies (tests/fixtures/zalo, issue 11)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import time_machine
from sqlalchemy import select

from bot.zalo_webhook import workers
from bot.zalo_webhook.models import Conversation, InboundEvent, OutboundMessage
from bot.zalo_webhook.retention import prune
from core.timeutil import utcnow
from henkham import bootstrap
from henkham.web import create_app
from tests.factories import build_world, today_local
from tests.zalo_fixtures import USER, body, compact, sign, signed_body
from tests.zalo_helpers import APP_ID, OA_ID, ScriptedBot, synced_channel, zalo_settings

CONSOLE_OA = "579745863508352884"


@pytest.fixture
def bot():
    return ScriptedBot()


@pytest.fixture
def channel(db, database_url, bot):
    build_world(db, start=today_local(), days=1)
    return synced_channel(db, zalo_settings(database_url), bot)


@pytest.fixture
def client(db, channel):
    return create_app(channel.settings, database=db).test_client()


def post(client, raw: bytes, headers: dict[str, str]):
    return client.post("/zalo/webhook", data=raw, headers=headers)


def post_signed(client, payload: dict):
    return post(client, *signed_body(payload))


def work(db, channel) -> None:
    while workers.inbox_step(db, channel.processor):
        pass


def stored(db) -> list[InboundEvent]:
    with db.reader() as uow:
        rows = list(uow.session.scalars(select(InboundEvent).order_by(InboundEvent.id)))
        uow.session.expunge_all()
        return rows


def conversation(db, user_id: str = USER) -> Conversation | None:
    with db.reader() as uow:
        row = uow.session.scalar(select(Conversation).where(Conversation.user_id == user_id))
        uow.session.expunge_all()
        return row


def replies(db, user_id: str = USER) -> list[str]:
    with db.reader() as uow:
        bodies = uow.session.scalars(
            select(OutboundMessage.body).where(OutboundMessage.user_id == user_id).order_by(OutboundMessage.id)
        )
        return [json.loads(b)["text"] for b in bodies]


# --- receipts and the OA's side -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["user_seen_message", "user_received_message"])
def test_receipts_naming_the_oa_as_sender_are_accepted_and_stored(db, client, name):
    response = post_signed(client, body(name))
    assert response.status_code == 200, response.get_json()
    [row] = stored(db)
    assert (row.oa_id, row.user_id, row.event_name) == (OA_ID, USER, name)


def test_a_zns_receipt_with_a_phone_as_recipient_is_stored_without_a_user(db, client, channel):
    response = post_signed(client, body("user_received_message_zns"))
    assert response.status_code == 200, response.get_json()
    [row] = stored(db)
    assert (row.oa_id, row.user_id) == (OA_ID, None), "a phone number is not a Zalo user id"
    work(db, channel)
    assert stored(db)[0].status == "done"


def test_a_receipt_does_not_swallow_the_staff_reply_with_the_same_msg_id(db, client, channel, bot):
    """Receipts and reactions carry the id of the message they are about: a staff reply stored after them is
    a different event and still pauses the assistant."""
    for name in ("user_reacted_message", "user_seen_message", "user_received_message"):
        assert post_signed(client, body(name)).status_code == 200
    echo = body("oa_send_text")  # msg_id 2eb2c3b2f0f1b0a1a6d1, as the receipts above
    response = post_signed(client, echo)
    assert response.get_json() == {"status": "ok", "duplicate": False}
    assert [r.event_name for r in stored(db)][-1] == "oa_send_text"
    work(db, channel)
    assert conversation(db).mode == "human"


# --- staff replies and our own echoes ---------------------------------------------------------------------------
def test_a_staff_reply_from_the_oa_inbox_without_admin_id_pauses_the_assistant(db, client, channel, bot):
    assert post_signed(client, body("oa_send_text")).status_code == 200
    work(db, channel)
    row = conversation(db)
    assert row.mode == "human" and "staff" in row.mode_reason
    assert post_signed(client, body("user_send_text")).status_code == 200
    work(db, channel)
    assert bot.calls == [] and replies(db) == [], "the assistant does not talk over the staff member"


# --- user_submit_info -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["user_submit_info_flat", "user_submit_info_new"])
@pytest.mark.parametrize("phone", ["0912345678", "84912345678", 84912345678])
def test_both_submit_info_shapes_with_a_0_or_84_phone_store_the_phone(db, client, channel, bot, name, phone):
    payload = body(name)
    payload["info"]["phone"] = phone
    assert post_signed(client, payload).status_code == 200
    work(db, channel)
    assert conversation(db).phone == "+84912345678"
    assert bot.calls == [(f"{OA_ID}:{USER}", '/inform{"phone_number": "0912345678"}')]


# --- odd but real shapes ----------------------------------------------------------------------------------------
def test_a_file_without_text_and_a_string_size_gets_the_polite_answer(db, client, channel, bot):
    assert post_signed(client, body("user_send_file")).status_code == 200
    work(db, channel)
    [answer] = replies(db)
    assert answer.startswith("Dạ,") and "chỉ đọc được tin nhắn chữ" in answer
    assert bot.calls == []


def test_a_follow_without_user_id_by_app_is_welcomed(db, client, channel):
    assert post_signed(client, body("follow")).status_code == 200
    work(db, channel)
    assert conversation(db).follower is True
    [welcome] = replies(db)
    assert welcome.startswith("Dạ, Bệnh viện Thử nghiệm cảm ơn")


# --- the console's Test button and OAs we do not serve ------------------------------------------------------------
@pytest.mark.parametrize("timestamp", ["This is timestamp", "now"])
def test_the_console_test_body_is_acknowledged_and_nothing_unsigned_is_stored(db, client, timestamp):
    payload = body("console_test", fresh=timestamp == "now")
    raw = compact(payload)
    for headers in ({"Content-Type": "application/json"}, sign(raw, APP_ID, payload["timestamp"], "wrong-secret")):
        response = post(client, raw, headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == "ignored"
    assert stored(db) == []


def test_a_signed_event_of_our_app_for_an_oa_not_served_here_is_kept_and_not_answered(db, client, channel, bot):
    payload = body("user_send_text", recipient={"id": CONSOLE_OA})
    assert post_signed(client, payload).status_code == 200
    work(db, channel)
    [row] = stored(db)
    assert (row.oa_id, row.status, row.outcome) == (CONSOLE_OA, "done", "unknown_oa")
    assert bot.calls == [] and replies(db) == []


# --- bodies that are not UTF-8 JSON, and text that is odd --------------------------------------------------------
def _signed_raw(raw: bytes, timestamp: str) -> dict[str, str]:
    return sign(raw, APP_ID, timestamp)


@pytest.mark.parametrize("kind", ["nested", "utf-16", "utf-16 with BOM", "utf-8 surrogate", "utf-8 BOM"])
def test_bodies_that_are_not_plain_utf8_json_get_400_and_nothing_is_stored(db, client, kind):
    payload = body("user_send_text")
    text = json.dumps(payload, ensure_ascii=False)
    if kind == "nested":
        raw = b'{"app_id":"360846524940903967","x":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    elif kind == "utf-16":
        raw = text.encode("utf-16-le")
    elif kind == "utf-16 with BOM":
        raw = text.encode("utf-16")
    elif kind == "utf-8 surrogate":
        raw = text.replace("đặt lịch", "đặt \ud83d lịch").encode("utf-8", "surrogatepass")
    else:
        raw = text.encode("utf-8-sig")
    response = post(client, raw, _signed_raw(raw, payload["timestamp"]))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["code"] == "malformed_event"
    assert stored(db) == []


def test_a_lone_surrogate_in_a_patients_text_is_stored_and_answered(db, client, channel, bot):
    payload = body("user_send_text")
    payload["message"]["text"] = "cho em hỏi \ud83d giờ khám\u0000 ạ"
    raw = json.dumps(payload).encode()  # ensure_ascii: the surrogate and the NUL travel as \\u escapes
    response = post(client, raw, _signed_raw(raw, payload["timestamp"]))
    assert response.status_code == 200, response.get_json()
    work(db, channel)
    assert bot.calls == [(f"{OA_ID}:{USER}", "cho em hỏi \ufffd giờ khám\ufffd ạ")]
    assert replies(db) == ["Dạ, em đã nhận: cho em hỏi \ufffd giờ khám\ufffd ạ"]


@pytest.mark.parametrize(
    "change",
    [
        {"sender": {"id": "1" * 41}},
        {"sender": {"id": "2468\u00004588"}},
        {"sender": {"id": "2468\udc004588"}},
        {"sender": {"id": 10**45}},
        {"recipient": {"id": "3" * 41}},
        {"event_name": "user_send_text\u0000"},
        {"event_name": "x" * 61},
        {"app_id": "3608465249409039\u000067"},
        {"timestamp": "1" * 41},
    ],
    ids=[
        "41-char user",
        "NUL in user",
        "surrogate in user",
        "huge number",
        "41-char OA",
        "NUL in name",
        "long name",
        "NUL in app",
        "long timestamp",
    ],
)
def test_ids_that_do_not_fit_are_a_clear_answer_never_a_500(db, client, channel, change):
    payload = body("user_send_text", **change)
    raw = json.dumps(payload).encode()
    response = post(client, raw, _signed_raw(raw, str(payload["timestamp"])))
    assert response.status_code in (200, 400, 401), response.get_data(as_text=True)[:300]
    rows = stored(db)
    if response.status_code == 200:
        [row] = rows
        assert row.user_id is None, "stored as an event without a user: nobody to answer"
        work(db, channel)
        assert stored(db)[0].status == "done"
    else:
        assert rows == []


# --- freshness --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "status"),
    [
        (dt.timedelta(hours=25), 400),
        (dt.timedelta(hours=-1), 400),
        (dt.timedelta(hours=23), 200),
        (dt.timedelta(minutes=-5), 200),
        (dt.timedelta(hours=1), 200),
    ],
    ids=["25 h old", "1 h ahead", "23 h old", "5 min ahead", "1 h old (Zalo's last retry)"],
)
def test_events_outside_the_freshness_window_are_refused(db, client, age, status):
    at = utcnow() - age
    response = post_signed(client, body("user_send_text", timestamp=str(int(at.timestamp() * 1000))))
    assert response.status_code == status, response.get_json()
    if status == 400:
        assert response.get_json()["error"]["code"] == "stale_event"
    assert len(stored(db)) == (1 if status == 200 else 0)


def test_a_timestamp_in_seconds_is_read_as_seconds(db, client):
    assert post_signed(client, body("user_send_text", timestamp=str(int(time.time())))).status_code == 200
    old = str(int(time.time()) - 2 * 86400)
    assert post_signed(client, body("user_send_text", timestamp=old)).status_code == 400


def test_a_signed_event_with_a_placeholder_timestamp_is_acknowledged_not_stored(db, client):
    response = post_signed(client, body("user_send_text", timestamp="This is timestamp"))
    assert response.status_code == 200 and response.get_json()["status"] == "ignored"
    assert stored(db) == []


# --- retention --------------------------------------------------------------------------------------------------
def test_pruning_keeps_each_dedupe_key_as_long_as_the_window_accepts_its_event(db, database_url, bot):
    build_world(db, start=today_local(), days=1)
    settings = zalo_settings(database_url, zalo_retention_days=0.01)  # about 14 minutes, shorter than the window
    channel = synced_channel(db, settings, bot)
    client = create_app(settings, database=db).test_client()
    first = signed_body(body("user_send_text"))
    assert post(client, *first).get_json()["duplicate"] is False
    work(db, channel)
    assert len(bot.calls) == 1
    start = utcnow()
    with time_machine.travel(start + dt.timedelta(hours=23), tick=False):
        later = body("user_send_text", message={"text": "còn chỗ không ạ", "msg_id": "later-1"})
        assert post_signed(client, later).status_code == 200
        work(db, channel)
        assert prune(db, settings).events == 0, "inside the window the dedupe key stays"
        assert post(client, *first).get_json()["duplicate"] is True, "Zalo's late retry is still recognised"
    with time_machine.travel(start + dt.timedelta(hours=26), tick=False):
        assert prune(db, settings).events == 1
        response = post(client, *first)
        assert response.status_code == 400, "once its key is gone the event is refused as stale, not redone"
        work(db, channel)
    assert len(bot.calls) == 2, "each message answered once"


def test_pruning_takes_only_settled_rows_past_retention_and_never_the_newest(db, database_url, channel):
    settings = zalo_settings(database_url, zalo_retention_days=1)
    old = utcnow() - dt.timedelta(days=40)
    with db.uow() as uow:
        for n, status in enumerate(["done", "failed", "pending", "done"]):
            uow.session.add(
                InboundEvent(
                    oa_id=OA_ID,
                    event_key=f"k{n}",
                    event_name="user_send_text",
                    user_id=USER,
                    payload="{}",
                    received_at=old,
                    status=status,
                )
            )
            uow.session.add(
                OutboundMessage(
                    oa_id=OA_ID,
                    user_id=USER,
                    idempotency_key=f"m{n}",
                    purpose="reply",
                    body="{}",
                    status=status,
                    created_at=old,
                )
            )
        uow.commit()
    with db.uow() as uow:  # younger than the broadcast cap's window: it still counts, so it stays
        uow.session.add(
            OutboundMessage(
                oa_id=OA_ID,
                user_id=USER,
                idempotency_key="m-cap",
                purpose="news",
                body="{}",
                status="done",
                created_at=utcnow() - dt.timedelta(days=20),
            )
        )
        uow.commit()
    result = prune(db, settings)
    assert (result.events, result.messages) == (2, 3)
    assert [(r.event_key, r.status) for r in stored(db)] == [("k2", "pending"), ("k3", "done")]
    with db.reader() as uow:
        kept = uow.session.scalars(select(OutboundMessage.idempotency_key).order_by(OutboundMessage.id)).all()
    assert kept == ["m2", "m-cap"], "open messages stay, and those the broadcast cap still counts"


def test_the_scheduler_runs_the_retention_job(database_url, db):
    names = [job.name for job in bootstrap.jobs(zalo_settings(database_url), db)]
    assert "zalo_retention" in names


@pytest.mark.postgres_only("PostgreSQL's READ COMMITTED; on SQLite the worker's write transaction holds the database")
def test_an_echo_whose_send_settles_between_the_two_questions_is_still_ours(db, client, channel, monkeypatch):
    """Under READ COMMITTED the "is it ours?" and "is a send in flight?" questions see different moments: the
    sender may record the id just between them."""
    from bot.zalo_webhook import echoes

    with db.uow() as uow:
        uow.session.add(
            OutboundMessage(
                oa_id=OA_ID, user_id=USER, idempotency_key="race", purpose="reply", body="{}", status="processing"
            )
        )
        uow.commit()
    real_ours, calls = echoes._ours, []

    def ours_then_the_sender_records(session, oa_id, msg_id):
        answer = real_ours(session, oa_id, msg_id)
        if not calls:  # right after the first question, the send returns and the sender records its id
            with db.uow() as uow:
                uow.session.execute(OutboundMessage.__table__.update().values(status="done", zalo_message_id=msg_id))
                uow.commit()
        calls.append(answer)
        return answer

    monkeypatch.setattr(echoes, "_ours", ours_then_the_sender_records)
    assert post_signed(client, body("oa_send_text")).status_code == 200
    work(db, channel)
    assert stored(db)[0].outcome == "own_echo"
    assert conversation(db).mode == "bot"


def test_a_signed_shape_naming_no_oa_is_kept_for_the_oa_that_signed_it(db, client, channel, bot):
    future = {"app_id": APP_ID, "event_name": "oa_something_new", "timestamp": body("follow")["timestamp"]}
    future["data"] = {"what": "a field we do not know"}
    raw = compact(future)
    assert post(client, raw, {"Content-Type": "application/json"}).get_json()["status"] == "ignored"
    assert stored(db) == [], "unsigned: nothing kept"
    response = post(client, raw, sign(raw, APP_ID, future["timestamp"]))
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    work(db, channel)
    [row] = stored(db)
    assert (row.oa_id, row.user_id, row.status, row.outcome) == (OA_ID, None, "done", "no_user")
    assert bot.calls == []


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1764600000000", dt.datetime(2025, 12, 1, 14, 40, tzinfo=dt.UTC)),
        ("1764600000", dt.datetime(2025, 12, 1, 14, 40, tzinfo=dt.UTC)),
        ("154390853474", dt.datetime(1974, 11, 22, 22, 20, 53, 474000, tzinfo=dt.UTC)),
        ("This is timestamp", None),
        ("-1", None),
        ("１２３", None),
        ("9" * 17, None),
    ],
)
def test_zalo_timestamps_are_read_as_milliseconds_or_seconds(timestamp, expected):
    from bot.zalo_webhook.events import event_time

    assert event_time(timestamp) == expected
