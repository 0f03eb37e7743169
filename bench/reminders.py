"""Benchmark of scheduled reminders on PostgreSQL: 10,000 reminders due in the same minute, planned by the real
scheduler and delivered by the real senders to the Zalo simulator within the app's rate limit.

Run: ``.venv/bin/python bench/reminders.py`` (or ``make bench-reminders``); ``--count 2000`` for a shorter
run. Like the other benches it creates a throw-away database ``henkham_bench_<random>`` on the local server,
migrates it and drops it at the end. The data (``bench/reminder_world.py``): one hospital, ``--count`` booked
appointments 24 hours from now, booked two days ago, so every ``before_24h`` reminder falls due in the
current minute; each of a different patient with their own Zalo user, whose chat window is open (a
conversation with a last interaction of now), so every reminder goes out as a chat message whatever the
hour (no ZNS night ban).

Then, against the Zalo simulator (its three base URLs pointed at it; one OA, the hospital's):

1. ``--senders`` × ``henkham zalo sender --threads`` ``--sender-threads`` start and wait (nothing is queued);
2. ``henkham scheduler`` starts: it leads at once and its reminders job plans every due reminder (batches
   claimed with ``FOR UPDATE SKIP LOCKED``, one outbox message each, in the same transaction);
3. the senders deliver them at the configured limit (``--limit-per-minute``, the product default 4,000).

It reports:

- the delivered rate against the limit, from the times the simulator recorded each message: over the
  steady part of the sending (from ``--steady-skip`` seconds after the first delivery, when the full token
  bucket's initial burst is over, to the last delivery), and over the whole; target ≥ 95 % of the limit;
  the most messages in any 60 s window is checked against the limit plus the bucket's one-second capacity,
  plus the tokens each sender process may hold (drawn a few at a time) and the messages in flight (one per
  thread: a message counts when the simulator records it, after its token was taken);
- exactly once: every appointment has one reminder row, one outbox row, and its user one message in the
  simulator (per user and per key);
- database statements per reminder, counted inside the scheduler and sender processes: they run as
  ``python bench/querycount.py COUNTS.json scheduler`` (the ``henkham`` entry point, same code, with a
  SQLAlchemy ``before_cursor_execute`` / ``commit`` counter, see that file); ``--plain`` runs the bare
  ``henkham`` script instead and leaves only the server-side figure: transactions per reminder from
  ``pg_stat_database`` (``xact_commit + xact_rollback`` of the bench database, less the bench's own reads),
  which counts every autocommit statement and every transaction of all processes, raw psycopg ones too.
  ``pg_stat_statements`` would need the server restarted with it preloaded, so it is not used;
- the scheduler's CPU time (user + system, from /proc/<pid>/stat): in all, before planning (start-up:
  imports, connecting, until its log says it leads), and while planning (from then to the first look that
  saw every reminder row), with the planning's wall time and rate. The senders', simulator's and PostgreSQL
  backends' CPU over the run are shown beside it, and the machine's busy CPU used by other processes (a
  shared machine makes every figure pessimistic: the bench warns);
- how long the senders waited for planned work (the outbox drained while planning went on): then planning,
  not sending, held the delivered rate back. ``--plan-first`` starts the senders only once everything is
  planned, which measures the senders' rate on its own.

The last line printed is one JSON object with the figures. Exit status: 0 when every target is met, 1 when
one is missed (rate, limit, exactly once), 2 when the bench itself could not run, 130 when interrupted.
Every subprocess is stopped by its handle and the database dropped on every way out.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# `python bench/reminders.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from sqlalchemy import event, func, select, text

from bench.booking import ADMIN_URL, print_columns, server_facts
from bench.delivery import DeliveryTimes, add_sender_arguments, per_minute
from bench.procstat import machine_busy, postgres_backends, processes, tree_cpu
from bench.querycount import read_counts
from bench.reminder_world import DueReminders, seed_due_reminders
from bench.webhook import channel_env, henkham_command, start_simulator, transactions
from bot.zalo_webhook.models import OutboundMessage, WorkStatus
from bot.zalo_webhook.ratelimit import RateLimiter
from core.config import ZaloOASettings
from core.reminders.models import Reminder
from core.uow import Database
from henkham.migrate import upgrade
from tests.harness import BenchError, BenchRun, Children, add_database_arguments, bench_main, bench_parser, log

ROOT = Path(__file__).resolve().parent.parent
HOSPITAL = "bv-nhac-lich"
OA = ZaloOASettings(
    oa_id="4000000000000000005",
    app_id="4100000000000000005",
    hospital=HOSPITAL,
    oa_secret_key="bench-oa-secret",
    app_secret="bench-app-secret",
    refresh_token="bench-refresh-token",
    zns_templates={"reminder": "bench-tpl-reminder"},
)
NOWHERE = "http://127.0.0.1:9"  # the simulator's webhook target: nothing in this bench listens for events
TARGET_RATE_RATIO = 0.95
POLL_SECONDS = 0.1


def henkham_argv(plain: bool, counts: Path, *args: str) -> list[str]:
    """``henkham ARGS`` from this interpreter's environment; counted (bench/querycount.py) unless ``plain``."""
    if plain:
        return henkham_command(*args)
    return [sys.executable, str(ROOT / "bench" / "querycount.py"), str(counts), *args]


