"""Benchmark of the Zalo channel on PostgreSQL: webhook acknowledgement latency and the sender's sustained rate.

Run: ``.venv/bin/python bench/webhook.py``. Like bench/booking.py it creates a throw-away database
``henkham_bench_<random>`` on the local server, migrates it, loads the demo hospitals (2 days of slots) and
drops the database at the end. One OA is configured (``HENKHAM_ZALO_OAS``) for the first demo hospital. It
measures:

1. the acknowledgement latency of ``POST /zalo/webhook`` on the real web process, ``henkham serve`` (gunicorn
   gthread workers) started as a subprocess, at ``--rate`` requests per second (200) for ``--seconds`` (60).
   The load is open loop: request *i* is due at ``start + i / rate`` whatever the earlier answers were, and
   its latency is measured from that due time, so a stalled server shows up in the figures instead of
   slowing the client down (no coordinated omission). Every request is a distinct, correctly signed
   ``user_send_text`` event (distinct ``msg_id``, users spread over ``--users``), all signed before the
   timed part. A few seconds of the same load come first as an untimed warm-up. No inbox worker runs: only
   the acknowledgement is measured. Afterwards the inbox must hold exactly one row per distinct event sent.
2. the sustained send rate of ``henkham zalo sender`` processes (``--senders`` × ``--sender-threads``)
   against the Zalo simulator (its three base URLs pointed at it), with the product's rate limit
   (``--limit-per-minute``, 4,000 by default), over ``--sender-seconds`` (60) from the first delivery. The
   outbox is filled first (``bot.zalo_webhook.outbox.enqueue``) with chat messages to users whose last
   interaction is now, each text carrying a unique marker. The rate is read from the times the simulator
   recorded: over a steady window that leaves out the first ``--steady-skip`` seconds (the token bucket
   starts full: one second of the rate goes out at once), and over the whole run. Every delivered outbox row
   must appear exactly once in the simulator.

The machine's CPU use during each timed part is reported per process group (web server or senders,
simulator, load generator, the PostgreSQL backends of the bench database), read from /proc: the load
generator runs on the same machine as the server.

Missing a target is a measurement, not a failure: the exit status is 0 unless something errors (1 when
events or messages were lost or duplicated, 2 when the bench itself could not run, 130 when interrupted).
Every subprocess is stopped by its handle and the database dropped on every way out (Ctrl-C and SIGTERM too).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
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
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

# `python bench/webhook.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gunicorn
import psycopg
import requests
import sqlalchemy
from sqlalchemy import select, text

from bench.booking import ADMIN_URL, HOSPITAL, ms, percentile, print_columns, server_facts, settle
from bench.delivery import DeliveryTimes, add_followers, add_sender_arguments
from bench.procstat import machine_busy, postgres_backends, processes, tree_cpu
from bot.zalo_webhook import outbox, signature
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import InboundEvent, OutboundMessage, WorkStatus
from bot.zalo_webhook.oas import OARegistry
from core.booking.demo import load_demo
from core.config import Settings, ZaloOASettings
from core.timeutil import utcnow
from core.uow import Database
from henkham.migrate import upgrade
from tests.harness import (
    BenchError,
    Children,
    add_database_arguments,
    add_seed_argument,
    bench_main,
    bench_parser,
    free_port,
    join_clients,
    log,
)

ROOT = Path(__file__).resolve().parent.parent
# The one OA of the bench (fictional ids and secrets, like dev.env's).
OA = ZaloOASettings(
    oa_id="4000000000000000001",
    app_id="4100000000000000001",
    hospital=HOSPITAL,  # the first demo hospital
    oa_secret_key="bench-oa-secret",
    app_secret="bench-app-secret",
    refresh_token="bench-refresh-token",
)
NOWHERE = "http://127.0.0.1:9"  # the discard port: the web phase must not call Zalo at all
TARGET_ACK_P99_MS = 50.0
TARGET_RATE_RATIO = 0.95  # delivered per minute in the steady window, at least this share of the limit
TEXTS = (
    "Cho em hỏi lịch khám khoa nhi ngày mai ạ",
    "Tôi muốn đặt lịch khám mắt",
    "Bệnh viện mở cửa mấy giờ?",
    "Đổi lịch hẹn sang thứ sáu được không ạ",
    "1",
    "menu",
    "Cảm ơn bệnh viện nhiều ạ",
    "Khám tai mũi họng cần mang giấy tờ gì?",
)


# --------------------------------------------------------------------------------------------------------
# Subprocesses and CPU accounting
# --------------------------------------------------------------------------------------------------------


def channel_env(url: str, zalo_base: str, limit_per_minute: int, oa: ZaloOASettings = OA) -> dict[str, str]:
    """The environment of a henkham subprocess: this bench's database, OA, Zalo hosts and rate limit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HENKHAM_")}
    env.update(
        HENKHAM_DATABASE_URL=url,
        HENKHAM_ZALO_OAS=json.dumps([oa.model_dump()]),
        HENKHAM_ZALO_API_BASE=zalo_base,
        HENKHAM_ZALO_ZNS_BASE=zalo_base,
        HENKHAM_ZALO_OAUTH_BASE=zalo_base,
        HENKHAM_ZALO_RATE_LIMIT_PER_MINUTE=str(limit_per_minute),
        PYTHONUNBUFFERED="1",
    )
    return env


