"""Crash-proof under load (issue 17, acceptance 1): the production recipe (tests/province_stack.py: two Rasa
servers, two workers, two senders, two schedulers, an action server and a web process, on PostgreSQL and Redis)
while 50 patients book by chat through the simulator, and a chaos loop SIGKILLs a random process of the next role
every 5 s (worker, sender, scheduler; a Rasa server at most every 40 s, only while the other one answers) and
starts it again; PostgreSQL cuts every connection once. Every booking conversation completes (a patient whose
time was taken meanwhile asks again), no message is lost or sent twice, each patient's messages arrive in order,
no slot is overbooked, no message is handled twice by Rasa. Short leases (15 s inbox, 10 s outbox) bound it to
about a minute and a half here. Needs PostgreSQL, Redis and the Rasa environment (CI requires all three)."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.zalo_webhook.models import InboundEvent, OutboundMessage, WorkStatus
from core.booking.models import Appointment, Slot
from core.db import normalise_url
from tests import dialogue_stack
from tests.dialogue_stack import DialogueStack, buttons_of, text_of
from tests.province_stack import OBSERVER, Province, running_province
from tests.zalo_helpers import OA_ID

pytestmark = pytest.mark.needs_rasa
USERS = 50
CODE = re.compile(r"Mã lịch hẹn: ([A-Z0-9]{6})")
DAYS = ["thứ 2", "thứ 3", "thứ 4", "thứ 5", "thứ 6"]
ROLES = ["worker", "sender", "scheduler", "rasa"]
CHAOS_EVERY_SECONDS = 5.0
# A Rasa server at most this often: its restart takes a core for twenty seconds or more here, and a killed
# server's conversation locks hold its patients until they expire (scripts/rasa-server: 20 s).
RASA_EVERY_SECONDS = 40.0
SETTINGS = {
    "HENKHAM_ZALO_INBOX_LEASE_SECONDS": "15",
    "HENKHAM_ZALO_OUTBOX_LEASE_SECONDS": "10",
    "HENKHAM_SCHEDULER_RETRY_SECONDS": "2",
    "HENKHAM_RASA_UNREACHABLE_WAIT_SECONDS": "600",  # nobody is told "the assistant is down" during the test
    # Below the inbox lease: a worker gives up on a slow server and asks the other before its claim runs out.
    "HENKHAM_RASA_TIMEOUT_SECONDS": "12",
}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    # One web process and one action server (not roles the chaos loop kills): PostgreSQL's 100 connections.
    with running_province(
        tmp_path_factory.mktemp("chaos"), settings=SETTINGS, capacity=3, webs=1, actions=1
    ) as running:
        yield running


def book(stack: DialogueStack, n: int) -> str:
    """Patient ``n``'s booking conversation (a random department, day and offered time); returns the code."""
    user, rng = f"chaos-{n}", random.Random(n)
    for _ in range(6):  # the time tapped may be taken meanwhile by another patient: then ask again (the bot
        # knows the patient by then and goes straight to the summary)
        department, day = rng.choice(["nhi", "mắt"]), rng.choice(DAYS)
        offer = stack.say(user, f"cho em đặt lịch khám {department} sáng {day} tuần sau")[-1]
        times = [b for b in buttons_of(offer) if "–" in b["title"]]
        if not times:
            continue
        summary = stack.say(user, rng.choice(times)["payload"])[-1]
        if has_button(summary, "Tôi đi khám"):  # the first time: who, then the details
            assert "họ và tên" in text_of(stack.tap(user, summary, "Tôi đi khám"))
            assert "sinh" in text_of(stack.say(user, name_of(n)))
            sex_question = stack.say(user, "01/05/1990")[-1]
            assert "số điện thoại" in text_of(stack.tap(user, sex_question, "Nữ"))
            kind_question = stack.say(user, f"09{n + 10000000:08d}")[-1]
            summary = stack.tap(user, kind_question, "BHYT")[-1]
        elif has_button(summary, "(bản thân)"):  # known by now (an earlier try stopped before its booking)
            summary = stack.tap(user, summary, "(bản thân)")[-1]
            if has_button(summary, "BHYT"):
                summary = stack.tap(user, summary, "BHYT")[-1]
        if not has_button(summary, "Xác nhận"):  # the time was taken meanwhile
            continue
        done = text_of(stack.tap(user, summary, "Xác nhận"))
        found = CODE.search(done)
        if found:
            return found.group(1)
    conversation = stack.simulator.http.get(
        f"{stack.simulator.base}/_sim/conversation", params={"oa_id": OA_ID, "user_id": user}, timeout=10
    ).json()["conversation"]
    said = [
        f"{'OA' if m.get('src') == 0 else 'patient'}: {str(m.get('message'))[:100]}"
        + "".join(f" [{b['title']}]" for b in buttons_of(m.get("payload") or {}))
        for m in conversation
    ]
    raise AssertionError(f"patient {n} could not book:\n" + "\n".join(said[-30:]))