def process_env(url: str, zalo_base: str, args: argparse.Namespace) -> dict[str, str]:
    env = channel_env(url, zalo_base, args.limit_per_minute, OA)
    if args.reminders_seconds is not None:
        env["HENKHAM_SCHEDULER_REMINDERS_SECONDS"] = str(args.reminders_seconds)
    return env


def cpu_of(pids: Sequence[int], table: dict[int, Any] | None = None) -> float:
    table = table if table is not None else processes()
    return tree_cpu(table, *pids)


@dataclass
class Timeline:
    """What the bench saw while the scheduler and senders ran (monotonic seconds)."""

    scheduler_started: float = 0.0
    killed_with: int | None = None  # reminders planned when the leader was SIGKILLed (--kill-leader)
    senders_started: float | None = None  # up and idle
    senders_cpu_before: float = 0.0  # their CPU then (start-up left out)
    planning_first_seen: float | None = None  # first look with reminder rows
    planning_done_seen: float | None = None  # first look with all of them
    planning_done_ms: int | None = None  # the same moment in the simulator's clock (epoch milliseconds)
    cpu_before_planning: float = 0.0  # scheduler CPU when it was seen leading (its log line), jobs not yet run
    cpu_after_planning: float = 0.0  # at the first look with all rows
    leading_seen: float | None = None
    delivered_all: float | None = None
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (monotonic, reminders, delivered)

    def senders_waiting(self, count: int, in_flight: int) -> float:
        """Seconds during which the senders ran but had (almost) nothing planned left to send: planning was
        what held the delivered rate back then."""
        waited = 0.0
        for (t0, rows, sent), (t1, _, _) in zip(self.samples, self.samples[1:], strict=False):
            running = self.senders_started is not None and t0 >= self.senders_started
            if running and rows < count and sent >= rows - in_flight:
                waited += t1 - t0
        return waited


