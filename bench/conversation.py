"""Benchmark of the whole assistant: booking conversations through the real stack, and the Rasa server's NLU.

Run: ``.venv/bin/python bench/conversation.py`` (or ``make bench-conversation``). It first makes sure the
Rasa model is current (``scripts/train --if-stale``; it waits while another ``rasa train`` is running), then
starts the stack as ``tests/dialogue_stack.py`` does, from the same pieces: the action server
(``henkham actions``) and the Rasa server (``scripts/rasa-server``) as processes, the Zalo simulator under
gunicorn, the web app (signed webhook) and the inbox workers and senders in threads of this process
(``--inbox-threads`` / ``--sender-threads``, the defaults of ``henkham zalo worker`` / ``sender``). The
database is a throw-away PostgreSQL one on the local server (SQLite, with a note, when it is unreachable),
seeded with ``tests.factories.build_world`` (hospital "test", departments nhi and mat, ``--capacity`` seats
a slot). It measures:

1. end-to-end latency of a 10-turn booking conversation (greeting, "book khoa nhi/mắt Monday morning", a time
   button, "Tôi đi khám", name, birth date, sex, phone, BHYT, confirm; one more turn, the department's button,
   when the bot asks which department) run by ``--users`` (20) users at once, each in its own thread of a
   separate process (the users must not take the stack's GIL). Like people, they arrive spread over
   ``--think`` (3) seconds and take 0.5 to 1.5 times ``--think`` to read each reply and answer (a patient
   typing a name or a phone number on Zalo takes longer; 3 s is on the hard side). A user sends through
   the simulator and waits for the first reply (a long poll), then until all its events are handled and
   replies sent (polled every ``--poll`` s). A turn's latency runs from "webhook received"
   (``zalo_inbox.received_at`` of the user's event) to "first reply handed to Zalo" (the time the Zalo
   simulator recorded the message, matched through ``zalo_outbox.zalo_message_id``; ``zalo_outbox.sent_at``
   if it is missing): this machine's wall clock on both sides, so the waiting does not enter the figures.
   Beside it: the last reply of each turn, the split of the first-reply latency into the inbox wait
   (webhook -> a worker takes the event, i.e. the replies' ``created_at``) and the rest (bot, actions,
   outbox, sender), the same conversation by one user alone (the reference without queueing), run after an
   untimed warm-up conversation, and (``--saturation``, on by default) the users again answering the
   instant a reply arrives: that run's throughput is the stack's capacity on this machine, and its latency
   what a burst beyond it costs. Every user must end with a booking code and an appointment in the
   database; turns answered with "not understood" are counted;
2. NLU latency of the running Rasa server, ``POST /model/parse``, over ``--nlu-texts`` (200) patient
   messages taken round-robin over the intents of ``data/training/nlu.yml`` (entity markup stripped):
   sequential for the latency, then ``--nlu-clients`` (4) concurrent clients for the throughput;
3. the resident memory (RSS) of the Rasa server's process and its children after both runs (/proc).

``--scenario record`` (issue 14) replaces the booking conversation of 1. by record summaries: before the run
every user gets a record of ``--record-visits`` (50) visits at two hospitals, imported from HIS files, and a
link to it (at the desk) with the consent to summaries in chat, through the core services
(bench/record_world.py); the timed turns are then the user asking, with the same pauses, "cho em xem kết quả
xét nghiệm", "đơn thuốc lần trước", "khi nào tái khám" and "chẩn đoán của em là gì". Every answer must show the
user's own record (their name and masked CCCD, and their own result, drug quantity or re-exam date), else the
conversation fails; p50/p95 are given per question too. Everything else (2., 3., the target) is the same.

The load average and the CPU the machine spent outside the stack are printed: the users, the stack and
everything else share this machine's cores. A missed target makes the exit status 1, as do missing bookings
or failed conversations; 2 when the bench itself could not run, 130 when interrupted. The last line of the
output is the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing as mp
import os
import platform
import queue
import random
import re
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# `python bench/conversation.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
import yaml
from sqlalchemy import func, select

from bench.booking import ADMIN_URL, ms, percentile, print_columns
from bench.procstat import machine_busy, own_child, peak_rss_kib, postgres_backends, processes, tree
from bench.record_world import RecordUser, seed_record_users
from bot.zalo_webhook.models import InboundEvent, OutboundMessage
from bot.zalo_webhook.processing import BOT_DOWN
from core.booking.models import Appointment
from core.timeutil import ensure_utc, local_today
from core.uow import Database
from henkham.migrate import upgrade
from tests.dialogue_stack import (
    RASA_TOKEN,
    button_payload,
    buttons_of,
    running_dialogue,
    settled_among_many,
    text_of,
)
from tests.factories import build_world
from tests.harness import BenchError, add_database_arguments, add_seed_argument, bench_main, bench_parser, log
from tests.zalo_helpers import OA_ID
from tests.zalo_sim import Simulator

ROOT = Path(__file__).resolve().parent.parent
TARGET_TURN_P95_MS = 800.0
TARGET_PARSE_P95_MS = 50.0
MODEL = ROOT / "models/henkham.tar.gz"
NLU_DATA = ROOT / "data/training/nlu.yml"

# The patients of the conversations (name, sex button), and the two departments of build_world's hospital.
PATIENTS = (
    ("Nguyễn Thị Mai", "Nữ"),
    ("Trần Văn Bình", "Nam"),
    ("Lê Thị Hồng Nhung", "Nữ"),
    ("Phạm Quốc Huy", "Nam"),
    ("Hoàng Thị Lan", "Nữ"),
    ("Võ Minh Tuấn", "Nam"),
    ("Đặng Thu Trang", "Nữ"),
    ("Bùi Đức Anh", "Nam"),
)
DEPARTMENTS = (("nhi", "Nhi"), ("mắt", "Mắt"))
TIME_BUTTON = re.compile(r"–.*\d{1,2}:\d{2}")  # "Thứ Hai 07/12 – 07:00"
CODE = re.compile(r"Mã lịch hẹn: ([A-Z0-9]{6})")
REPLY_TIMEOUT = 120.0  # seconds a user waits for the answer to a message
USERS_APPLICATION = "henkham-bench-users"  # application_name of the users' database connections
NOT_UNDERSTOOD = "chưa hiểu"  # the fallback action's and the forms' "not understood" answers
MARKUP = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # [text](entity) or [text]{"entity": ...}
# --scenario record: what each user asks, and what of their own record each answer must show (beside their name
# and masked CCCD): bot/actions/record_text.py writes "Glucose: 4.50 mmol/L", "(100 viên, 5 ngày)", the date.
RECORD_QUESTIONS = (
    ("cho em xem kết quả xét nghiệm", lambda r: f"{r.glucose} mmol/L"),
    ("đơn thuốc lần trước", lambda r: f"({r.drug_quantity} viên"),
    ("khi nào tái khám", lambda r: f"{r.re_exam:%d/%m/%Y}"),
    ("chẩn đoán của em là gì", lambda r: "Chẩn đoán:"),
)


# --------------------------------------------------------------------------------------------------------
# Processes: CPU use, the model, the stack
# --------------------------------------------------------------------------------------------------------


@dataclass
class CpuSnapshot:
    at: float
    machine: float
    groups: dict[str, dict[int, float]]  # group -> pid -> CPU seconds so far


def cpu_snapshot(
    roots: dict[str, int | Sequence[int] | None],
    dbname: str | Sequence[str],
    backends_of: dict[str, Sequence[int]] | None = None,
) -> CpuSnapshot:
    """CPU seconds used so far by each process tree of ``roots`` (one root or several per group) and by the
    PostgreSQL backends of the bench database(s) ``dbname``; "bench" (this process with its other children) is
    counted without the named trees. ``backends_of`` moves backends (by pid) from "postgres" to a group of their
    own (the users' polling connections, say)."""
    table = processes()
    groups: dict[str, dict[int, float]] = {}
    named: set[int] = set()
    for name, root in roots.items():
        pids = tree(table, *([root] if isinstance(root, int) else root)) if root else []
        named.update(pids)
        groups[name] = {p: table[p].cpu for p in pids}
    groups["bench"] = {p: table[p].cpu for p in tree(table, os.getpid()) if p not in named}
    dbnames = [dbname] if isinstance(dbname, str) else list(dbname)
    groups["postgres"] = {pid: table[pid].cpu for name in dbnames for pid in postgres_backends(table, name)}
    for group, pids in (backends_of or {}).items():
        moved = {pid: groups["postgres"].pop(pid) for pid in pids if pid in groups["postgres"]}
        groups[group] = {**groups.get(group, {}), **moved}
    return CpuSnapshot(time.monotonic(), machine_busy(), groups)


def cpu_seconds(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, float]:
    """CPU seconds each group used between two snapshots, and the whole machine's ("machine"). A process that
    ended in between is left out (PostgreSQL backends of closed connections, mostly); one that started in
    between counts from its start."""
    used = {
        name: sum(cpu - start.groups.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in end.groups.items()
    }
    return {**used, "machine": end.machine - start.machine}


def cpu_use(start: CpuSnapshot, end: CpuSnapshot) -> str:
    """Cores used between two snapshots: the machine, each group, and everything else on the machine."""
    wall = max(1e-9, end.at - start.at)
    used = cpu_seconds(start, end)
    machine = used.pop("machine") / wall
    groups = {name: seconds / wall for name, seconds in used.items()}
    parts = [f"machine {machine:.2f} of {os.cpu_count()} cores busy"]
    parts += [f"{name} {cores:.2f}" for name, cores in groups.items()]
    parts.append(f"others on the machine {max(0.0, machine - sum(groups.values())):.2f}")
    return ", ".join(parts)


def rasa_trainings() -> list[int]:
    """Pids of ``rasa train`` processes running on the machine (another engineer's, say)."""
    found = []
    for pid, proc in processes().items():
        names = [Path(a).name for a in proc.argv[:3]]
        if "rasa" in names and names.index("rasa") + 1 < len(proc.argv) and "train" in proc.argv:
            found.append(pid)
    return found


def ensure_model(folder: Path, wait_seconds: float) -> str:
    """Wait for a training in progress, then ``scripts/train --if-stale``; returns what was done."""
    deadline = time.monotonic() + wait_seconds
    waited = False
    while pids := rasa_trainings():
        if time.monotonic() > deadline:
            raise BenchError(f"a Rasa training (pid {pids}) still runs after {wait_seconds:.0f} s")
        if not waited:
            log(f"model: waiting for the Rasa training in progress (pid {', '.join(map(str, pids))})")
            waited = True
        time.sleep(10)
    log("model: scripts/train --if-stale")
    began = time.monotonic()
    with open(folder / "train.log", "wb") as out:
        done = subprocess.run(
            [str(ROOT / "scripts/train"), "--if-stale"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        tail = (folder / "train.log").read_text(errors="replace")[-2000:]
        raise BenchError(f"scripts/train --if-stale failed ({done.returncode}):\n{tail}")
    spent = time.monotonic() - began
    trained = spent > 30 or "training" in (folder / "train.log").read_text(errors="replace")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(MODEL.stat().st_mtime))
    what = f"trained now ({spent:.0f} s)" if trained else "current"
    return f"{MODEL.relative_to(ROOT)} {what}, written {stamp}" + (", after waiting for a training" if waited else "")


@dataclass
class Stack:
    db: Database
    simulator_base: str
    rasa_url: str
    rasa_pid: int | None
    actions_pid: int | None
    simulator_pid: int | None


@contextlib.contextmanager
def running_stack(url: str, folder: Path, *, inbox_threads: int, sender_threads: int) -> Iterator[Stack]:
    """``tests.dialogue_stack.running_dialogue`` with the workers' thread counts of this bench."""
    with running_dialogue(url, folder, inbox_threads=inbox_threads, sender_threads=sender_threads) as dialogue:
        yield Stack(
            db=dialogue.db,
            simulator_base=dialogue.simulator.base,
            rasa_url=dialogue.rasa_url,
            rasa_pid=dialogue.rasa_pid,
            actions_pid=dialogue.actions_pid,
            simulator_pid=own_child(processes(), "SimulatorConfig", dialogue.simulator.base.rsplit(":", 1)[1]),
        )


# --------------------------------------------------------------------------------------------------------
# 1. Booking conversations
# --------------------------------------------------------------------------------------------------------


class ConversationError(RuntimeError):
    pass


class Chat:
    """One user's side of the chat, as ``tests.dialogue_stack.DialogueStack.say`` / ``tap`` do it: the text
    goes through the simulator (a signed webhook), then the user waits for the first reply (a long poll of the
    simulator) and until all their events are handled and all replies sent, polling the database every
    ``poll`` seconds, and reads the replies from the simulator."""

    def __init__(self, db: Database, simulator_base: str, poll: float, timeout: float, oa_id: str = OA_ID) -> None:
        self.db = db
        self.simulator = Simulator(simulator_base)  # its own HTTP session
        self.poll = poll
        self.timeout = timeout
        self.oa_id = oa_id

    def say(self, user_id: str, text: str) -> list[dict[str, Any]]:
        oa_id = self.oa_id
        after = max((m["seq"] for m in self.simulator.messages(oa_id=oa_id, user_id=user_id)), default=0)
        response = self.simulator.http.post(
            f"{self.simulator.base}/_sim/chat/send",
            json={"oa_id": oa_id, "user_id": user_id, "text": text},
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise ConversationError(f"the simulator did not send {text!r}: HTTP {response.status_code}")
        deadline = time.monotonic() + self.timeout
        # A long poll until the first reply; only then the database, for the rest of the turn's replies.
        self.simulator.messages(oa_id=oa_id, user_id=user_id, after=str(after), wait=f"{min(self.timeout, 60):g}")
        while not settled_among_many(self.db, user_id):
            if time.monotonic() > deadline:
                raise ConversationError(f"no answer to {text!r} within {self.timeout:g} s")
            time.sleep(self.poll)
        replies = [m["message"] for m in self.simulator.messages(oa_id=oa_id, user_id=user_id, after=str(after))]
        if not replies:
            raise ConversationError(f"no answer to {text!r}")
        return replies

    def tap(self, user_id: str, message: dict[str, Any], title_part: str) -> list[dict[str, Any]]:
        """The user taps the button of ``message`` whose title contains ``title_part``."""
        try:
            payload = button_payload(message, title_part)
        except AssertionError as error:
            raise ConversationError(str(error)) from None
        return self.say(user_id, payload)


@dataclass
class UserRun:
    user: str
    index: int
    turns: int = 0
    not_understood: int = 0  # turns answered with "not understood"
    bot_down: int = 0  # turns answered with the "assistant unavailable" message
    code: str | None = None
    error: str | None = None
    record: RecordUser | None = None  # --scenario record: the user's record, what they must be shown
    own_answers: int = 0  # --scenario record: answers that showed the user's own record
    oa_id: str = OA_ID  # the OA (hospital) the user writes to


def converse(chat: Chat, run: UserRun, think: float) -> None:
    """One user's 10-turn booking conversation, typed and tapped as a patient would; records the outcome.
    With ``think`` the user starts after a random pause of up to ``think`` seconds (users do not all arrive in
    the same instant) and reads and answers each reply in 0.5 to 1.5 times ``think`` (drawn per turn, seeded
    by the user's number)."""
    user, n = run.user, run.index
    rng = random.Random(n)
    if think:
        time.sleep(rng.uniform(0, think))
    name, sex = PATIENTS[n % len(PATIENTS)]
    department, department_name = DEPARTMENTS[n % len(DEPARTMENTS)]

    def turn(replies: list[dict[str, Any]], last: bool = False) -> list[dict[str, Any]]:
        run.turns += 1
        said = text_of(replies)
        run.not_understood += NOT_UNDERSTOOD in said
        run.bot_down += BOT_DOWN in said
        if think and not last:
            time.sleep(think * rng.uniform(0.5, 1.5))
        return replies

    def expect(condition: bool, what: str, replies: list[dict[str, Any]]) -> None:
        if not condition:
            raise ConversationError(f"turn {run.turns}: expected {what}, got {text_of(replies)[:200]!r}")

    turn(chat.say(user, "Xin chào"))
    offer = turn(chat.say(user, f"cho em đặt lịch khám khoa {department} sáng thứ 2 tuần sau"))
    if "khoa nào" in text_of(offer):  # the department was not understood: tap it (one more turn)
        offer = turn(chat.tap(user, offer[-1], department_name))
    times = [b for b in buttons_of(offer[-1]) if TIME_BUTTON.search(b["title"])]
    expect(bool(times), "times offered", offer)
    who = turn(chat.say(user, times[n % len(times)]["payload"]))  # users spread over the offered times
    name_question = turn(chat.tap(user, who[-1], "Tôi đi khám"))
    expect("họ và tên" in text_of(name_question), "the name question", name_question)
    birth_question = turn(chat.say(user, name))
    expect("sinh" in text_of(birth_question), "the birth date question", birth_question)
    sex_question = turn(chat.say(user, f"{1 + n % 28:02d}/{1 + n % 12:02d}/{1960 + n % 40}"))
    phone_question = turn(chat.tap(user, sex_question[-1], sex))
    expect("số điện thoại" in text_of(phone_question), "the phone question", phone_question)
    kind_question = turn(chat.say(user, f"09{12_345_600 + n:08d}"))
    summary = turn(chat.tap(user, kind_question[-1], "BHYT"))
    expect(name in text_of(summary) and department_name in text_of(summary), "the summary", summary)
    done = turn(chat.tap(user, summary[-1], "Xác nhận"), last=True)
    found = CODE.search(text_of(done))
    expect(found is not None, "a booking code", done)
    run.code = found.group(1) if found else None


def converse_record(chat: Chat, run: UserRun, think: float) -> None:
    """One user's record questions (RECORD_QUESTIONS), with the pauses of :func:`converse`; each answer must
    show the user's own record."""
    record = run.record
    assert record is not None
    rng = random.Random(run.index)
    if think:
        time.sleep(rng.uniform(0, think))
    for number, (question, own_value) in enumerate(RECORD_QUESTIONS, start=1):
        replies = chat.say(run.user, question)
        run.turns += 1
        said = text_of(replies)
        run.not_understood += NOT_UNDERSTOOD in said
        run.bot_down += BOT_DOWN in said
        missing = [x for x in (record.full_name, record.cccd_masked, own_value(record)) if x not in said]
        if missing:
            raise ConversationError(f"turn {number} ({question!r}): {missing} not in {said[:300]!r}")
        run.own_answers += 1
        if think and number < len(RECORD_QUESTIONS):
            time.sleep(think * rng.uniform(0.5, 1.5))


def run_user(chat: Chat, run: UserRun, think: float, go: Any) -> None:
    try:
        if not go.wait(timeout=300):
            raise ConversationError("no start signal")
        (converse if run.record is None else converse_record)(chat, run, think)
    except Exception as error:  # a time-out, an unexpected answer, a missing button
        run.error = f"{type(error).__name__}: {str(error).strip()[:300]}"


def users_main(
    url: str, simulator_base: str, runs: list[UserRun], think: float, poll: float, ready: Any, go: Any, results: Any
) -> None:
    """The users' process: one thread per user, all released by ``go``; sends ``runs`` back when done."""
    db: Database | None = None
    try:
        # Its own pool: a polling thread holds a reader connection for a moment (PostgreSQL's 100 are shared).
        separator = "&" if "?" in url else "?"
        db = Database(
            f"{url}{separator}application_name={USERS_APPLICATION}", pool_size=min(len(runs), 8) + 2, max_overflow=2
        )
        threads = [
            threading.Thread(
                target=run_user,
                args=(Chat(db, simulator_base, poll, REPLY_TIMEOUT, r.oa_id), r, think, go),
                daemon=True,
            )
            for r in runs
        ]
        for thread in threads:
            thread.start()
        ready.set()
        for thread in threads:
            thread.join()
    except Exception:
        for r in runs:
            r.error = r.error or traceback.format_exc(limit=3)
    finally:
        ready.set()
        if db is not None:
            db.dispose()
        results.put(runs)


@dataclass
class TurnTiming:
    """One user message: seconds since the epoch."""

    received: float  # the webhook accepted the event
    taken: float | None  # a worker started handling it (the replies' created_at)
    first: float | None  # the first reply handed to Zalo
    last: float | None  # the last reply handed to Zalo
    outcome: str
    text: str = ""  # what the user wrote


@dataclass
class ConversationResult:
    users: list[UserRun]
    turns: list[TurnTiming]
    wall: float  # from the first event received to the last reply handed over
    bookings_in_db: int
    sent_at_fallbacks: int  # replies timed by zalo_outbox.sent_at (not found in the simulator)
    cpu: str
    outcomes: Counter[str] = field(default_factory=Counter)

    def latencies(self, start: str, end: str) -> list[float]:
        """Seconds from the ``start`` to the ``end`` moment of each turn that has both, sorted."""
        pairs = [(getattr(t, start), getattr(t, end)) for t in self.turns]
        return sorted(b - a for a, b in pairs if a is not None and b is not None)

    @property
    def errors(self) -> list[UserRun]:
        return [u for u in self.users if u.error]


def epoch(moment: Any) -> float:
    return ensure_utc(moment).timestamp()


def collect_turns(
    db: Database, simulator: Simulator, users: Sequence[str], oa_ids: Sequence[str] = (OA_ID,)
) -> tuple[list[TurnTiming], int]:
    """Each user message of ``users`` (of the OAs ``oa_ids``) with the times of its replies (from the DB and the
    simulator)."""
    handed = {
        m["message_id"]: m["time"] / 1000
        for oa_id in oa_ids
        for m in simulator.messages(oa_id=oa_id, kind="cs")
        if m.get("message_id")
    }
    with db.reader() as uow:
        events = uow.session.execute(
            select(InboundEvent.id, InboundEvent.received_at, InboundEvent.outcome, InboundEvent.payload).where(
                InboundEvent.user_id.in_(users), InboundEvent.event_name == "user_send_text"
            )
        ).all()
        replies = uow.session.execute(
            select(
                OutboundMessage.idempotency_key,
                OutboundMessage.zalo_message_id,
                OutboundMessage.created_at,
                OutboundMessage.sent_at,
            ).where(OutboundMessage.user_id.in_(users), OutboundMessage.idempotency_key.like("in:%"))
        ).all()
    by_event: dict[int, list[tuple[float, float | None]]] = {}  # event id -> [(created, handed)]
    fallbacks = 0
    for key, message_id, created_at, sent_at in replies:
        moment = handed.get(message_id)
        if moment is None and sent_at is not None:
            moment, fallbacks = epoch(sent_at), fallbacks + 1
        by_event.setdefault(int(key.split(":")[1]), []).append((epoch(created_at), moment))
    turns = []
    for event_id, received_at, outcome, payload in events:
        found = by_event.get(event_id, [])
        sent = [moment for _created, moment in found if moment is not None]
        turns.append(
            TurnTiming(
                received=epoch(received_at),
                taken=min((created for created, _moment in found), default=None),
                first=min(sent, default=None),
                last=max(sent, default=None),
                outcome=outcome,
                text=message_text(payload),
            )
        )
    return turns, fallbacks


def message_text(payload: str) -> str:
    """The text of a ``user_send_text`` webhook body."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return str(json.loads(payload)["message"]["text"])
    return ""


def count_bookings(db: Database, codes: Sequence[str]) -> int:
    with db.reader() as uow:
        return int(
            uow.session.scalar(select(func.count()).where(Appointment.code.in_(codes), Appointment.status == "booked"))
            or 0
        )


def conversation_phase(
    stack: Stack, url: str, dbname: str, runs: list[UserRun], think: float, poll: float
) -> ConversationResult:
    """The conversations of ``runs`` at once, from a process of their own (the users are not the server: they
    must not take the stack's GIL); then their turns' timings from the database and the simulator."""
    spawn = mp.get_context("spawn")
    ready, go, results = spawn.Event(), spawn.Event(), spawn.Queue()
    process = spawn.Process(
        target=users_main, args=(url, stack.simulator_base, runs, think, poll, ready, go, results), name="bench-users"
    )
    process.start()
    try:
        if not ready.wait(timeout=120):
            raise BenchError("the users' process did not start within 120 s")
        roots = {
            "rasa": stack.rasa_pid,
            "actions": stack.actions_pid,
            "simulator": stack.simulator_pid,
            "users": process.pid,
        }
        before = cpu_snapshot(roots, dbname)
        go.set()
        try:
            done: list[UserRun] = results.get(timeout=REPLY_TIMEOUT * 12 + 60)
        except queue.Empty:
            raise BenchError("the conversations did not end in time") from None
        after = cpu_snapshot(roots, dbname)
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()  # our own users' process, by handle
            process.join(timeout=5)

    turns, fallbacks = collect_turns(stack.db, Simulator(stack.simulator_base), [r.user for r in done])
    ends = [t.last for t in turns if t.last is not None]
    codes = [r.code for r in done if r.code]
    return ConversationResult(
        users=done,
        turns=turns,
        wall=max(ends) - min(t.received for t in turns) if ends else float("nan"),
        bookings_in_db=count_bookings(stack.db, codes) if codes else 0,
        sent_at_fallbacks=fallbacks,
        cpu=cpu_use(before, after),
        outcomes=Counter(t.outcome for t in turns),
    )


def phase_users(args: argparse.Namespace) -> dict[str, list[str]]:
    """The users of each phase of :func:`run_conversations` (their Zalo user ids)."""
    phases = {
        "warmup": ["bench-warmup"],
        "alone": ["bench-alone"],
        "load": [f"bench-user-{i + 1:03d}" for i in range(args.users)],
    }
    if args.saturation:
        phases["rush"] = [f"bench-rush-{i + 1:03d}" for i in range(args.users)]
    return phases


def run_conversations(
    stack: Stack, url: str, dbname: str, args: argparse.Namespace, records: dict[str, RecordUser]
) -> tuple[ConversationResult, ConversationResult, ConversationResult | None]:
    """A warm-up conversation (untimed), one user alone (the reference), ``--users`` users at once who take
    ``--think`` seconds to answer (the target), then (unless ``--no-saturation``) as many who answer at once
    (the stack's capacity). With ``records`` (--scenario record), the users ask about their records."""
    users = phase_users(args)

    def runs(phase: str, first: int = 0) -> list[UserRun]:
        return [UserRun(user, first + i, record=records.get(user)) for i, user in enumerate(users[phase])]

    log("conversations: one untimed warm-up conversation")
    warmup = conversation_phase(stack, url, dbname, runs("warmup", 1), 0.0, args.poll)
    if warmup.errors:
        raise BenchError(f"the warm-up conversation failed: {warmup.errors[0].error}")
    log("conversations: one user alone (reference)")
    alone = conversation_phase(stack, url, dbname, runs("alone"), 0.0, args.poll)
    log(f"conversations: {args.users} users at once, about {args.think:g} s think time")
    load = conversation_phase(stack, url, dbname, runs("load"), args.think, args.poll)
    if not args.saturation:
        return alone, load, None
    log(f"conversations: {args.users} users at once answering without a pause (saturation)")
    return alone, load, conversation_phase(stack, url, dbname, runs("rush"), 0.0, args.poll)


# --------------------------------------------------------------------------------------------------------
# 2. NLU parse
# --------------------------------------------------------------------------------------------------------


def nlu_texts(count: int, seed: int) -> list[str]:
    """``count`` distinct training examples, round-robin over the intents (entity markup removed)."""
    data = yaml.safe_load(NLU_DATA.read_text(encoding="utf-8"))
    pools: list[list[str]] = []
    for item in data.get("nlu", []):
        if "intent" not in item:
            continue  # synonyms, regexes, lookups
        lines = [line.strip() for line in str(item.get("examples", "")).splitlines()]
        pools.append([MARKUP.sub(r"\1", line[2:]).strip() for line in lines if line.startswith("- ")])
    rng = random.Random(seed)
    for pool in pools:
        rng.shuffle(pool)
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < count and any(pools):
        for pool in pools:
            while pool and len(chosen) < count:
                text = pool.pop()
                if text and text not in seen:
                    seen.add(text)
                    chosen.append(text)
                    break
    return chosen


@dataclass
class ParseRun:
    clients: int
    latencies: list[float]  # seconds, sorted
    wall: float
    errors: int
    intents: Counter[str]
    cpu: str = ""


def parse_all(url: str, texts: Sequence[str], start: threading.Barrier | None, out: list[tuple[float, str]]) -> None:
    """POST each text to /model/parse, appending (latency, intent or "error:...") to ``out``."""
    http = requests.Session()
    if start is not None:
        start.wait(timeout=60)
    for text in texts:
        began = time.perf_counter()
        try:
            response = http.post(f"{url}/model/parse", json={"text": text}, params={"token": RASA_TOKEN}, timeout=10)
            elapsed = time.perf_counter() - began
            intent = ((response.json() or {}).get("intent") or {}).get("name") if response.ok else None
            out.append((elapsed, intent or f"error:HTTP {response.status_code}"))
        except (requests.RequestException, ValueError) as error:
            out.append((time.perf_counter() - began, f"error:{type(error).__name__}"))


def run_parse(url: str, texts: Sequence[str], clients: int) -> ParseRun:
    """``clients`` threads, each with its own session, share ``texts``; returns their latencies."""
    results: list[list[tuple[float, str]]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1) if clients > 1 else None
    if start is None:
        began = time.perf_counter()
        parse_all(url, texts, None, results[0])
    else:
        threads = [
            threading.Thread(target=parse_all, args=(url, texts[i::clients], start, results[i]), daemon=True)
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        start.wait(timeout=60)
        began = time.perf_counter()
        for thread in threads:
            thread.join(timeout=600)
    wall = time.perf_counter() - began
    merged = [item for result in results for item in result]
    intents = Counter(intent for _latency, intent in merged)
    errors = sum(n for intent, n in intents.items() if intent.startswith("error:"))
    return ParseRun(clients, sorted(latency for latency, _ in merged), wall, errors, intents)


def run_nlu(stack: Stack, dbname: str, args: argparse.Namespace) -> tuple[ParseRun, ParseRun, int]:
    texts = nlu_texts(args.nlu_texts, args.seed)
    roots = {"rasa": stack.rasa_pid, "actions": stack.actions_pid, "simulator": stack.simulator_pid}
    log(f"nlu: {len(texts)} texts; 20 untimed parses first")
    run_parse(stack.rasa_url, texts[:20], 1)
    log("nlu: sequential")
    before = cpu_snapshot(roots, dbname)
    sequential = run_parse(stack.rasa_url, texts, 1)
    sequential.cpu = cpu_use(before, cpu_snapshot(roots, dbname))
    log(f"nlu: {args.nlu_clients} concurrent clients, {args.nlu_rounds} round(s) of the texts")
    before = cpu_snapshot(roots, dbname)
    concurrent = run_parse(stack.rasa_url, list(texts) * args.nlu_rounds, args.nlu_clients)
    concurrent.cpu = cpu_use(before, cpu_snapshot(roots, dbname))
    return sequential, concurrent, len(texts)


# --------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------


def verdict(p95_seconds: float, target_ms: float) -> str:
    return "PASS" if p95_seconds * 1000 <= target_ms else "FAIL"


def latency_cells(values: Sequence[float]) -> list[str]:
    return [ms(percentile(values, 50)), ms(percentile(values, 95)), ms(values[-1]) if values else "nan"]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.1f}/s" if seconds > 0 else ""


def ms_json(seconds: float) -> float | None:
    return None if seconds != seconds else round(seconds * 1000, 1)  # NaN (no values) -> null


def summary(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50": ms_json(percentile(values, 50)),
        "p95": ms_json(percentile(values, 95)),
        "max": ms_json(values[-1] if values else float("nan")),
    }


def figures(
    alone: ConversationResult,
    load: ConversationResult,
    rush: ConversationResult | None,
    sequential: ParseRun,
    concurrent: ParseRun,
    memory: tuple[int, int, int],
    *,
    records: bool = False,
) -> tuple[list[list[str]], dict[str, Any]]:
    """The table rows and the JSON figures (``records``: of --scenario record)."""
    users = len(load.users)
    first = load.latencies("received", "first")
    turns = len(load.turns)
    turn_verdict = verdict(percentile(first, 95), TARGET_TURN_P95_MS) if first else "FAIL"
    parse_verdict = verdict(percentile(sequential.latencies, 95), TARGET_PARSE_P95_MS)

    def row(
        measure: str, clients: int, values: list[float], throughput: str = "", target: str = "", result: str = ""
    ) -> list[str]:
        return [measure, str(clients), str(len(values)), throughput, *latency_cells(values), target, result]

    rows = [
        row(
            "turn: webhook -> first reply to Zalo",
            users,
            first,
            rate(turns, load.wall),
            f"p95 ≤ {TARGET_TURN_P95_MS:g} ms",
            turn_verdict,
        ),
        row("  of which inbox wait (-> a worker)", users, load.latencies("received", "taken")),
        row("  of which worker -> first reply", users, load.latencies("taken", "first")),
        row("turn: webhook -> last reply to Zalo", users, load.latencies("received", "last")),
        row(
            "turn: first reply, 1 user alone (ref.)",
            1,
            alone.latencies("received", "first"),
            rate(len(alone.turns), alone.wall),
        ),
    ]
    if records:  # each question's own figures, under the first row
        rows[1:1] = [
            row(f"  «{question}»", users, question_latencies(load, question)) for question, _ in RECORD_QUESTIONS
        ]
    if rush is not None:
        rush_first = rush.latencies("received", "first")
        rows.append(
            row(
                "turn: first reply, no think (saturation)",
                len(rush.users),
                rush_first,
                rate(len(rush.turns), rush.wall),
            )
        )
    for run, target in ((sequential, f"p95 ≤ {TARGET_PARSE_P95_MS:g} ms"), (concurrent, "")):
        name = "sequential" if run.clients == 1 else "concurrent"
        throughput = rate(len(run.latencies), run.wall)
        rows.append(row(f"nlu: POST /model/parse, {name}", run.clients, run.latencies, throughput, target))
        if target:
            rows[-1][-1] = parse_verdict
    rss, peak, count = memory
    data = {
        "bench": "conversation",
        "users": users,
        "turns": turns,
        "turns_per_s": round(turns / load.wall, 2) if load.wall > 0 else None,
        "turn_first_reply_ms": summary(first),
        "turn_inbox_wait_ms": summary(load.latencies("received", "taken")),
        "turn_last_reply_ms": summary(load.latencies("received", "last")),
        "turn_first_reply_alone_ms": summary(alone.latencies("received", "first")),
        "saturation": None
        if rush is None
        else {
            "turns_per_s": round(len(rush.turns) / rush.wall, 2) if rush.wall > 0 else None,
            "turn_first_reply_ms": summary(rush.latencies("received", "first")),
        },
        **(
            {"records": {"users": users, "own_answers": sum(u.own_answers for u in load.users)}}
            if records
            else {
                "bookings": {
                    "users": users,
                    "codes": sum(1 for u in load.users if u.code),
                    "in_db": load.bookings_in_db,
                }
            }
        ),
        "not_understood_turns": sum(u.not_understood for u in load.users),
        "failed_conversations": len(load.errors),
        "nlu_texts": len(sequential.latencies),
        "nlu_parse_ms": summary(sequential.latencies),
        "nlu_parses_per_s": {
            "1": round(len(sequential.latencies) / sequential.wall, 1),
            str(concurrent.clients): round(len(concurrent.latencies) / concurrent.wall, 1),
        },
        "nlu_concurrent_ms": summary(concurrent.latencies),
        "rasa_rss_mib": round(rss / 1024, 1),
        "rasa_peak_rss_mib": round(peak / 1024, 1),
        "rasa_processes": count,
        "targets": {"turn_p95": turn_verdict, "nlu_parse_p95": parse_verdict},
    }
    return rows, data


def question_latencies(result: ConversationResult, question: str) -> list[float]:
    """Seconds from the webhook to the first reply of the turns that asked ``question``, sorted."""
    return sorted(t.first - t.received for t in result.turns if t.text == question and t.first is not None)


def rasa_memory(pid: int | None) -> tuple[int, int, int]:
    """RSS (KiB) of the Rasa server and its children, the server's peak RSS, and how many processes."""
    if pid is None:
        raise BenchError("the Rasa server's process was not found in /proc")
    table = processes()
    pids = tree(table, pid)
    return sum(table[p].rss_kib for p in pids), peak_rss_kib(pid), len(pids)


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


def run(url: str, dbname: str, folder: Path, args: argparse.Namespace) -> int:
    load_before = os.getloadavg()
    print(
        f"machine     : nproc={os.cpu_count()}, {platform.machine()}, load average "
        f"{', '.join(f'{x:.2f}' for x in load_before)} at the start"
    )
    print(f"model       : {ensure_model(folder, args.train_wait)}")
    upgrade(url)
    db = Database(url)
    records: dict[str, RecordUser] = {}
    try:
        build_world(
            db, start=local_today(), days=16, capacity=args.capacity, booking_horizon_days=30, min_lead_minutes=60
        )
        if args.scenario == "record":
            everyone = [user for names in phase_users(args).values() for user in names]
            log(f"records: {len(everyone)} users × {args.record_visits} visits, imported, linked, consenting")
            seeded = seed_record_users(db, everyone, OA_ID, visits=args.record_visits)
            records = {user.user_id: user for user in seeded}
    finally:
        db.dispose()
    print(
        f"stack       : web app (werkzeug, threaded) + {args.inbox_threads} inbox / {args.sender_threads} sender "
        f"threads in this process; henkham actions, scripts/rasa-server, Zalo simulator as processes"
    )
    print(f"world       : hospital 'test' (nhi, mat), 16 days of slots, {args.capacity} seats a slot")
    if records:
        print(
            f"records     : {len(records)} users, each linked (at the desk) to a record of {args.record_visits} "
            "visits at 'test' and 'other', consenting to summaries in chat"
        )
    print()
    log("stack: starting")
    with running_stack(url, folder, inbox_threads=args.inbox_threads, sender_threads=args.sender_threads) as stack:
        log(f"stack: up (Rasa pid {stack.rasa_pid}, action server pid {stack.actions_pid})")
        alone, load, rush = run_conversations(stack, url, dbname, args, records)
        log(f"conversations: {len(load.turns)} turns in {load.wall:.1f} s")
        sequential, concurrent, text_count = run_nlu(stack, dbname, args)
        memory = rasa_memory(stack.rasa_pid)
    load_after = os.getloadavg()

    rows, data = figures(alone, load, rush, sequential, concurrent, memory, records=bool(records))
    users = load.users
    print()
    print(
        f"Results: {len(users)} users at once × {'record questions' if records else 'booking conversation'} "
        f"({len(load.turns) / max(1, len(users)):.1f} turns each), think about {args.think:g} s "
        f"(0.5-1.5 times, arrivals spread over {args.think:g} s), poll {args.poll:g} s; "
        f"{args.inbox_threads} inbox / {args.sender_threads} sender threads; NLU over {text_count} texts"
    )
    print()
    head = ["measure", "clients", "calls", "throughput", "p50 ms", "p95 ms", "max ms", "target", "result"]
    print_columns(head, rows, "<>>>>>><<")
    print()
    rss, peak, count = memory
    print(f"rasa memory : RSS {rss / 1024:.0f} MiB ({count} process(es)) after the runs; peak {peak / 1024:.0f} MiB")
    phases = [load] + ([rush] if rush is not None else [])
    everyone = [u for phase in phases for u in phase.users]
    booked = sum(1 for u in everyone if u.code)
    in_db = sum(phase.bookings_in_db for phase in phases)
    own = sum(1 for u in everyone if u.own_answers == len(RECORD_QUESTIONS))
    if records:
        print(f"records     : {own}/{len(everyone)} users were shown their own record in every answer")
    else:
        print(f"bookings    : {booked}/{len(everyone)} users got a code; {in_db} of them booked in the DB")
    print(
        f"turns       : {len(load.turns)} user messages; "
        f"{sum(u.not_understood for u in users)} answered 'not understood', "
        f"{sum(u.bot_down for u in users)} 'assistant unavailable'; inbox outcomes "
        + ", ".join(f"{k}={v}" for k, v in load.outcomes.most_common())
    )
    timed_by_sent_at = sum(phase.sent_at_fallbacks for phase in (alone, *phases))
    if timed_by_sent_at:
        print(f"              {timed_by_sent_at} replies timed by zalo_outbox.sent_at (not found in the simulator)")
    print(f"cpu (cores) : {args.users} users: {load.cpu}")
    if rush is not None:
        print(f"              {args.users} users, no think: {rush.cpu}")
    print(f"              1 user alone: {alone.cpu}")
    print(f"              nlu sequential: {sequential.cpu}")
    print(f"              nlu concurrent: {concurrent.cpu}")
    nlu_errors = sequential.errors + concurrent.errors
    fallback = sequential.intents.get("nlu_fallback", 0)
    print(f"nlu         : {nlu_errors} errors; {fallback} of {len(sequential.latencies)} parsed as nlu_fallback")
    print(
        f"load        : {', '.join(f'{x:.2f}' for x in load_before)} at the start, "
        f"{', '.join(f'{x:.2f}' for x in load_after)} at the end (1, 5, 15 min)"
    )
    failed = [u for phase in (alone, *phases) for u in phase.errors]
    for u in failed:
        print(f"FAILED      : {u.user} after {u.turns} turns: {u.error}", file=sys.stderr)

    problems = [f"target {name} {v}" for name, v in data["targets"].items() if v != "PASS"]
    if records and own != len(everyone):
        problems.append(f"own records shown to {own}/{len(everyone)} users")
    if not records and (booked != len(everyone) or in_db != len(everyone)):
        problems.append(f"bookings {in_db}/{len(everyone)}")
    if failed:
        problems.append(f"{len(failed)} conversations failed")
    if nlu_errors:
        problems.append(f"{nlu_errors} NLU requests failed")
    data.update(
        scenario=args.scenario,
        database=url.split(":")[0].split("+")[0],
        inbox_threads=args.inbox_threads,
        sender_threads=args.sender_threads,
        think_s=args.think,
        poll_s=args.poll,
        load_before=[round(x, 2) for x in load_before],
        load_after=[round(x, 2) for x in load_after],
        problems=problems,
    )
    print("targets: " + ", ".join(f"{name} {v}" for name, v in data["targets"].items()))
    print(json.dumps(data, ensure_ascii=False))
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    add_database_arguments(parser, ADMIN_URL, None)
    parser.add_argument(
        "--scenario",
        choices=("booking", "record"),
        default="booking",
        help="what the users do: book an appointment (booking, the default) or ask about their records (record)",
    )
    parser.add_argument(
        "--record-visits", type=int, default=50, help="visits of each user's record, --scenario record (50)"
    )
    parser.add_argument("--users", type=int, default=20, help="users chatting at once (20)")
    parser.add_argument(
        "--think",
        type=float,
        default=3.0,
        help="mean seconds a user takes to read a reply and answer (3; each pause 0.5-1.5 times it)",
    )
    parser.add_argument(
        "--saturation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the users answering without a pause, for the capacity (on)",
    )
    parser.add_argument(
        "--poll", type=float, default=0.1, help="seconds between a waiting user's checks for the answer (0.1)"
    )
    parser.add_argument("--capacity", type=int, default=25, help="seats a slot (25)")
    parser.add_argument("--inbox-threads", type=int, default=8, help="inbox worker threads (8, henkham zalo worker)")
    parser.add_argument("--sender-threads", type=int, default=4, help="sender threads (4, henkham zalo sender)")
    parser.add_argument("--nlu-texts", type=int, default=200, help="distinct texts of the NLU run (200)")
    parser.add_argument("--nlu-clients", type=int, default=4, help="concurrent NLU clients (4)")
    parser.add_argument("--nlu-rounds", type=int, default=2, help="times the concurrent run goes over the texts (2)")
    parser.add_argument(
        "--train-wait", type=float, default=3600.0, help="longest wait for another Rasa training, s (3600)"
    )
    add_seed_argument(parser, "of the NLU texts")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per webhook request
    return bench_main(
        args, lambda bench: run(bench.url, bench.dbname, bench.folder, args), name="conversation", sqlite_fallback=True
    )


if __name__ == "__main__":
    sys.exit(main())
