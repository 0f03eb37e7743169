"""Reminders exactly once across scheduler processes, on PostgreSQL (issue 5, acceptance 2).

Real processes (``henkham scheduler``, ``henkham zalo sender``) against the Zalo simulator: two schedulers on
one database plan and deliver nothing twice, also when the leader stops and the other takes over; a leader
SIGKILLed while planning thousands of reminders, and a sender SIGKILLed while delivering them, are replaced
and every reminder reaches its patient exactly once, as the simulator recorded it. The data is written in
bulk (``bench/reminder_world.py``): every appointment's 24 h reminder is due now, each of a different Zalo
user whose chat window is open (so chat messages, whatever the hour).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bench.reminder_world import DueReminders, seed_due_reminders
from bot.zalo_webhook.models import OutboundMessage
from bot.zalo_webhook.notices import ZaloNotifier
from core.reminders.models import Reminder
from core.reminders.planning import kinds_of, plan_appointment_reminders
from core.uow import Database
from tests.conftest import opened, throwaway_postgres
from tests.harness import Children, run_together, wait_until
from tests.zalo_helpers import OA_ID, zalo_settings
from tests.zalo_sim import Simulator, running_simulator

HENKHAM = Path(sys.executable).parent / "henkham"
CODE = re.compile(r"Mã lịch hẹn: ([2-9A-Z]{6})")
KILL_COUNT = 2_000  # reminders planned while the leader is killed (500 per batch: it dies mid-way)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throw-away, migrated PostgreSQL database (skipped with the reason when none is reachable)."""
    with throwaway_postgres() as url:
        yield url


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    with opened(pg_url, pool_size=4, max_overflow=4) as database:
        yield database


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        yield simulator


def oa_settings(url: str):
    return zalo_settings(url).zalo_oas[0]  # the test OA, hospital "test"


def environment(url: str, sim: Simulator) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HENKHAM_")},
        "HENKHAM_DATABASE_URL": url,
        "HENKHAM_ZALO_OAS": json.dumps([oa_settings(url).model_dump()]),
        "HENKHAM_ZALO_API_BASE": sim.base,
        "HENKHAM_ZALO_ZNS_BASE": sim.base,
        "HENKHAM_ZALO_OAUTH_BASE": sim.base,
        "HENKHAM_ZALO_RATE_LIMIT_PER_MINUTE": "600000",
        "HENKHAM_ZALO_OUTBOX_LEASE_SECONDS": "3",
        "HENKHAM_SCHEDULER_REMINDERS_SECONDS": "0.5",
        "HENKHAM_SCHEDULER_RETRY_SECONDS": "0.3",
        "PYTHONUNBUFFERED": "1",
    }


class Processes(Children):
    """``henkham`` subprocesses of one test, with the test's environment; all stopped at the end, by handle."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        super().__init__(folder)
        self.env = env

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:  # type: ignore[override]
        return super().start(name, [str(HENKHAM), *args], self.env)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-2000:]}" for name, _ in self.running)


@pytest.fixture
def processes(pg_url: str, sim: Simulator, tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path, environment(pg_url, sim))
    yield started
    started.stop_all()


def count(db: Database, *conditions, model=Reminder) -> int:
    with db.reader() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)


def wait_for(condition, *, timeout: float, what: str, processes: Processes | None = None, every: float = 0.05) -> None:
    wait_until(condition, timeout=timeout, what=what, details=processes.logs if processes else None, every=every)


def planner_statements_running(db: Database) -> int:
    """Statements on the reminders (a planner's) still running or in an open transaction, besides ours."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND (application_name = 'henkham-scheduler' OR (state <> 'idle' AND query ILIKE '%reminders%'))"
    )
    with db.reader() as uow:
        return uow.session.execute(query).scalar_one()


def assert_each_delivered_once(db: Database, sim: Simulator, worlds: list[DueReminders]) -> None:
    """One reminder row, one outbox row (sent) and one simulator message per appointment; nothing else."""
    users = [u for w in worlds for u in w.user_ids]
    total = len(users)
    outbox = OutboundMessage.__table__
    reminders = Reminder.__table__
    with db.reader() as uow:
        session = uow.session
        rows = session.execute(select(reminders.c.key, reminders.c.outcome, reminders.c.message_key)).all()
        messages = session.execute(
            select(outbox.c.idempotency_key, outbox.c.status, outbox.c.user_id).where(outbox.c.purpose == "reminder")
        ).all()
    assert len(rows) == total and len({r.key for r in rows}) == total, "one reminder row per appointment"
    assert Counter(r.outcome for r in rows) == {"queued": total}
    assert len(messages) == total and len({m.idempotency_key for m in messages}) == total, "one outbox row each"
    assert {r.message_key for r in rows} == {m.idempotency_key for m in messages}, "each reminder its own row"
    assert Counter(m.status for m in messages) == {"done": total}, "every outbox row delivered"
    assert Counter(m.user_id for m in messages) == Counter(users)

    recorded = sim.messages(oa_id=OA_ID)
    per_user = Counter(m["user_id"] for m in recorded)
    assert sum(per_user.values()) == total, f"{sum(per_user.values())} messages in the simulator for {total}"
    assert set(per_user) == set(users) and set(per_user.values()) == {1}, (
        f"not exactly once: {[(u, n) for u, n in per_user.items() if n != 1][:10]}"
    )
    codes = Counter(CODE.search(m["message"]["text"]).group(1) for m in recorded)
    assert len(codes) == total and set(codes.values()) == {1}, "one message per booking code"
    assert {m["kind"] for m in recorded} == {"cs"}, "chat messages (the window is open)"