@dataclass
class Result(DeliveryTimes):
    count: int
    limit: int
    senders: int
    threads: int
    times_ms: list[int]
    steady_skip: float
    per_user: Counter[str]
    unknown_users: int
    reminder_rows: int
    reminder_keys: int
    reminder_outcomes: Counter[str]
    outbox_rows: int
    outbox_keys: int
    outbox_statuses: Counter[str]
    outbox_channels: Counter[str]
    unmatched_reminders: int  # reminder rows whose message_key names no outbox row
    timeline: Timeline
    scheduler_cpu_total: float
    sender_cpu: float
    simulator_cpu: float
    postgres_cpu: float
    scheduler_counts: dict[str, Any]
    sender_counts: list[dict[str, Any]]
    server_transactions: int
    counted: bool
    error_lines: int
    wall: float
    plan_first: bool
    machine_cores: float  # the whole machine's busy CPU over the run, in cores
    others_cores: float  # of which neither this bench's processes nor its database's backends
    load_average: str  # 1-minute load average at the end

    @property
    def capacity(self) -> float:
        return max(1.0, self.limit / 60)

    @property
    def delivered(self) -> int:
        return len(self.times_ms)

    def split_at(self, moment_ms: int | None) -> tuple[tuple[int, float], tuple[int, float]]:
        """(messages, per minute) delivered up to ``moment_ms`` and after it."""
        if moment_ms is None:
            return per_minute(self.times_ms), (0, 0.0)
        before = [t for t in self.times_ms if t <= moment_ms]
        return per_minute(before), per_minute([t for t in self.times_ms if t > moment_ms])

    RECEIVED = "per_user"
    missing = DeliveryTimes.unreceived

    @property
    def exactly_once(self) -> bool:
        return (
            self.duplicates == 0
            and self.missing == 0
            and self.unknown_users == 0
            and self.reminder_rows == self.reminder_keys == self.count
            and self.reminder_outcomes.get("queued", 0) == self.count
            and self.outbox_rows == self.outbox_keys == self.count
            and self.outbox_statuses.get(WorkStatus.DONE.value, 0) == self.count
            and self.unmatched_reminders == 0
        )