def henkham_command(*args: str) -> list[str]:
    """``henkham …`` from the interpreter's own environment."""
    script = Path(sys.executable).parent / "henkham"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "henkham.cli", *args]


@dataclass
class CpuSnapshot:
    at: float
    machine: float
    groups: dict[str, float]
    transactions: int  # committed and rolled back in the bench database (pg_stat_database)


def transactions(db: Database, dbname: str) -> int:
    """Transactions of ``dbname`` so far (each autocommit read counts as one); backends report about once a
    second, so a figure over a minute is good to a few per cent."""
    with db.reader() as uow:
        return int(
            uow.session.scalar(
                text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :name"),
                {"name": dbname},
            )
            or 0
        )


def cpu_snapshot(db: Database, roots: dict[str, list[int]], dbname: str) -> CpuSnapshot:
    """CPU seconds used so far by each group of process trees, and by the PostgreSQL backends of ``dbname``."""
    table = processes()
    groups = {name: tree_cpu(table, *pids) for name, pids in roots.items()}
    groups["postgres"] = sum(table[pid].cpu for pid in postgres_backends(table, dbname))
    return CpuSnapshot(time.monotonic(), machine_busy(), groups, transactions(db, dbname))


@dataclass
class CpuUse:
    """Cores used during a timed part: the whole machine and each group."""

    wall: float
    machine: float
    groups: dict[str, float]
    transactions: float  # per second

    @classmethod
    def between(cls, start: CpuSnapshot, end: CpuSnapshot, extra: dict[str, float] | None = None) -> CpuUse:
        wall = max(1e-9, end.at - start.at)
        groups = {name: (end.groups.get(name, 0.0) - start.groups.get(name, 0.0)) / wall for name in end.groups}
        groups.update(extra or {})
        return cls(
            wall=wall,
            machine=(end.machine - start.machine) / wall,
            groups=groups,
            transactions=(end.transactions - start.transactions) / wall,
        )

    def describe(self) -> str:
        parts = [f"machine {self.machine:.2f} of {os.cpu_count()} cores busy"]
        parts += [f"{name} {cores:.2f}" for name, cores in self.groups.items()]
        rest = self.machine - sum(self.groups.values())
        parts.append(f"everything else {max(0.0, rest):.2f}")
        return ", ".join(parts)


# --------------------------------------------------------------------------------------------------------
# 1. Webhook acknowledgement: the open-loop load generator (client processes)
# --------------------------------------------------------------------------------------------------------


class Shot(NamedTuple):
    """One request as the client saw it; times in seconds from its due time."""

    index: int
    lag: float  # sent - due: how late the generator sent it
    latency: float  # answered - due (what is reported)
    service: float  # answered - sent
    status: int  # HTTP status, 0 when there was no answer
    duplicate: bool  # the webhook said it already had this event
    error: str


@dataclass
class ClientReport:
    client: int
    shots: list[Shot] = field(default_factory=list)
    cpu: float = 0.0  # CPU seconds of this client process over its whole run
    wall: float = 0.0
    error: str | None = None


Item = tuple[int, float, bytes, str]  # index, due offset (s), body, signature header
Post = Callable[[bytes, str], tuple[int, bool]]  # (body, signature) -> (HTTP status, answered "duplicate")
CLIENT_ERRORS = (requests.RequestException, OSError, http.client.HTTPException, ValueError)


def make_poster(kind: str, url: str, timeout: float) -> tuple[Post, Callable[[], None]]:
    """One thread's connection to the webhook: a keep-alive ``requests.Session`` (the default), or a bare
    ``http.client`` connection (``--client http.client``: about a third of the CPU per request). Either one
    reconnects when the server closes the connection."""

    def headers(mac: str) -> dict[str, str]:
        return {signature.HEADER: mac, "Content-Type": "application/json"}

    if kind == "requests":
        session = requests.Session()

        def post_requests(body: bytes, mac: str) -> tuple[int, bool]:
            response = session.post(url, data=body, headers=headers(mac), timeout=timeout)
            status = response.status_code
            return status, status == 200 and bool(response.json().get("duplicate"))

        return post_requests, session.close

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def post_raw(body: bytes, mac: str) -> tuple[int, bool]:
        try:
            connection.request("POST", parts.path, body=body, headers=headers(mac))
            response = connection.getresponse()
            data = response.read()
        except CLIENT_ERRORS:
            connection.close()  # the next request opens a new one
            raise
        status = response.status
        return status, status == 200 and bool(json.loads(data).get("duplicate"))

    return post_raw, connection.close