def has_button(message: dict, title_part: str) -> bool:
    return any(title_part in b["title"] for b in buttons_of(message))


def name_of(n: int) -> str:
    family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng"]
    given = ["Hoa", "Lan", "Mai", "Cúc", "Đào", "Hương", "Linh", "Thảo"]
    return f"{family[n % 7]} Thị {given[n // 7 % 8]}"


class Chaos:
    """Every few seconds: SIGKILL a random process of the next role and start it again at once. A Rasa server
    is killed only while the other one answers (the patients' conversations move to it); PostgreSQL drops
    every connection once, halfway."""

    def __init__(self, province: Province) -> None:
        self.province = province
        self.stop = threading.Event()
        self.kills: Counter[str] = Counter()
        self.cut = False
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.run, name="chaos", daemon=True)

    def run(self) -> None:
        rng = random.Random(17)
        turn = 0
        last_rasa_kill = time.monotonic() - RASA_EVERY_SECONDS / 2
        while not self.stop.wait(CHAOS_EVERY_SECONDS):
            try:
                role = ROLES[turn % len(ROLES)]
                turn += 1
                if turn == 6 and not self.cut:
                    self.cut_connections()
                labels = [label for label in self.province.specs if label.rsplit("-", 1)[0] == role]
                if role == "rasa":
                    if time.monotonic() - last_rasa_kill < RASA_EVERY_SECONDS:
                        continue
                    labels = [label for label in labels if all(self.province.is_ready(o) for o in labels if o != label)]
                    if not labels:
                        continue
                    last_rasa_kill = time.monotonic()
                victim = rng.choice(labels)
                self.province.kill(victim)
                self.kills[role] += 1
                self.province.start(victim)  # a Rasa server: until it answers again
            except Exception as error:  # the test fails on it, after the patients
                self.errors.append(f"{type(error).__name__}: {error}")

    def cut_connections(self) -> None:
        engine = create_engine(normalise_url(self.province.env["HENKHAM_DATABASE_URL"]))
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> :observer"
                ),
                {"observer": OBSERVER},
            )
        engine.dispose()
        self.cut = True