def run_processes(
    db: Database, url: str, dbname: str, world: DueReminders, args: argparse.Namespace, children: Children
) -> Result:
    simulator, base, env = start_simulator(
        children, OA, lambda zalo_base: process_env(url, zalo_base, args), {"bench-tpl-reminder": ["noi_dung"]}
    )
    http = requests.Session()

    def delivered() -> int:
        return int(http.get(f"{base}/_sim/stats", timeout=10).json()["messages"])

    counts_dir = children.logs
    sender_counts = [counts_dir / f"sender-{i}.counts.json" for i in range(args.senders)]
    senders: list[Any] = []

    def start_senders() -> None:
        senders.extend(
            children.start(
                f"sender-{i}",
                henkham_argv(args.plain, sender_counts[i], "zalo", "sender", "--threads", str(args.sender_threads)),
                env,
            )
            for i in range(args.senders)
        )
        # The senders are up once each has logged its start line (OA rows synced, listening).
        deadline = time.monotonic() + 60
        while not all(
            "henkham sender" in (children.logs / f"sender-{i}.log").read_text(errors="replace")
            for i in range(args.senders)
        ):
            if time.monotonic() > deadline or any(p.poll() is not None for p in senders):
                raise BenchError(f"the senders did not start; the end of a log:\n{children.log_tail('sender-0')}")
            time.sleep(0.1)
        time.sleep(1.0)  # their listening connections are up and their threads idle
        timeline.senders_started = time.monotonic()
        timeline.senders_cpu_before = cpu_of([p.pid for p in senders])
        log(f"   {args.senders} × henkham zalo sender --threads {args.sender_threads} up")

    timeline = Timeline()
    if not args.plan_first:
        start_senders()
    log(f"   simulator at {base}")

    table = processes()
    pg_before = sum(table[pid].cpu for pid in postgres_backends(table, dbname))
    simulator_cpu_before = cpu_of([simulator.pid], table)
    bench_cpu_before = time.process_time()
    machine_before = machine_busy()
    bench_statements = [0]

    def count_own(*_args: Any) -> None:
        bench_statements[0] += 1

    for engine in {db.engine, db.reader_engine}:
        event.listen(engine, "before_cursor_execute", count_own)
    transactions_before = transactions(db, dbname)

    scheduler_counts = counts_dir / "scheduler.counts.json"
    timeline.scheduler_started = started = time.monotonic()
    scheduler = children.start("scheduler", henkham_argv(args.plain, scheduler_counts, "scheduler"), env)
    log("   henkham scheduler started")

    def planned() -> int:
        with db.reader() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(Reminder)) or 0)

    deadline = started + args.timeout
    last_progress, last_log = (0, 0), started
    stalled_since = time.monotonic()
    while True:
        now = time.monotonic()
        rows, sent = planned(), delivered()
        cpu = cpu_of([scheduler.pid])
        timeline.samples.append((now, rows, sent))
        if timeline.leading_seen is None and "scheduler: leading" in (children.logs / "scheduler.log").read_text(
            errors="replace"
        ):
            timeline.leading_seen, timeline.cpu_before_planning = now, cpu
        if rows and timeline.planning_first_seen is None:
            timeline.planning_first_seen = now
        if args.kill_leader and rows and timeline.killed_with is None:
            # Acceptance 2: SIGKILL the leader mid-planning; a new scheduler takes the lead and carries on.
            scheduler.send_signal(signal.SIGKILL)
            scheduler.wait(timeout=10)
            timeline.killed_with = planned()
            log(f"   leader SIGKILLed with {timeline.killed_with:,} of {world_count(world):,} planned; restarting")
            scheduler = children.start("scheduler-2", henkham_argv(args.plain, scheduler_counts, "scheduler"), env)
            continue
        if rows >= world_count(world) and timeline.planning_done_seen is None:
            timeline.planning_done_seen, timeline.cpu_after_planning = now, cpu
            timeline.planning_done_ms = int(time.time() * 1000)
            log(f"   all {rows:,} reminders planned {now - started:.1f} s after the scheduler started")
            if not senders:
                start_senders()
                stalled_since = time.monotonic()
                continue
        if sent >= world_count(world):
            timeline.delivered_all = now
            log(f"   all {sent:,} delivered {now - started:.1f} s after the scheduler started")
            break
        if (rows, sent) != last_progress:
            last_progress, stalled_since = (rows, sent), now
        if now - last_log >= 10:
            log(f"   … {now - started:5.1f} s: {rows:,} planned, {sent:,} delivered")
            last_log = now
        if scheduler.poll() is not None or any(p.poll() is not None for p in senders):
            raise BenchError(
                "a process exited early; the end of its log:\n"
                + (children.log_tail("scheduler") if scheduler.poll() is not None else children.log_tail("sender-0"))
            )
        if now > deadline or now - stalled_since > args.stall_seconds:
            log(
                f"   stopped waiting: {rows:,} planned, {sent:,} delivered "
                f"(no progress for {now - stalled_since:.0f} s, or the time-out)"
            )
            break
        time.sleep(POLL_SECONDS if timeline.planning_done_seen is None else 0.5)

    # Let the senders record the last outcomes, then stop everything cleanly (SIGTERM: the counts are written).
    outbox = OutboundMessage.__table__
    settle_deadline = time.monotonic() + 15
    while time.monotonic() < settle_deadline:
        with db.reader() as uow:
            open_rows = uow.session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.status.in_(("pending", "processing")))
            )
        if not open_rows:
            break
        time.sleep(0.2)
    table = processes()
    scheduler_cpu_total = cpu_of([scheduler.pid], table)
    sender_cpu = cpu_of([p.pid for p in senders], table) - timeline.senders_cpu_before
    simulator_cpu = cpu_of([simulator.pid], table) - simulator_cpu_before
    postgres_cpu = sum(table[pid].cpu for pid in postgres_backends(table, dbname)) - pg_before
    wall = time.monotonic() - started
    machine = machine_busy() - machine_before
    ours = scheduler_cpu_total + sender_cpu + simulator_cpu + postgres_cpu + time.process_time() - bench_cpu_before
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    children.stop(scheduler)
    for process in senders:
        children.stop(process)
    log(
        f"   scheduler and senders stopped (exit status {scheduler.returncode}, "
        f"{', '.join(str(p.returncode) for p in senders)})"
    )
    time.sleep(1.5)  # backends report their statistics about once a second and when they end
    server_transactions = transactions(db, dbname) - transactions_before - bench_statements[0]
    for engine in {db.engine, db.reader_engine}:
        event.remove(engine, "before_cursor_execute", count_own)

    records = http.get(f"{base}/_sim/messages", params={"oa_id": OA.oa_id}, timeout=120).json()["messages"]
    http.close()
    children.stop(simulator)

    expected = set(world.user_ids)
    per_user: Counter[str] = Counter({u: 0 for u in expected})
    unknown = 0
    times: list[int] = []
    for record in records:
        user = record.get("user_id")
        if user in expected:
            per_user[user] += 1
            times.append(int(record["time"]))
        else:
            unknown += 1
    reminders = Reminder.__table__
    with db.reader() as uow:
        session = uow.session
        reminder_rows, reminder_keys = session.execute(
            select(func.count(), func.count(func.distinct(reminders.c.key)))
        ).one()
        outcomes = Counter(
            dict(session.execute(select(reminders.c.outcome, func.count()).group_by(reminders.c.outcome)).all())
        )
        reminder_outbox = outbox.c.purpose == "reminder"
        outbox_rows, outbox_keys = session.execute(
            select(func.count(), func.count(func.distinct(outbox.c.idempotency_key))).where(reminder_outbox)
        ).one()
        statuses = Counter(
            dict(
                session.execute(
                    select(outbox.c.status, func.count()).where(reminder_outbox).group_by(outbox.c.status)
                ).all()
            )
        )
        channels = Counter(
            dict(
                session.execute(
                    select(func.coalesce(outbox.c.channel, "none"), func.count())
                    .where(reminder_outbox)
                    .group_by(outbox.c.channel)
                ).all()
            )
        )
        unmatched = session.scalar(
            select(func.count())
            .select_from(reminders)
            .outerjoin(outbox, outbox.c.idempotency_key == reminders.c.message_key)
            .where(outbox.c.id.is_(None))
        )
    error_lines = 0
    for name in ["scheduler", *(f"sender-{i}" for i in range(args.senders))]:
        content = (children.logs / f"{name}.log").read_text(errors="replace")
        error_lines += sum(1 for line in content.splitlines() if " ERROR " in line or line.startswith("Traceback"))
    return Result(
        count=world_count(world),
        limit=args.limit_per_minute,
        senders=args.senders,
        threads=args.sender_threads,
        times_ms=sorted(times),
        steady_skip=args.steady_skip,
        per_user=per_user,
        unknown_users=unknown,
        reminder_rows=int(reminder_rows),
        reminder_keys=int(reminder_keys),
        reminder_outcomes=outcomes,
        outbox_rows=int(outbox_rows),
        outbox_keys=int(outbox_keys),
        outbox_statuses=statuses,
        outbox_channels=channels,
        unmatched_reminders=int(unmatched or 0),
        timeline=timeline,
        scheduler_cpu_total=scheduler_cpu_total,
        sender_cpu=sender_cpu,
        simulator_cpu=simulator_cpu,
        postgres_cpu=postgres_cpu,
        scheduler_counts=read_counts(scheduler_counts) if not args.plain else {},
        sender_counts=[read_counts(p) for p in sender_counts] if not args.plain else [],
        server_transactions=server_transactions,
        counted=not args.plain,
        error_lines=error_lines,
        wall=wall,
        plan_first=args.plan_first,
        machine_cores=machine / wall,
        others_cores=max(0.0, machine - ours) / wall,
        load_average=load,
    )