def load_client(
    client: int,
    kind: str,
    url: str,
    items: list[Item],
    threads: int,
    timeout: float,
    ready: Any,
    go: Any,
    start_at: Any,
    results: Any,
) -> None:
    """Send ``items`` at their due times from ``threads`` threads, each with its own keep-alive connection.

    A free thread takes the next item, sleeps until it is due and sends it; when every thread is busy the
    next item goes out late, and its lateness is part of its latency.
    """
    report = ClientReport(client=client)
    try:
        posters = [make_poster(kind, url, timeout) for _ in range(threads)]
        pending = iter(items)
        lock = threading.Lock()
        shots: list[Shot] = []
        clock = time.monotonic
        ready.put(client)
        if not go.wait(timeout=120):
            raise BenchError("no start signal")
        start = start_at.value

        def work(post: Post) -> None:
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                index, offset, body, mac = item
                due = start + offset
                delay = due - clock()
                if delay > 0:
                    time.sleep(delay)
                sent = clock()
                status, duplicate, error = 0, False, ""
                try:
                    status, duplicate = post(body, mac)
                    if status != 200:
                        error = f"HTTP {status}"
                except CLIENT_ERRORS as exc:
                    error = type(exc).__name__
                answered = clock()
                shots.append(Shot(index, sent - due, answered - due, answered - sent, status, duplicate, error))

        cpu_start, wall_start = time.process_time(), clock()
        workers = [
            threading.Thread(target=work, args=(post,), name=f"load-{client}-{i}")
            for i, (post, _close) in enumerate(posters)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        report.cpu = time.process_time() - cpu_start
        report.wall = clock() - wall_start
        report.shots = shots
        for _post, close in posters:
            close()
    except Exception:
        report.error = traceback.format_exc()
    finally:
        results.put(report)


@dataclass
class WebhookResult:
    rate: float
    seconds: float
    server: str  # what served the webhook
    client_processes: int
    client_threads: int
    client: str  # the load generator's HTTP client
    warmup: int
    shots: list[Shot]  # the timed ones
    achieved: float  # requests sent per second (timed part)
    completed_rate: float  # answers per second (timed part)
    cpu: CpuUse
    inbox_rows: int
    inbox_distinct: int
    missing: int  # events sent but not in the inbox
    unexpected: int  # inbox rows of this run that were never sent
    not_pending: int  # inbox rows that a worker touched (must be 0: no worker runs)
    sent_events: int  # distinct events sent, warm-up included

    @property
    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.shots if s.error)

    @property
    def acked_duplicates(self) -> int:
        return sum(1 for s in self.shots if s.duplicate)

    def latencies(self, attribute: str = "latency") -> list[float]:
        """Sorted, every request included: one without an answer counts with the time it took to fail."""
        return sorted(getattr(s, attribute) for s in self.shots)

    @property
    def inbox_ok(self) -> bool:
        return (
            self.missing == 0
            and self.unexpected == 0
            and self.inbox_rows == self.inbox_distinct == self.sent_events
            and self.not_pending == 0
        )


def server_kind(args: argparse.Namespace) -> str:
    if args.gunicorn_args:
        return f"gunicorn, {args.web_workers} workers, GUNICORN_CMD_ARGS={args.gunicorn_args!r}"
    return f"gunicorn, {args.web_workers} gthread workers × {args.web_threads} threads, keep-alive"


def build_events(tag: str, count: int, users: int, rng: random.Random) -> tuple[list[tuple[bytes, str]], list[str]]:
    """``count`` distinct signed ``user_send_text`` events (body, signature header) and their inbox keys."""
    signed: list[tuple[bytes, str]] = []
    keys: list[str] = []
    base_ms = int(time.time() * 1000)
    for i in range(count):
        user = rng.randrange(users)
        msg_id = f"{tag}{i:08d}"
        timestamp = str(base_ms + i * 5)
        payload = {
            "app_id": OA.app_id,
            "sender": {"id": f"84{user:016d}"},
            "user_id_by_app": f"55{user:016d}",
            "recipient": {"id": OA.oa_id},
            "event_name": "user_send_text",
            "message": {"text": TEXTS[i % len(TEXTS)], "msg_id": msg_id},
            "timestamp": timestamp,
        }
        raw = json.dumps(payload, ensure_ascii=False).encode()
        signed.append((raw, signature.header_value(OA.app_id, raw, timestamp, OA.oa_secret_key)))
        keys.append(f"msg:user_send_text:{msg_id}")  # events.ZaloEvent.key
    return signed, keys


