"""Two Rasa servers sharing one tracker store (PostgreSQL) and one lock store (Redis): the server a patient is
talking to is killed in the middle of the booking form, and the patient's next message continues the same
form on the other server; a message asked again after a lost answer is answered once, not handled twice.

Needs the Rasa environment, PostgreSQL (the tracker) and Redis (the locks); CI requires all three."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests
from sqlalchemy import func, select, text

from bot.zalo_webhook.accounts import account_key
from bot.zalo_webhook.rasa_bridge import servers_for
from core.booking.models import Appointment
from core.timeutil import local_today
from core.uow import Database
from tests.conftest import _postgres_unavailable, needs_services, redis_unavailable, throwaway_postgres
from tests.dialogue_stack import DialogueStack, buttons_of, running_dialogue, text_of
from tests.factories import build_world
from tests.test_dialogue_e2e import CODE
from tests.zalo_helpers import OA_ID

pytestmark = pytest.mark.needs_rasa
LOCKS = "redis://127.0.0.1:6379/3"
TRACKER: dict[str, str] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialogueStack]:
    needs_services(_postgres_unavailable(), redis_unavailable(LOCKS))
    folder = tmp_path_factory.mktemp("rasa-failover")
    with ExitStack() as cleanup:
        url = cleanup.enter_context(throwaway_postgres())
        db = Database(url)
        cleanup.callback(db.dispose)
        build_world(db, start=local_today(), days=16, booking_horizon_days=30, min_lead_minutes=60)
        tracker = cleanup.enter_context(throwaway_postgres())  # its own database: Rasa makes its tables there
        TRACKER["url"] = tracker
        yield cleanup.enter_context(
            running_dialogue(url, folder, rasa_servers=2, tracker_url=_libpq(tracker), lock_url=LOCKS)
        )


def _libpq(url: str) -> str:
    """The URL as the Rasa environment's SQLAlchemy 1.4 reads it (psycopg2: plain postgresql://)."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_a_rasa_server_killed_mid_form_the_next_message_continues_the_form_on_the_other(stack: DialogueStack):
    user = "failover-1"
    servers = stack.rasa_url.split(",")
    own = servers_for(account_key(OA_ID, user), servers)[0]
    offer = stack.say(user, "cho em đặt lịch khám nhi sáng thứ 2 tuần sau")[-1]
    who = stack.tap(user, offer, "–")[-1]
    assert "họ và tên" in text_of(stack.tap(user, who, "Tôi đi khám"))

    os.kill(stack.rasa_pids[servers.index(own)], signal.SIGKILL)  # the patient's own server, mid-form

    assert "sinh" in text_of(stack.say(user, "Nguyễn Thị Mai")), "the form asks its next question"
    sex_question = stack.say(user, "01/05/1990")[-1]
    assert "số điện thoại" in text_of(stack.tap(user, sex_question, "Nữ"))
    kind_question = stack.say(user, "0912 345 678")[-1]
    summary = stack.tap(user, kind_question, "BHYT")[-1]
    assert "Nguyễn Thị Mai" in summary["text"], "the name given before the kill is in the summary"
    done = text_of(stack.tap(user, summary, "Xác nhận"))
    assert CODE.search(done), done
    with stack.db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_a_message_sent_again_after_a_lost_answer_is_answered_from_the_conversation(stack: DialogueStack):
    live = [url for url in stack.rasa_url.split(",") if _answering(url, stack.rasa_token)]
    sender = account_key(OA_ID, "failover-2")
    post = lambda metadata: requests.post(  # noqa: E731
        f"{live[0]}/webhooks/rest/webhook",
        params={"token": stack.rasa_token},
        json={"sender": sender, "message": "cho em đặt lịch khám mắt", "metadata": metadata},
        timeout=30,
    ).json()
    first = post({"oa_id": OA_ID, "message_id": "zalo-900001", "retry": False})
    again = post({"oa_id": OA_ID, "message_id": "zalo-900001", "retry": True})
    assert first and again == first, "the same answer, read back"
    tracker = requests.get(
        f"{live[0]}/conversations/{sender}/tracker", params={"token": stack.rasa_token}, timeout=10
    ).json()
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(users) == 1 and users[0]["message_id"] == "zalo-900001", "handled once"
    assert buttons_of({"attachment": {"payload": {"buttons": first[-1].get("buttons", [])}}}), first


def _answering(url: str, token: str) -> bool:
    try:
        return requests.get(f"{url}/status", params={"token": token}, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_a_body_without_a_sender_is_refused_not_put_in_a_shared_conversation(stack: DialogueStack):
    live = [url for url in stack.rasa_url.split(",") if _answering(url, stack.rasa_token)]
    for body in ({"message": "chào"}, {"sender": 5, "message": "chào"}, {"sender": "oa:x", "message": None}):
        refused = requests.post(
            f"{live[0]}/webhooks/rest/webhook", params={"token": stack.rasa_token}, json=body, timeout=30
        )
        assert refused.status_code == 400, body


def test_the_original_reaching_a_server_after_its_retry_was_handled_elsewhere_is_not_handled_again(
    stack: DialogueStack,
):
    live = [url for url in stack.rasa_url.split(",") if _answering(url, stack.rasa_token)]
    sender = account_key(OA_ID, "failover-3")

    def post(server: str, retry: bool) -> list:
        return requests.post(
            f"{server}/webhooks/rest/webhook",
            params={"token": stack.rasa_token},
            json={
                "sender": sender,
                "message": "cho em đặt lịch khám nhi",
                "metadata": {"message_id": "zalo-900003", "retry": retry},
            },
            timeout=30,
        ).json()

    retried = post(live[0], True)  # the retry, handled on one server
    original = post(live[-1], False)  # the slow original arrives later (on another server when two answer)
    assert original == retried
    tracker = requests.get(
        f"{live[0]}/conversations/{sender}/tracker", params={"token": stack.rasa_token}, timeout=10
    ).json()
    assert [e["message_id"] for e in tracker["events"] if e["event"] == "user"] == ["zalo-900003"]


def test_cut_tracker_connections_cost_the_patient_nothing_the_form_goes_on(stack: DialogueStack):
    user = "failover-4"
    offer = stack.say(user, "cho em đặt lịch khám mắt sáng thứ 3 tuần sau")[-1]
    who = stack.tap(user, offer, "–")[-1]
    assert "họ và tên" in text_of(stack.tap(user, who, "Tôi đi khám"))
    name = TRACKER["url"].rsplit("/", 1)[1].split("?")[0]
    admin = Database(TRACKER["url"])
    try:
        with admin.engine.connect() as connection:  # every Rasa server's pooled tracker connections die
            cut = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).scalar()
    finally:
        admin.dispose()
    assert cut, "the Rasa servers held tracker connections"
    assert "sinh" in text_of(stack.say(user, "Trần Thị Lan")), "the same form, its next question"