def rate_chunk(per_minute: int) -> int:
    """Tokens a sender process draws from the shared bucket at a time (bot/zalo_webhook/ratelimit.py)."""
    return RateLimiter(None, per_minute).chunk  # type: ignore[arg-type]


def world_count(world: DueReminders) -> int:
    return len(world.appointment_ids)


# --------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------


def report(r: Result) -> tuple[dict[str, Any], dict[str, bool]]:
    n = max(1, r.count)
    steady_n, steady_s, steady_rate = r.steady()
    target_rate = TARGET_RATE_RATIO * r.limit
    window = min(60.0, max(1.0, r.span))
    most = r.most_in(window)
    # The shared bucket allows the rate plus its capacity (one second's worth) in any window; each sender
    # process may also hold a few tokens it drew earlier (ratelimit.py's chunk), and a message counts here
    # when it arrives, so those in flight (one per thread) may land in a window whose tokens were drawn before.
    bucket_bound = r.limit / 60 * window + r.capacity
    bound = bucket_bound + r.senders * (rate_chunk(r.limit) + r.threads)
    t = r.timeline
    planning_wall = (t.planning_done_seen - t.leading_seen) if t.planning_done_seen and t.leading_seen else float("nan")
    planning_cpu = (t.cpu_after_planning - t.cpu_before_planning) if t.planning_done_seen else float("nan")
    end_to_end = (t.delivered_all - t.scheduler_started) if t.delivered_all else float("nan")
    first_rows = (t.planning_first_seen - t.scheduler_started) if t.planning_first_seen else float("nan")
    planning_rate = n / planning_wall * 60 if planning_wall and planning_wall == planning_wall else float("nan")
    waiting = t.senders_waiting(r.count, r.senders * r.threads)

    print()
    print(
        f"Reminders: {r.count:,} due in the same minute; henkham scheduler + {r.senders} × henkham zalo sender "
        f"--threads {r.threads}; Zalo limit {r.limit:,}/min; nproc={os.cpu_count()}"
        + ("; senders started once all was planned (--plan-first)" if r.plan_first else "")
    )
    print()
    steady_ok = steady_rate >= target_rate and r.delivered == r.count
    limit_ok = most <= bound + 1e-9
    head = ["measure", "messages", "seconds", "per minute", "of limit", "target", "result"]
    rows = [
        [
            f"steady (from +{r.steady_skip:g} s)",
            f"{steady_n:,}",
            f"{steady_s:.1f}",
            f"{steady_rate:,.0f}",
            f"{steady_rate / r.limit:.1%}",
            f">= {target_rate:,.0f}",
            "PASS" if steady_ok else "FAIL",
        ],
        [
            "whole sending",
            f"{r.delivered:,}",
            f"{r.span:.1f}",
            f"{r.whole_per_minute:,.0f}",
            f"{r.whole_per_minute / r.limit:.1%}",
            "",
            "",
        ],
        [
            f"most in any {window:g} s",
            f"{most:,}",
            f"{window:g}",
            f"{most / window * 60:,.0f}",
            f"{most / window * 60 / r.limit:.1%}",
            f"<= {bound:,.0f}",
            "PASS" if limit_ok else "FAIL",
        ],
    ]
    (during_n, during_rate), (after_n, after_rate) = r.split_at(t.planning_done_ms)
    rows += [
        [
            "  while planning went on",
            f"{during_n:,}",
            "",
            f"{during_rate:,.0f}",
            f"{during_rate / r.limit:.1%}",
            "",
            "",
        ],
        ["  once all was planned", f"{after_n:,}", "", f"{after_rate:,.0f}", f"{after_rate / r.limit:.1%}", "", ""],
    ]
    print_columns(head, rows, "<>>>>><")
    print(
        f"limit check: the bucket allows {bucket_bound:,.0f} in {window:g} s, plus up to "
        f"{bound - bucket_bound:,.0f} drawn earlier or in flight ({r.senders} senders × (chunk "
        f"{rate_chunk(r.limit)} + {r.threads} threads)); most seen {most:,}"
    )
    print(f"scheduler start → last delivery: {end_to_end:.1f} s (wall of the run {r.wall:.1f} s)")
    print(
        f"planning: {planning_rate:,.0f} reminders/min (all {r.count:,} in {planning_wall:.1f} s from taking the "
        f"lead); the senders waited for planned work {waiting:.1f} s of the sending"
        + (" — planning, not sending, held the rate back" if waiting > 0.1 * max(1.0, r.span) else "")
    )
    print()
    if r.timeline.killed_with is not None:
        print(
            f"crash: the leading scheduler was SIGKILLed with {r.timeline.killed_with:,} of {r.count:,} reminders "
            "planned; a new one took the lead and planned the rest (its CPU and statements are the ones shown)"
        )
    print(
        f"Exactly once: reminder rows {r.reminder_rows:,} ({r.reminder_keys:,} distinct keys; "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r.reminder_outcomes.items()))
        + f"); outbox rows {r.outbox_rows:,} ({r.outbox_keys:,} distinct keys; "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r.outbox_statuses.items()))
        + "; channel "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r.outbox_channels.items()))
        + f"); reminders without their outbox row {r.unmatched_reminders}; simulator: {r.delivered:,} messages to "
        f"the {r.count:,} users, {r.missing} users without, {r.duplicates} duplicates, {r.unknown_users} to "
        f"unknown users → {'PASS' if r.exactly_once else 'FAIL'}"
    )
    if r.error_lines:
        print(f"  ({r.error_lines} ERROR/Traceback lines in the scheduler's and senders' logs)")
    print()

    figures: dict[str, Any] = {}
    if r.counted:
        s = r.scheduler_counts
        senders = {
            "statements": sum(c["statements"] for c in r.sender_counts),
            "parameter_sets": sum(c["parameter_sets"] for c in r.sender_counts),
            "commits": sum(c["commits"] for c in r.sender_counts),
        }
        verbs: Counter[str] = Counter()
        for c in r.sender_counts:
            verbs.update(c.get("verbs", {}))
        head = ["process", "statements", "per reminder", "executemany rows", "commits", "per reminder", "by verb"]
        rows = [
            [
                "scheduler",
                f"{s['statements']:,}",
                f"{s['statements'] / n:.2f}",
                f"{s['parameter_sets']:,}",
                f"{s['commits']:,}",
                f"{s['commits'] / n:.3f}",
                ", ".join(f"{k} {v:,}" for k, v in sorted(s.get("verbs", {}).items())),
            ],
            [
                "senders",
                f"{senders['statements']:,}",
                f"{senders['statements'] / n:.2f}",
                f"{senders['parameter_sets']:,}",
                f"{senders['commits']:,}",
                f"{senders['commits'] / n:.3f}",
                ", ".join(f"{k} {v:,}" for k, v in sorted(verbs.items())),
            ],
            [
                "both",
                f"{s['statements'] + senders['statements']:,}",
                f"{(s['statements'] + senders['statements']) / n:.2f}",
                f"{s['parameter_sets'] + senders['parameter_sets']:,}",
                f"{s['commits'] + senders['commits']:,}",
                f"{(s['commits'] + senders['commits']) / n:.3f}",
                "",
            ],
        ]
        print("Database statements (SQLAlchemy cursor executions counted inside the processes, bench/querycount.py):")
        print_columns(head, rows, "<>>>>><")
        figures.update(
            scheduler_statements_per_reminder=round(s["statements"] / n, 3),
            scheduler_commits_per_reminder=round(s["commits"] / n, 4),
            sender_statements_per_reminder=round(senders["statements"] / n, 3),
            statements_per_reminder=round((s["statements"] + senders["statements"]) / n, 3),
        )
    print(
        f"Server side (pg_stat_database, all processes incl. raw psycopg sessions, less the bench's own "
        f"reads): {r.server_transactions:,} transactions = {r.server_transactions / n:.2f} per reminder"
    )
    print()
    print(
        f"Scheduler CPU: {r.scheduler_cpu_total:.2f} s in all; {t.cpu_before_planning:.2f} s before planning "
        f"(start-up, lead); planning {planning_cpu:.2f} s CPU over {planning_wall:.1f} s wall "
        f"(≈ {planning_cpu / n * 1000:.2f} ms per reminder; first rows seen {first_rows:.1f} s after start); "
        f"{r.scheduler_cpu_total - t.cpu_after_planning:.2f} s after planning (idle job runs until the end)"
    )
    print(
        f"Other CPU over the run: senders {r.sender_cpu:.1f} s ({r.sender_cpu / n * 1000:.2f} ms per reminder), "
        f"simulator {r.simulator_cpu:.1f} s, PostgreSQL backends {r.postgres_cpu:.1f} s"
    )
    print(
        f"Machine: {r.machine_cores:.2f} of {os.cpu_count()} cores busy over the run, {r.others_cores:.2f} of them "
        f"by processes outside this bench (1-min load average {r.load_average} at the end)"
    )
    if r.others_cores > 0.25:
        print(
            "WARNING: other work shared the machine during the run; the rate and CPU figures are pessimistic "
            "(run it again on an idle machine)"
        )
    verdicts = {"rate": steady_ok, "limit": limit_ok, "exactly_once": r.exactly_once}
    figures.update(
        bench="reminders",
        count=r.count,
        limit_per_minute=r.limit,
        senders=r.senders,
        sender_threads=r.threads,
        delivered=r.delivered,
        steady_per_minute=round(steady_rate, 1),
        steady_ratio=round(steady_rate / r.limit, 4),
        whole_per_minute=round(r.whole_per_minute, 1),
        most_in_window=most,
        window_seconds=window,
        window_bound=round(bound, 1),
        bucket_bound=round(bucket_bound, 1),
        end_to_end_seconds=round(end_to_end, 2),
        plan_first=r.plan_first,
        per_minute_while_planning=round(during_rate, 1),
        per_minute_after_planning=round(after_rate, 1),
        planning_per_minute=round(planning_rate, 1),
        senders_waiting_seconds=round(waiting, 1),
        duplicates=r.duplicates,
        missing=r.missing,
        server_transactions_per_reminder=round(r.server_transactions / n, 3),
        scheduler_cpu_seconds=round(r.scheduler_cpu_total, 3),
        scheduler_startup_cpu_seconds=round(t.cpu_before_planning, 3),
        scheduler_planning_cpu_seconds=round(planning_cpu, 3),
        scheduler_planning_wall_seconds=round(planning_wall, 2),
        sender_cpu_seconds=round(r.sender_cpu, 2),
        postgres_cpu_seconds=round(r.postgres_cpu, 2),
        machine_cores_busy=round(r.machine_cores, 2),
        other_processes_cores=round(r.others_cores, 2),
        targets={k: "PASS" if v else "FAIL" for k, v in verdicts.items()},
    )
    return figures, verdicts