def run_webhook(
    db: Database, url: str, dbname: str, args: argparse.Namespace, children: Children, tag: str
) -> WebhookResult:
    rng = random.Random(args.seed)
    warmup = int(args.warmup_seconds * args.rate)
    timed = int(args.seconds * args.rate)
    events, keys = build_events(tag, warmup + timed, args.users, rng)
    items: list[Item] = [(i, i / args.rate, body, mac) for i, (body, mac) in enumerate(events)]
    log(
        f"1. webhook: {len(items):,} signed events prepared ({warmup:,} warm-up + {timed:,} timed), "
        f"{args.users:,} users"
    )

    port = free_port()
    env = channel_env(url, NOWHERE, 4000)
    if args.gunicorn_args:
        env["GUNICORN_CMD_ARGS"] = args.gunicorn_args  # e.g. "--worker-class gthread --threads 4"
    server = children.start(
        "web",
        henkham_command(
            "serve", "--port", str(port), "--workers", str(args.web_workers), "--threads", str(args.web_threads)
        ),
        env,
    )
    children.wait_up(f"http://127.0.0.1:{port}/healthz", server, "henkham serve", "web")
    log(f"   henkham serve up on port {port} ({server_kind(args)}, pid {server.pid})")

    spawn = mp.get_context("spawn")  # clean interpreters: no engine or socket inherited
    ready, results, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    start_at = spawn.Value("d", 0.0)
    webhook_url = f"http://127.0.0.1:{port}/zalo/webhook"
    clients = [
        spawn.Process(
            target=load_client,
            args=(
                c,
                args.client,
                webhook_url,
                items[c :: args.client_processes],
                args.client_threads,
                args.request_timeout,
                ready,
                go,
                start_at,
                results,
            ),
            name=f"bench-webhook-{c}",
        )
        for c in range(args.client_processes)
    ]
    reports: list[ClientReport] = []
    try:
        for process in clients:
            process.start()
        for _ in clients:
            try:
                ready.get(timeout=120)
            except queue.Empty:
                raise BenchError("the load generator processes did not get ready") from None
        start = time.monotonic() + 0.5
        start_at.value = start
        go.set()
        timed_start = start + warmup / args.rate
        timed_end = start + (warmup + timed) / args.rate
        time.sleep(max(0.0, timed_start - time.monotonic()))
        roots = {"web server": [server.pid]}
        before = cpu_snapshot(db, roots, dbname)
        log(f"   warm-up done ({args.warmup_seconds:g} s at {args.rate:g}/s); timed part: {args.seconds:g} s")
        for mark in range(10, int(args.seconds), 10):  # progress lines while the clients work
            time.sleep(max(0.0, timed_start + mark - time.monotonic()))
            log(f"   … {mark} s")
        time.sleep(max(0.0, timed_end - time.monotonic()))
        after = cpu_snapshot(db, roots, dbname)
        deadline = time.monotonic() + args.request_timeout + 60
        while len(reports) < len(clients):
            try:
                reports.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
            except queue.Empty:
                raise BenchError("the load generator did not report") from None
    except BaseException:  # an error or Ctrl-C: stop the clients now instead of letting them finish the run
        for process in clients:
            if process.is_alive():
                process.terminate()
        raise
    finally:
        join_clients(clients, timeout=10)
    failed = [r for r in reports if r.error]
    if failed:
        raise BenchError(f"load generator {failed[0].client} failed:\n{failed[0].error}")
    generator_cores = sum(r.cpu for r in reports) / max(r.wall for r in reports)
    cpu = CpuUse.between(before, after, {"load generator": generator_cores})
    children.stop(server)
    log("   henkham serve stopped")

    shots = sorted((s for r in reports for s in r.shots if s.index >= warmup), key=lambda s: s.index)
    # Rates over the timed part, from the first due time to the last send (answer): the scheduled rate when the
    # generator (server) kept up, less when requests went out (were answered) late.
    first_due = warmup / args.rate
    last_send = max(s.index / args.rate + s.lag for s in shots)
    last_answer = max(s.index / args.rate + s.latency for s in shots)
    achieved = (len(shots) - 1) / max(last_send - first_due, (len(shots) - 1) / args.rate)
    completed = (sum(1 for s in shots if s.status) - 1) / max(last_answer - first_due, 1e-9)

    # The inbox: one row per distinct event sent, none handled (no worker ran).
    inbox = InboundEvent.__table__
    with db.reader() as uow:
        rows = uow.session.execute(
            select(inbox.c.event_key, inbox.c.status).where(
                inbox.c.oa_id == OA.oa_id, inbox.c.event_key.like(f"msg:user_send_text:{tag}%")
            )
        ).all()
    stored = Counter(row.event_key for row in rows)
    sent = set(keys)
    return WebhookResult(
        rate=args.rate,
        seconds=args.seconds,
        server=server_kind(args),
        client_processes=args.client_processes,
        client_threads=args.client_threads,
        client=args.client,
        warmup=warmup,
        shots=shots,
        achieved=achieved,
        completed_rate=completed,
        cpu=cpu,
        inbox_rows=len(rows),
        inbox_distinct=len(stored),
        missing=len(sent - stored.keys()),
        unexpected=len(stored.keys() - sent),
        not_pending=sum(1 for row in rows if row.status != WorkStatus.PENDING.value),
        sent_events=len(sent),
    )