def leading_lines(log: str) -> int:
    return log.count("scheduler: leading")


def test_two_planners_at_once_plan_each_reminder_once(db: Database) -> None:
    """Below the leader lock: two planners running at the same moment (as two leaders would) split the work
    (SKIP LOCKED) and the unique key holds; nothing is planned or queued twice."""
    world = seed_due_reminders(db, oa_settings(db.url), 1_200)
    kinds = kinds_of([24, 2])
    written = run_together(lambda: plan_appointment_reminders(db, ZaloNotifier(), kinds, batch=100), 2)
    # Each may count a row the other committed just before (the unique key drops the second copy).
    assert sum(written) >= 1_200 and all(n > 0 for n in written), f"both planned a share: {written}"
    assert count(db) == 1_200
    assert count(db, OutboundMessage.purpose == "reminder", model=OutboundMessage) == 1_200
    assert count(db, OutboundMessage.user_id.in_(world.user_ids), model=OutboundMessage) == 1_200


def test_two_scheduler_processes_plan_and_deliver_each_reminder_once(
    db: Database, sim: Simulator, processes: Processes
) -> None:
    first = seed_due_reminders(db, oa_settings(db.url), 600)
    a = processes.start("scheduler-a", "scheduler")
    b = processes.start("scheduler-b", "scheduler")
    processes.start("sender", "zalo", "sender", "--threads", "4")
    wait_for(lambda: count(db) == 600, timeout=90, what="the first 600 reminders planned", processes=processes)

    leads = {"a": leading_lines(processes.log("scheduler-a")), "b": leading_lines(processes.log("scheduler-b"))}
    assert sorted(leads.values()) == [0, 1], f"exactly one leads: {leads}"
    leader, follower = (a, b) if leads["a"] else (b, a)
    follower_name = "scheduler-b" if leader is a else "scheduler-a"

    # The leader stops; more reminders fall due; the other takes over and plans them.
    leader.send_signal(signal.SIGTERM)
    assert leader.wait(timeout=30) == 0
    second = seed_due_reminders(db, oa_settings(db.url), 400, user_prefix="8", code_offset=600)
    wait_for(lambda: count(db) == 1_000, timeout=90, what="the second 400 planned by the other", processes=processes)
    assert leading_lines(processes.log(follower_name)) == 1, "the follower took over"
    assert follower.poll() is None

    wait_for(
        lambda: count(db, OutboundMessage.status != "done", model=OutboundMessage) == 0,
        timeout=120,
        what="every reminder delivered",
        processes=processes,
    )
    # The job keeps running: a reminder falling due now is planned and delivered once, and nothing else is.
    third = seed_due_reminders(db, oa_settings(db.url), 5, user_prefix="6", code_offset=1_000)
    wait_for(
        lambda: count(db) == 1_005 and count(db, OutboundMessage.status != "done", model=OutboundMessage) == 0,
        timeout=90,
        what="the reminders due later planned and delivered",
        processes=processes,
    )
    assert_each_delivered_once(db, sim, [first, second, third])


def test_a_leader_killed_mid_planning_and_a_sender_killed_mid_delivery_lose_and_double_nothing(
    db: Database, sim: Simulator, processes: Processes
) -> None:
    world = seed_due_reminders(db, oa_settings(db.url), KILL_COUNT)
    outbox_rows = lambda: count(db, OutboundMessage.purpose == "reminder", model=OutboundMessage)  # noqa: E731
    sender = processes.start("sender-1", "zalo", "sender", "--threads", "4")
    leader = processes.start("scheduler-1", "scheduler")

    # SIGKILL as soon as part of the reminders is planned: the next batch is being planned right then.
    wait_for(lambda: count(db) > 0, timeout=90, what="the first batch planned", processes=processes, every=0.005)
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=10)
    # The server has seen the dead leader go: its lock session and any statement of its planning are gone.
    wait_for(lambda: planner_statements_running(db) == 0, timeout=30, what="the dead leader's sessions to end")
    planned_at_kill = count(db)
    assert 0 < planned_at_kill < KILL_COUNT, f"the kill landed mid-planning ({planned_at_kill} planned)"
    assert outbox_rows() == planned_at_kill, "reminder rows and their outbox rows commit together"
    # While the sender delivers what was planned, no scheduler runs: nothing more is planned.
    wait_for(
        lambda: count(db, OutboundMessage.status == "done", model=OutboundMessage) == planned_at_kill,
        timeout=120,
        what="the reminders planned before the kill delivered",
        processes=processes,
    )
    assert count(db) == planned_at_kill, "nothing plans while no scheduler runs"

    # A new scheduler takes the lead (the dead one's session, and its advisory lock, are gone) and finishes.
    processes.start("scheduler-2", "scheduler")

    # Meanwhile the sender dies mid-delivery; another takes over once the dead one's leases run out.
    wait_for(
        lambda: len(sim.messages(oa_id=OA_ID)) >= planned_at_kill + 200,
        timeout=90,
        what="some of the new leader's reminders delivered",
        processes=processes,
    )
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=10)
    delivered_at_kill = len(sim.messages(oa_id=OA_ID))
    processes.start("sender-2", "zalo", "sender", "--threads", "4")

    wait_for(lambda: count(db) == KILL_COUNT, timeout=120, what="every reminder planned", processes=processes)
    wait_for(
        lambda: count(db, OutboundMessage.status != "done", model=OutboundMessage) == 0,
        timeout=180,
        what="every reminder delivered",
        processes=processes,
        every=0.2,
    )
    assert delivered_at_kill < KILL_COUNT, "the sender died with reminders still to deliver"
    assert_each_delivered_once(db, sim, [world])