def run(url: str, dbname: str, args: argparse.Namespace, children: Children) -> tuple[int, dict[str, Any]]:
    db = Database(url, pool_size=2, max_overflow=2)
    try:
        version, settings = server_facts(db)
        print(f"postgresql  : {version} ({settings})")
        print(
            f"run         : {args.count:,} reminders due in the same minute, limit {args.limit_per_minute:,}/min, "
            f"{args.senders} × henkham zalo sender --threads {args.sender_threads}, "
            f"{'plain henkham (no statement counts)' if args.plain else 'statements counted (bench/querycount.py)'}"
        )
        upgrade(url)
        seeded_at = time.monotonic()
        world = seed_due_reminders(db, OA, args.count, departments=args.departments)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        log(
            f"set-up: {world_count(world):,} appointments at {world.starts_at:%Y-%m-%d %H:%M} UTC in "
            f"{args.departments} departments, their users' chat windows open ({time.monotonic() - seeded_at:.1f} s)"
        )
        result = run_processes(db, url, dbname, world, args, children)
    finally:
        db.dispose()
    figures, verdicts = report(result)
    print("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in verdicts.items()))
    return (0 if all(verdicts.values()) else 1), figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--count", type=int, default=10_000, help="reminders due in the same minute (10000)")
    parser.add_argument("--departments", type=int, default=20, help="departments (one full slot each) (20)")
    add_sender_arguments(parser)
    parser.add_argument(
        "--reminders-seconds", type=float, default=None, help="HENKHAM_SCHEDULER_REMINDERS_SECONDS (the default)"
    )
    parser.add_argument(
        "--plan-first",
        action="store_true",
        help="start the senders only once every reminder is planned: the senders' rate apart from planning's",
    )
    parser.add_argument("--plain", action="store_true", help="run the bare henkham script: no statement counts")
    parser.add_argument(
        "--kill-leader",
        action="store_true",
        help="SIGKILL the scheduler once planning has begun and start another (exactly once across a crash)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds (900)")
    parser.add_argument("--stall-seconds", type=float, default=60.0, help="give up after no progress this long (60)")
    add_database_arguments(parser, ADMIN_URL, "empty; migrated and filled, not dropped")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    figures: dict[str, Any] = {"bench": "reminders", "count": args.count}

    def bench(run_: BenchRun) -> int:
        status, found = run(run_.url, run_.dbname, args, run_.children)
        figures.update(found)
        return status

    return bench_main(args, bench, name="reminders", figures=figures)


if __name__ == "__main__":
    sys.exit(main())