# --------------------------------------------------------------------------------------------------------
# 2. Sender sustained rate against the simulator
# --------------------------------------------------------------------------------------------------------


def start_simulator(
    children: Children,
    oa: ZaloOASettings,
    env_at: Callable[[str], dict[str, str]],
    templates: dict[str, list[str]] | None = None,
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """The Zalo simulator of ``oa`` as a child, once it answers: the process, its base URL, and the
    environment (``env_at(base)``) it was started with, the one of the henkham processes talking to it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    keys = ("oa_id", "app_id", "oa_secret_key", "app_secret", "refresh_token")
    config = {
        "webhook_url": NOWHERE + "/zalo/webhook",
        "oas": [{**{key: getattr(oa, key) for key in keys}, "name": "bench OA"}],
        "templates": templates or {},
    }
    env = env_at(base)
    simulator = children.start("simulator", [sys.executable, "-c", SIMULATOR, json.dumps(config), str(port)], env)
    children.wait_up(f"{base}/_sim/stats", simulator, "the Zalo simulator", "simulator")
    return simulator, base, env


SIMULATOR = """
import json, sys
from bot.zalo_webhook.simulator import SimulatorConfig, serve
serve(SimulatorConfig.from_dict(json.loads(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]))
"""
MARKER = re.compile(r"\[(b[0-9a-f]{8}-\d{6})\]")


@dataclass
class SenderResult(DeliveryTimes):
    limit: int  # per minute
    capacity: float  # the bucket: one second of the rate
    senders: int
    threads: int
    messages: int  # rows enqueued
    users: int
    times_ms: list[int]  # when the simulator recorded each message of this run, sorted
    steady_skip: float
    window: float  # length of the sliding window of the upper check (s)
    statuses: Counter[str]  # outbox rows of this run by status
    per_row: dict[str, int]  # simulator messages per delivered (done) row
    sent_unrecorded: int  # in the simulator, but the row is not done
    unknown: int  # simulator messages of the OA without a marker of this run
    cpu: CpuUse
    error_lines: int  # ERROR / Traceback lines in the senders' logs
    refreshes: Any  # the simulator's token statistics

    def most_in_window(self) -> int:
        """The most messages in any ``window`` seconds (sliding, anchored at each message)."""
        return self.most_in(self.window)

    @property
    def window_bound(self) -> float:
        return self.limit / 60 * self.window + self.capacity

    RECEIVED = "per_row"
    lost = DeliveryTimes.unreceived


def seed_outbox(db: Database, tag: str, messages: int, users: int) -> None:
    """Conversations with a last interaction of now (the free chat window), then the messages, round robin
    over the users (so a user's second message waits for the first: the outbox keeps each user's order)."""
    now = utcnow()
    user_ids = [f"9{int(tag[1:], 16) % 10**8:08d}{u:09d}" for u in range(users)]
    with db.uow() as uow:
        OARegistry(Settings(database_url=db.url, zalo_oas=[OA])).sync(uow)
    with db.uow() as uow:
        add_followers(uow.session, OA.oa_id, user_ids, since=now, now=now)
        created = 0
        for i in range(messages):
            marker = f"{tag}-{i:06d}"
            created += outbox.enqueue(
                uow,
                oa_id=OA.oa_id,
                user_id=user_ids[i % users],
                message=OutgoingMessage(f"Dạ, bệnh viện xin nhắc lịch khám của anh/chị vào sáng mai ạ. [{marker}]"),
                key=f"bench-{marker}",
                purpose="reminder",
                now=now,
            )
        uow.commit()
    if created != messages:
        raise BenchError(f"enqueue created {created} outbox rows, expected {messages}")


def run_sender(
    db: Database, url: str, dbname: str, args: argparse.Namespace, children: Children, tag: str
) -> SenderResult:
    limit = args.limit_per_minute
    capacity = max(1.0, limit / 60)
    # Enough messages never to run dry: the window plus start-up, 20 % spare, plus the initial burst.
    needed = math.ceil(limit / 60 * (args.sender_seconds + 10) * 1.2 + capacity)
    messages = max(args.messages, needed)
    users = min(args.sender_users, messages)
    seed_outbox(db, tag, messages, users)
    settle(db)
    log(f"2. sender: {messages:,} chat messages enqueued for {users:,} users (last interaction now)")

    simulator, base, env = start_simulator(children, OA, lambda zalo_base: channel_env(url, zalo_base, limit))
    http = requests.Session()

    def delivered() -> int:
        return int(http.get(f"{base}/_sim/stats", timeout=10).json()["messages"])

    log(f"   simulator up at {base}; starting {args.senders} × henkham zalo sender --threads {args.sender_threads}")
    senders = [
        children.start(f"sender-{i}", henkham_command("zalo", "sender", "--threads", str(args.sender_threads)), env)
        for i in range(args.senders)
    ]
    roots = {"senders": [p.pid for p in senders], "simulator": [simulator.pid]}
    deadline = time.monotonic() + 60
    while delivered() == 0:
        if time.monotonic() > deadline or any(p.poll() is not None for p in senders):
            raise BenchError(f"no message reached the simulator; sender log:\n{children.log_tail('sender-0')}")
        time.sleep(0.05)
    before = cpu_snapshot(db, roots, dbname)
    log(f"   first delivery; running {args.sender_seconds:g} s")
    end = before.at + args.sender_seconds
    last_count, last_at = delivered(), time.monotonic()
    while time.monotonic() < end:
        time.sleep(max(0.0, min(10.0, end - time.monotonic())))
        count, at = delivered(), time.monotonic()
        log(
            f"   … {at - before.at:4.0f} s: {count:,} delivered ({(count - last_count) / (at - last_at) * 60:,.0f}/min)"
        )
        last_count, last_at = count, at
    after = cpu_snapshot(db, roots, dbname)
    for process in senders:
        children.stop(process)
    log(f"   senders stopped (exit status {', '.join(str(p.returncode) for p in senders)})")

    records = http.get(f"{base}/_sim/messages", params={"oa_id": OA.oa_id, "kind": "cs"}, timeout=60).json()
    stats = http.get(f"{base}/_sim/stats", timeout=10).json()
    http.close()
    children.stop(simulator)

    seen: Counter[str] = Counter()
    times: list[int] = []
    unknown = 0
    for record in records["messages"]:
        match = MARKER.search(str(record.get("message", {}).get("text", "")))
        if match is None or not match.group(1).startswith(tag):
            unknown += 1
            continue
        seen[match.group(1)] += 1
        times.append(int(record["time"]))
    table = OutboundMessage.__table__
    with db.reader() as uow:
        rows = uow.session.execute(
            select(table.c.idempotency_key, table.c.status).where(table.c.idempotency_key.like(f"bench-{tag}-%"))
        ).all()
    statuses = Counter(row.status for row in rows)
    done = {row.idempotency_key.removeprefix("bench-") for row in rows if row.status == WorkStatus.DONE.value}
    error_lines = 0
    for i in range(args.senders):
        content = (children.logs / f"sender-{i}.log").read_text(errors="replace")
        error_lines += sum(1 for line in content.splitlines() if " ERROR " in line or line.startswith("Traceback"))
    return SenderResult(
        limit=limit,
        capacity=capacity,
        senders=args.senders,
        threads=args.sender_threads,
        messages=messages,
        users=users,
        times_ms=sorted(times),
        steady_skip=args.steady_skip,
        window=min(60.0, args.sender_seconds),
        statuses=statuses,
        per_row={marker: seen.get(marker, 0) for marker in done},
        sent_unrecorded=sum(1 for marker in seen if marker not in done),
        unknown=unknown,
        cpu=CpuUse.between(before, after),
        error_lines=error_lines,
        refreshes={k: stats.get(k) for k in ("refresh_calls", "refresh_token_reuse")},
    )


# --------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------


def report_webhook(result: WebhookResult) -> dict[str, str]:
    latencies = result.latencies()
    p99 = percentile(latencies, 99)
    errors = sum(result.errors.values())
    verdict = "PASS" if p99 * 1000 <= TARGET_ACK_P99_MS and errors == 0 else "FAIL"
    head = ["measure", "rate", "requests", "achieved", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"]
    head += ["target", "result"]

    def row(name: str, values: list[float], first: bool = False, target: str = "", result_: str = "") -> list[str]:
        return [
            name,
            f"{result.rate:g}/s" if first else "",
            f"{len(result.shots):,}" if first else "",
            f"{result.achieved:.1f}/s" if first else "",
            ms(percentile(values, 50)),
            ms(percentile(values, 90)),
            ms(percentile(values, 99)),
            ms(values[-1] if values else float("nan")),
            f"{errors:,}" if first else "",
            target,
            result_,
        ]

    rows = [
        row("webhook ack (from due time)", latencies, True, f"p99 ≤ {TARGET_ACK_P99_MS:g} ms, no error", verdict),
        row("  service time (from send)", result.latencies("service")),
        row("  send lag (sent - due)", sorted(s.lag for s in result.shots)),
    ]
    print(
        f"Webhook: POST /zalo/webhook on henkham serve ({result.server}), open loop "
        f"from {result.client_processes} processes × {result.client_threads} threads ({result.client})"
    )
    print()
    print_columns(head, rows, "<>>>>>>>><<")
    print()
    print(
        f"  sent {len(result.shots):,} timed requests at {result.achieved:.1f}/s (scheduled {result.rate:g}/s), "
        f"answered at {result.completed_rate:.1f}/s; {result.warmup:,} untimed warm-up requests before them"
    )
    if result.errors:
        print("  errors: " + ", ".join(f"{k}={v}" for k, v in result.errors.most_common()))
    print(f"  answers saying 'duplicate': {result.acked_duplicates} (expected 0: every event is new)")
    print(
        f"  inbox: {result.inbox_rows:,} rows, {result.inbox_distinct:,} distinct keys for {result.sent_events:,} "
        f"distinct events sent (warm-up included); missing {result.missing}, unexpected {result.unexpected}, "
        f"handled by a worker {result.not_pending} → {'OK' if result.inbox_ok else 'MISMATCH'}"
    )
    cpu = result.cpu
    server = cpu.groups.get("web server", 0.0)
    pg = cpu.groups.get("postgres", 0.0)
    per_request = 1000 / max(1e-9, result.achieved)
    print(f"  CPU (cores) during the timed part: {cpu.describe()}")
    print(
        f"  CPU per request: web server {server * per_request:.2f} ms, PostgreSQL {pg * per_request:.2f} ms, "
        f"load generator {cpu.groups.get('load generator', 0.0) * per_request:.2f} ms; "
        f"PostgreSQL transactions per request: {cpu.transactions * per_request / 1000:.1f}"
    )
    print()
    return {"webhook ack p99": verdict, "inbox exactly once": "PASS" if result.inbox_ok else "FAIL"}


def report_sender(result: SenderResult) -> dict[str, str]:
    count, seconds, steady = result.steady()
    ratio = steady / result.limit
    most = result.most_in_window()
    over = most > result.window_bound + 1  # +1: a message on the window's edge
    rate_verdict = "PASS" if ratio >= TARGET_RATE_RATIO and not over else "FAIL"
    duplicates_verdict = "PASS" if result.duplicates == 0 and result.lost == 0 else "FAIL"
    head = ["measure", "messages", "seconds", "value", "of limit", "target", "result"]
    rows = [
        [
            f"delivered/min, steady (after {result.steady_skip:g} s)",
            f"{count:,}",
            f"{seconds:.1f}",
            f"{steady:,.0f}/min",
            f"{ratio:.1%}",
            f"≥ {TARGET_RATE_RATIO:.0%} of {result.limit:,}/min",
            rate_verdict,
        ],
        [
            "delivered/min, whole run",
            f"{len(result.times_ms):,}",
            f"{result.span:.1f}",
            f"{result.whole_per_minute:,.0f}/min",
            f"{result.whole_per_minute / result.limit:.1%}",
            "(reported: includes the burst)",
            "",
        ],
        [
            f"most in any {result.window:g} s window",
            f"{most:,}",
            f"{result.window:g}",
            "",
            "",
            f"≤ {result.window_bound:,.0f} (limit + 1 s burst)",
            "PASS" if not over else "FAIL",
        ],
        [
            "simulator messages per sent row ≠ 1",
            f"{len(result.per_row):,}",
            "",
            f"{result.duplicates} dup, {result.lost} lost",
            "",
            "0 duplicates, 0 lost",
            duplicates_verdict,
        ],
    ]
    print(
        f"Sender: {result.senders} × henkham zalo sender --threads {result.threads} against the simulator, "
        f"HENKHAM_ZALO_RATE_LIMIT_PER_MINUTE={result.limit:,} (bucket {result.capacity:.1f} tokens)"
    )
    print()
    print_columns(head, rows, "<>>>><<")
    print()
    print(
        f"  outbox rows of the run: {result.messages:,} for {result.users:,} users; by status: "
        + ", ".join(f"{k}={v:,}" for k, v in sorted(result.statuses.items()))
    )
    print(
        f"  in the simulator but the row not marked sent: {result.sent_unrecorded}; "
        f"other messages of the OA: {result.unknown}; token refreshes: {result.refreshes}"
    )
    print(f"  ERROR / Traceback lines in the sender logs: {result.error_lines}")
    cpu = result.cpu
    per_message = 1000 / max(1e-9, steady / 60)
    print(f"  CPU (cores) while sending: {cpu.describe()}")
    print(
        "  CPU per message: "
        + ", ".join(f"{name} {cores * per_message:.2f} ms" for name, cores in cpu.groups.items())
        + f"; PostgreSQL transactions per message: {cpu.transactions * per_message / 1000:.1f}"
    )
    print()
    return {"sender rate": rate_verdict, "sender exactly once": duplicates_verdict}


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


def run(url: str, dbname: str, args: argparse.Namespace, children: Children) -> int:
    db = Database(url, pool_size=2, max_overflow=2)
    tag = f"b{uuid.uuid4().hex[:8]}"  # marks this run's events and messages (a given database may hold others)
    try:
        version, settings = server_facts(db)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"machine     : nproc={os.cpu_count()}, {platform.machine()}, load average {load} at the start")
        print(
            f"software    : Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
            f"psycopg {psycopg.__version__}, gunicorn {gunicorn.__version__}, requests {requests.__version__}"
        )
        print(f"postgresql  : {version} ({settings})")
        if "webhook" in args.phases:
            print(
                f"webhook     : {args.rate:g} requests/s for {args.seconds:g} s (+{args.warmup_seconds:g} s warm-up), "
                f"henkham serve --workers {args.web_workers} ({server_kind(args)}), "
                f"client {args.client_processes} processes × {args.client_threads} threads "
                f"({args.client}), {args.users:,} users, no inbox worker"
            )
        if "sender" in args.phases:
            print(
                f"sender      : limit {args.limit_per_minute:,}/min, {args.sender_seconds:g} s from the first "
                f"delivery, {args.senders} × henkham zalo sender --threads {args.sender_threads}, Zalo simulator "
                f"(gunicorn, 1 process × 16 threads)"
            )
        print()

        upgrade(url)
        with db.uow() as uow:
            load_demo(uow, slot_days=2)
        settle(db)
        log(f"set-up: migrated, demo hospitals loaded (2 days of slots); OA {OA.oa_id} for {HOSPITAL}")

        verdicts: dict[str, str] = {}
        webhook = run_webhook(db, url, dbname, args, children, tag) if "webhook" in args.phases else None
        sender = run_sender(db, url, dbname, args, children, tag) if "sender" in args.phases else None
    finally:
        db.dispose()

    print()
    print(f"Results: PostgreSQL {version}, nproc={os.cpu_count()}")
    print()
    if webhook is not None:
        verdicts.update(report_webhook(webhook))
    if sender is not None:
        verdicts.update(report_sender(sender))
    print("targets: " + ", ".join(f"{name} {verdict}" for name, verdict in verdicts.items()))
    broken = []
    if webhook is not None and not webhook.inbox_ok:
        broken.append("the inbox does not hold exactly one row per event sent")
    if sender is not None and (sender.duplicates or sender.lost):
        broken.append("outbox messages were delivered more than once or lost")
    for problem in broken:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if broken else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    add_database_arguments(parser, ADMIN_URL, "migrated, demo and bench rows added, not dropped")
    parser.add_argument(
        "--phases", nargs="+", choices=["webhook", "sender"], default=["webhook", "sender"], help="what to run (both)"
    )
    group = parser.add_argument_group("1. webhook acknowledgement")
    group.add_argument("--rate", type=float, default=200.0, help="webhook requests per second (200)")
    group.add_argument("--seconds", type=float, default=60.0, help="duration of the timed webhook load (60)")
    group.add_argument("--warmup-seconds", type=float, default=3.0, help="untimed load at the same rate first (3)")
    group.add_argument("--web-workers", type=int, default=2, help="gunicorn workers of henkham serve (2)")
    group.add_argument("--web-threads", type=int, default=4, help="threads per worker of henkham serve (4)")
    group.add_argument(
        "--gunicorn-args",
        default="",
        help="extra gunicorn settings for henkham serve (GUNICORN_CMD_ARGS), e.g. '--worker-class gthread --threads 4'",
    )
    group.add_argument("--client-processes", type=int, default=2, help="load generator processes (2)")
    group.add_argument("--client-threads", type=int, default=4, help="threads (sessions) per process (4)")
    group.add_argument(
        "--client",
        choices=["requests", "http.client"],
        default="requests",
        help="HTTP client of the load generator: requests.Session (default) or the leaner http.client",
    )
    group.add_argument("--users", type=int, default=2000, help="distinct Zalo users sending the events (2000)")
    group.add_argument("--request-timeout", type=float, default=10.0, help="client time-out per request, s (10)")
    group = parser.add_argument_group("2. sender rate")
    group.add_argument("--sender-seconds", type=float, default=60.0, help="sending time from the first delivery (60)")
    group.add_argument("--messages", type=int, default=6000, help="messages enqueued, at least (6000)")
    group.add_argument("--sender-users", type=int, default=3000, help="users the messages go to (3000)")
    add_sender_arguments(group)
    add_seed_argument(parser, "of the events")
    args = parser.parse_args(argv)
    return bench_main(args, lambda bench: run(bench.url, bench.dbname, args, bench.children), name="webhook")


if __name__ == "__main__":
    sys.exit(main())
