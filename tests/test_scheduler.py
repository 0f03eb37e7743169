"""One scheduler leads at a time; when the leader stops (or its database session dies) another takes over."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from core.booking.models import Slot
from core.reminders.models import Reminder
from core.scheduler.leadership import FileLeadership, Leadership, PostgresLeadership, leadership_for
from core.scheduler.runner import Job, run_scheduler
from core.timeutil import utcnow
from core.uow import Database
from henkham.migrate import upgrade
from tests.factories import book, build_world, new_patient, today_local
from tests.harness import stopping_thread, wait_until
from tests.zalo_sim import ROOT


@contextmanager
def scheduler(name: str, leadership: Leadership, runs: list[str]) -> Iterator[threading.Event]:
    jobs = [Job("tick", lambda: runs.append(name), 0.05)]
    with stopping_thread(
        lambda stop: run_scheduler(leadership, jobs, stop, retry_seconds=0.2, check_seconds=0.1),
        "the scheduler stops when told to",
        timeout=10,
    ) as stop:
        yield stop


def runs_while_leading(runs: list[str], leader: str, ticks: int = 12) -> list[str]:
    """The runs seen while ``leader`` runs its job ``ticks`` more times (long enough for the other
    scheduler, retrying every 0.2 s, to try to lead more than once)."""
    start = len(runs)
    wait_until(lambda: runs[start:].count(leader) >= ticks, timeout=30, what=f"{ticks} more runs of {leader!r}")
    return runs[start:]


@pytest.mark.postgres_only("the advisory lock is PostgreSQL's; SQLite is shown below")
def test_on_postgresql_one_leads_and_a_stopped_leader_is_replaced(database_url) -> None:
    runs: list[str] = []
    with scheduler("a", PostgresLeadership(database_url), runs) as stop_a:
        wait_until(lambda: "a" in runs, timeout=10, what="the first scheduler to lead")
        with scheduler("b", PostgresLeadership(database_url), runs):
            assert set(runs_while_leading(runs, "a")) == {"a"}, "the second waits while the first leads"
            stop_a.set()
            wait_until(lambda: runs[-1] == "b", timeout=10, what="the second to take over")
            assert set(runs_while_leading(runs, "b")) == {"b"}, "never both at once"


@pytest.mark.postgres_only("the advisory lock is PostgreSQL's")
def test_a_leader_whose_session_dies_stops_its_jobs_then_leads_again(database_url, caplog) -> None:
    runs: list[str] = []
    with scheduler("a", PostgresLeadership(database_url), runs):
        wait_until(lambda: "a" in runs, timeout=10, what="the scheduler to lead")
        with psycopg.connect(PostgresLeadership(database_url)._conninfo, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'henkham-scheduler' AND datname = current_database()"
            ).fetchone()
        assert killed == (1,)
        wait_until(lambda: "lost the lead" in caplog.text, timeout=10, what="the leader to notice")
        before = len(runs)
        wait_until(lambda: len(runs) > before + 2, timeout=10, what="the jobs to run again under a new lead")


def test_on_sqlite_a_second_scheduler_of_the_same_database_waits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'henkham.db'}"
    first, second = leadership_for(url), leadership_for(url)
    assert isinstance(first, FileLeadership)
    assert first.try_lead() and not second.try_lead()
    first.release()
    assert second.try_lead(), "the lock is free once the leader lets go"
    second.release()


def test_the_scheduler_command_refuses_a_database_it_cannot_lead_on() -> None:
    done = subprocess.run(
        [str(ROOT / ".venv/bin/henkham"), "scheduler"],
        env={"HENKHAM_DATABASE_URL": "sqlite://", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("Error: no scheduler leadership"), done.stderr


def test_the_scheduler_command_plans_due_reminders_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'henkham.db'}"
    upgrade(url)
    db = Database(url)
    try:
        world = build_world(db, start=today_local(), days=3, capacity=3)
        now = utcnow()
        with db.reader() as uow:
            slot_id, start = uow.session.execute(
                select(Slot.id, Slot.start_at)
                .where(Slot.start_at > now + dt.timedelta(hours=3), Slot.start_at < now + dt.timedelta(hours=23))
                .order_by(Slot.start_at)
                .limit(1)
            ).one()
        # Booked two days ahead: the 24 h reminder is due now, the 2 h one is not yet.
        book(db, world, slot_id, new_patient(db, world.account_id), now=start - dt.timedelta(hours=48))
        env = {"HENKHAM_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "HENKHAM_SCHEDULER_REMINDERS_SECONDS": "0.5"}
        log = (tmp_path / "scheduler.log").open("wb")
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/henkham"), "scheduler"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:

            def planned() -> int:
                with db.reader() as uow:
                    return uow.session.scalar(select(func.count()).select_from(Reminder)) or 0

            wait_until(planned, timeout=30, what="the reminder planned", alive=lambda: process.poll() is None)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0, "a clean stop on SIGTERM"
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        with db.reader() as uow:
            [reminder] = uow.session.scalars(select(Reminder)).all()
        assert (reminder.kind, reminder.outcome, reminder.reason) == (
            "before_24h",
            "undeliverable",
            "no Zalo OA serves hospital test",  # none is configured here
        )
    finally:
        db.dispose()