def test_fifty_patients_book_while_processes_are_killed(province: Province, monkeypatch):
    monkeypatch.setattr(dialogue_stack, "REPLY_TIMEOUT", 240.0)  # a message may wait for a lease to run out
    monkeypatch.setattr(dialogue_stack, "settled", dialogue_stack.settled_among_many)
    stack = province.dialogue()
    chaos = Chaos(province)
    started = time.monotonic()
    chaos.thread.start()
    failed: dict[int, str] = {}

    def patient(n: int) -> str | None:
        try:
            return book(stack, n)
        except Exception as error:  # every patient goes on: the failures are shown together, with the tracker
            failed[n] = f"{type(error).__name__}: {str(error)[:3000]}"
            return None

    try:
        with ThreadPoolExecutor(max_workers=USERS) as pool:
            codes = list(pool.map(patient, range(USERS)))
    finally:
        chaos.stop.set()
        chaos.thread.join(timeout=120)
    elapsed = time.monotonic() - started
    print(f"chaos: {USERS} bookings in {elapsed:.0f} s; kills {dict(chaos.kills)}; connections cut: {chaos.cut}")
    handled = handled_by_rasa(province)
    twice = {mid: n for mid, n in handled.items() if mid and n > 1}
    assert not failed, (
        "\n\n".join(
            f"patient {n}: {error}\n{rasa_story(province, f'chaos-{n}')}" for n, error in sorted(failed.items())
        )
        + f"\nmessages Rasa handled twice: {twice}"
    )
    assert not chaos.errors, chaos.errors
    assert chaos.cut and all(chaos.kills[role] >= 1 for role in ROLES), chaos.kills

    db = province.db
    with db.reader() as uow:
        booked = uow.session.execute(select(Appointment.code, Appointment.slot_id)).all()
        assert sorted(code for code, _ in booked) == sorted(codes), "one appointment per patient, as told"
        over = uow.session.execute(
            select(Slot.id, Slot.capacity, func.count(Appointment.id))
            .join(Appointment, Appointment.slot_id == Slot.id)
            .where(Appointment.status == "booked")
            .group_by(Slot.id, Slot.capacity)
            .having(func.count(Appointment.id) > Slot.capacity)
        ).all()
        assert not over, f"overbooked slots: {over}"
        unsettled = uow.session.scalar(
            select(func.count()).select_from(InboundEvent).where(InboundEvent.status != WorkStatus.DONE.value)
        )
        assert unsettled == 0, "every message was handled"
        sent = uow.session.execute(
            select(OutboundMessage.user_id, OutboundMessage.zalo_message_id, OutboundMessage.status)
            .where(OutboundMessage.oa_id == OA_ID)
            .order_by(OutboundMessage.id)
        ).all()
    assert all(status == WorkStatus.DONE.value for _, _, status in sent), "every reply was delivered"
    delivered = [m for m in province.sim.messages(kind="cs") if m.get("user_id", "").startswith("chaos-")]
    for n in range(USERS):
        user = f"chaos-{n}"
        ours = [mid for uid, mid, _ in sent if uid == user]
        theirs = [m["message_id"] for m in sorted(delivered, key=lambda m: m["seq"]) if m["user_id"] == user]
        assert theirs == ours, f"{user}: each reply once, in order"

    assert not twice, f"messages Rasa handled twice: {twice}"


def tracker_rows(province: Province, sql: str, **params: str) -> list[tuple]:
    tracker = create_engine(normalise_url(province.env["HENKHAM_DATABASE_URL"]) + "_rasa")
    try:
        with tracker.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        tracker.dispose()


def handled_by_rasa(province: Province) -> Counter[str]:
    """How many user events of each message id the Rasa tracker holds."""
    rows = tracker_rows(province, "SELECT data FROM events WHERE type_name = 'user'")
    return Counter(json.loads(data).get("message_id") for (data,) in rows)


def rasa_story(province: Province, user: str) -> str:
    """The user's conversation as the Rasa tracker holds it (a failure's evidence)."""
    rows = tracker_rows(
        province,
        "SELECT id, type_name, data FROM events WHERE sender_id LIKE :user ORDER BY id",
        user=f"%{user}",
    )
    lines = []
    for event_id, kind, data in rows[-60:]:
        event = json.loads(data)
        what = {
            "user": lambda e: (
                f"{e.get('text')!r} intent={(e.get('parse_data') or {}).get('intent', {}).get('name')} "
                f"id={e.get('message_id')}"
            ),
            "bot": lambda e: repr((e.get("text") or "")[:80]),
            "action": lambda e: e.get("name"),
            "slot": lambda e: f"{e.get('name')}={e.get('value')!r}",
            "active_loop": lambda e: e.get("name"),
        }.get(kind, lambda e: "")(event)
        lines.append(f"  {event_id} {kind} {what}")
    return "\n".join(lines)
