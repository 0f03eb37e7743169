"""Benchmark of the booking core on PostgreSQL with concurrent clients.

Run: ``.venv/bin/python bench/booking.py`` (or ``make bench``). By default it creates a throw-away database
``henkham_bench_<random>`` on the local server, migrates it, loads the demo hospitals and drops the database
at the end. It measures, with 8 client processes (each with its own ``core.uow.Database``):

1. ``appointments.book``: bookings per second and latency, every booking a different patient and a seat
   reserved in advance for it, so no booking rule should refuse (refusals are counted and reported);
2. on a table of at least 10,000 appointments: the check-in lookup, ``appointments.get_appointment`` on random
   booking codes (the target of issue 2 is on this lookup's p99), and the check-in action that follows it,
   ``checkin.check_in`` by code (locked read, status update, audit row, commit), reported beside it;
3. ``slots.search_slots`` over the 20 departments and 30-day horizon of the demo hospital ``bvdk-tinh-demo``,
   with and without day / part-of-day filters.

Each measure is followed by a short 1-client reference run (same calls, no competing clients), which tells
the cost of a call apart from the queueing of many clients on few CPUs: the clients run on this machine and
share its CPUs with the server. Every call runs in its own unit of work, as a web request would.

Missing a target is a measurement, not a failure: the exit status is 0 unless something errors.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import multiprocessing as mp
import os
import platform
import queue
import random
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# `python bench/booking.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import sqlalchemy
from sqlalchemy import bindparam, event, func, insert, select, text, update

from core.booking import appointments, checkin, slots
from core.booking.codes import new_booking_code
from core.booking.demo import load_demo
from core.booking.models import (
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    Department,
    Hospital,
    Patient,
    Slot,
    VisitType,
)
from core.booking.patients import get_or_create_account
from core.errors import DomainError
from core.timeutil import local_to_utc, local_today, utcnow
from core.uow import Database
from henkham.migrate import upgrade
from tests.harness import (
    BenchError,
    add_database_arguments,
    add_seed_argument,
    bench_main,
    bench_parser,
    join_clients,
    log,
)

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HOSPITAL = "bvdk-tinh-demo"  # the first demo hospital: 20 departments, 30-day booking horizon
CHANNEL = "api"
MIN_APPOINTMENTS = 10_000  # the check-in lookups run on a table at least this big
WARMUP_OPS = 5  # untimed calls per client before the start signal (connections, SQLAlchemy caches)

TARGET_BOOKINGS_PER_S = 300.0
TARGET_CHECKIN_P99_MS = 10.0
TARGET_SEARCH_P99_MS = 20.0


# --------------------------------------------------------------------------------------------------------
# Client processes
# --------------------------------------------------------------------------------------------------------


@dataclass
class ClientResult:
    """What one client process measured (sent back to the parent through a queue)."""

    client: int
    latencies: dict[str, list[float]] = field(default_factory=dict)  # seconds, per label
    refusals: Counter[str] = field(default_factory=Counter)  # DomainError codes
    anomalies: Counter[str] = field(default_factory=Counter)  # succeeded, but not the expected outcome
    statements: int = 0  # SQL statements sent by SQLAlchemy during the timed part
    cpu: float = 0.0  # CPU seconds this client process used during the timed part
    started: float = 0.0  # time.monotonic() (system-wide clock) when the timed part began
    finished: float = 0.0
    error: str | None = None

    @property
    def ops(self) -> int:
        return sum(len(v) for v in self.latencies.values())


# An operation runs one service call in its own unit of work and returns the label it is measured under;
# it raises DomainError for a refusal and anything else for an error.
Operation = Callable[[Database, Any, dict[str, Any]], str]


def op_book(db: Database, item: tuple[int, int, str, str], ctx: dict[str, Any]) -> str:
    slot_id, patient_id, visit_type, key = item
    request = appointments.BookingRequest(
        slot_id=slot_id,
        patient_id=patient_id,
        channel=CHANNEL,
        account_id=ctx["account_id"],
        visit_type=visit_type,
        idempotency_key=key,  # the API sends an Idempotency-Key on every booking
    )
    with db.uow() as uow:
        _view, created = appointments.book(uow, request)
    if not created:
        ctx["anomalies"]["not_created"] += 1
    return "book"


def op_check_in(db: Database, item: tuple[str, dt.datetime], ctx: dict[str, Any]) -> str:
    code, now = item
    with db.uow() as uow:
        result = checkin.check_in(uow, code, channel="kiosk", hospital_id=ctx["hospital_id"], now=now)
    if result.already_checked_in:
        ctx["anomalies"]["already_checked_in"] += 1
    return "check_in"


def op_get(db: Database, item: str, ctx: dict[str, Any]) -> str:
    with db.reader() as uow:
        appointments.get_appointment(uow, item, ctx["account_id"])
    return "get_appointment"


def op_search(db: Database, item: tuple[str, dt.date | None, str | None], ctx: dict[str, Any]) -> str:
    department, day, part = item
    with db.reader() as uow:
        found = slots.search_slots(uow, hospital_slug=HOSPITAL, department_slug=department, day=day, part_of_day=part)
    if not found:
        ctx["anomalies"]["empty_result"] += 1
    if day is None:
        return "search: no filter" if part is None else "search: part_of_day"
    return "search: day" if part is None else "search: day + part_of_day"


OPERATIONS: dict[str, Operation] = {
    "book": op_book,
    "check_in": op_check_in,
    "get": op_get,
    "search": op_search,
}


def measure(
    db: Database,
    kind: str,
    items: Sequence[Any],
    warmup: Sequence[Any],
    ctx: dict[str, Any],
    seconds: float,
    start_signal: Callable[[], None],
    result: ClientResult,
) -> None:
    """Warm up, wait for the start signal, then call the service until the time or the items run out."""
    operation = OPERATIONS[kind]
    ctx = {**ctx, "anomalies": result.anomalies}
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    engines = {db.engine, db.reader_engine}  # readers have their own pool on PostgreSQL
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        for item in warmup:
            with contextlib.suppress(DomainError):
                operation(db, item, ctx)
        result.anomalies.clear()
        statements[0] = 0
        start_signal()

        perf = time.perf_counter
        cpu_start = time.process_time()
        result.started = time.monotonic()
        deadline = perf() + seconds
        for item in items:
            begin = perf()
            if begin >= deadline:
                break
            try:
                label = operation(db, item, ctx)
            except DomainError as refusal:
                result.refusals[refusal.code] += 1
                label = "refused"
            result.latencies.setdefault(label, []).append(perf() - begin)
        result.finished = time.monotonic()
        result.cpu = time.process_time() - cpu_start
        result.statements = statements[0]
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def client_main(
    client: int,
    kind: str,
    url: str,
    items: Sequence[Any],
    warmup: Sequence[Any],
    ctx: dict[str, Any],
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """One client process with its own Database; all clients start together at the barrier."""
    result = ClientResult(client=client)
    db: Database | None = None
    try:
        db = Database(url, pool_size=1, max_overflow=1)
        measure(db, kind, items, warmup, ctx, seconds, lambda: barrier.wait(timeout=120), result)
    except Exception:
        result.error = traceback.format_exc()
        with contextlib.suppress(Exception):
            barrier.abort()  # release the others instead of letting them wait for us
    finally:
        if db is not None:
            db.dispose()
        results.put(result)


@dataclass
class PhaseResult:
    name: str
    clients: list[ClientResult]
    items_given: int

    @property
    def ops(self) -> int:
        return sum(c.ops for c in self.clients)

    @property
    def wall(self) -> float:
        return max(c.finished for c in self.clients) - min(c.started for c in self.clients)

    @property
    def refusals(self) -> Counter[str]:
        return sum((c.refusals for c in self.clients), Counter())

    @property
    def anomalies(self) -> Counter[str]:
        return sum((c.anomalies for c in self.clients), Counter())

    @property
    def cpu_ms_per_op(self) -> float:
        return sum(c.cpu for c in self.clients) * 1000 / max(1, self.ops)

    @property
    def statements_per_op(self) -> float:
        return sum(c.statements for c in self.clients) / max(1, self.ops)

    def latencies(self, label: str | None = None) -> list[float]:
        merged: list[float] = []
        for c in self.clients:
            for name, values in c.latencies.items():
                if label is None or name == label:
                    merged.extend(values)
        merged.sort()
        return merged

    def labels(self) -> list[str]:
        return sorted({name for c in self.clients for name in c.latencies})

    def used(self, client: int) -> int:
        """How many of its timed items a client consumed."""
        return next(c.ops for c in self.clients if c.client == client)


def run_phase(
    name: str,
    kind: str,
    url: str,
    per_client: list[list[Any]],
    warmups: list[list[Any]],
    ctx: dict[str, Any],
    seconds: float,
) -> PhaseResult:
    """Start one process per client, release them together, collect their results."""
    spawn = mp.get_context("spawn")  # a clean interpreter per client: no engine or socket inherited
    clients = len(per_client)
    barrier = spawn.Barrier(clients)
    results = spawn.Queue()
    processes = [
        spawn.Process(
            target=client_main,
            args=(i, kind, url, per_client[i], warmups[i], ctx, seconds, barrier, results),
            name=f"bench-{kind}-{i}",
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    collected: list[ClientResult] = []
    deadline = time.monotonic() + seconds + 180
    try:
        while len(collected) < clients:
            try:
                collected.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
            except queue.Empty:
                raise BenchError(f"{name}: clients did not report within {seconds + 180:.0f} s") from None
    finally:
        join_clients(processes, timeout=30)
    errors = [c for c in collected if c.error]
    if errors:
        raise BenchError(f"{name}: client {errors[0].client} failed:\n{errors[0].error}")
    collected.sort(key=lambda c: c.client)
    return PhaseResult(name=name, clients=collected, items_given=sum(len(p) for p in per_client))


def run_single(
    name: str, kind: str, url: str, items: list[Any], warmup: list[Any], ctx: dict[str, Any], seconds: float
) -> PhaseResult:
    """The same calls from one client in this process: the latency without competing clients."""
    result = ClientResult(client=0)
    db = Database(url, pool_size=1, max_overflow=1)
    try:
        measure(db, kind, items, warmup, ctx, seconds, lambda: None, result)
    finally:
        db.dispose()
    return PhaseResult(name=name, clients=[result], items_given=len(items))


# --------------------------------------------------------------------------------------------------------
# Set-up of the data
# --------------------------------------------------------------------------------------------------------


@dataclass
class World:
    hospital_id: int
    account_id: int
    departments: list[str]
    pairs: list[tuple[int, int, str, str]]  # (slot_id, patient_id, visit_type, idempotency key), one per seat


def build_world(db: Database, *, patients_wanted: int, rng: random.Random) -> World:
    """Demo hospitals and slots, one bench account with many patients, and one free seat per patient."""
    with db.uow() as uow:
        load_demo(uow, slot_days=31)
    with db.uow() as uow:
        account_id = get_or_create_account(uow, "bench", "bench-account")
    with db.uow() as uow:
        session = uow.session
        hospital = session.scalar(select(Hospital).where(Hospital.slug == HOSPITAL))
        if hospital is None:
            raise BenchError(f"demo hospital {HOSPITAL} missing after load_demo")
        departments = list(
            session.scalars(
                select(Department.slug).where(Department.hospital_id == hospital.id).order_by(Department.id)
            )
        )
        visit_types = list(session.scalars(select(VisitType.code).where(VisitType.hospital_id == hospital.id)))
        # Seats that stay bookable for the whole run: well past the minimum lead time, inside the horizon.
        now = utcnow()
        last_day = local_today(now) + dt.timedelta(days=hospital.booking_horizon_days - 1)
        free = session.execute(
            select(Slot.id, Slot.capacity - Slot.booked).where(
                Slot.hospital_id == hospital.id,
                Slot.closed.is_(False),
                Slot.start_at > now + dt.timedelta(minutes=hospital.min_lead_minutes + 180),
                Slot.day <= last_day,
                Slot.booked < Slot.capacity,
            )
        ).all()
        seats = [slot_id for slot_id, n in free for _ in range(n)]
        rng.shuffle(seats)
        seats = seats[:patients_wanted]

        # Patients in bulk (the services are not what is measured here). Half have a CCCD on file.
        first = session.scalar(select(func.coalesce(func.max(Patient.id), 0)))
        rows = [
            {
                "account_id": account_id,
                "relation": "self",
                "full_name": f"Người bệnh thử {first + i}",
                "date_of_birth": dt.date(1950, 1, 1) + dt.timedelta(days=(i * 37) % 25_000),
                "sex": "male" if i % 2 else "female",
                "phone": f"+849{(first + i) % 100_000_000:08d}",
                "cccd": f"0{(first + i) % 10**11:011d}" if i % 2 == 0 else None,
            }
            for i in range(len(seats))
        ]
        # Core executemany without RETURNING: the ORM bulk path with RETURNING goes row by row here.
        session.execute(insert(Patient.__table__), rows)
        patient_ids = list(
            session.scalars(select(Patient.id).where(Patient.id > first, Patient.account_id == account_id))
        )
        uow.commit()
    pairs = [
        (slot_id, patient_id, visit_types[i % len(visit_types)], uuid.uuid4().hex)
        for i, (slot_id, patient_id) in enumerate(zip(seats, patient_ids, strict=True))
    ]
    return World(hospital_id=hospital.id, account_id=account_id, departments=departments, pairs=pairs)


def fill_appointments(db: Database, pairs: Sequence[tuple[int, int, str, str]], hospital_id: int) -> int:
    """Insert appointments for ``pairs`` directly (same rows ``book`` would write), much faster than booking.

    Used only to reach the table size of the lookup benchmark; takes the lowest free queue number of each
    slot and moves ``slots.booked`` like ``book`` does.
    """
    if not pairs:
        return 0
    with db.uow() as uow:
        session = uow.session
        slot_ids = sorted({p[0] for p in pairs})
        slot_rows = {s.id: s for s in session.scalars(select(Slot).where(Slot.id.in_(slot_ids)).with_for_update())}
        held: dict[int, set[int]] = {}
        for slot_id, number in session.execute(
            select(Appointment.slot_id, Appointment.queue_number).where(
                Appointment.slot_id.in_(slot_ids), Appointment.status != AppointmentStatus.CANCELLED.value
            )
        ):
            held.setdefault(slot_id, set()).add(number)
        visit_types = {
            code: id_
            for code, id_ in session.execute(
                select(VisitType.code, VisitType.id).where(VisitType.hospital_id == hospital_id)
            )
        }
        codes = set(session.scalars(select(Appointment.code)))
        now = utcnow()
        rows: list[dict[str, Any]] = []
        added: Counter[int] = Counter()
        for slot_id, patient_id, visit_type, _key in pairs:
            slot = slot_rows[slot_id]
            taken = held.setdefault(slot_id, set())
            if slot.booked + added[slot_id] >= slot.capacity:
                raise BenchError(f"slot {slot_id} has no seat left for the fill")
            number = next(n for n in range(slot.queue_base, slot.queue_base + slot.capacity) if n not in taken)
            taken.add(number)
            added[slot_id] += 1
            code = new_booking_code()
            while code in codes:
                code = new_booking_code()
            codes.add(code)
            rows.append(
                {
                    "code": code,
                    "hospital_id": slot.hospital_id,
                    "department_id": slot.department_id,
                    "doctor_id": slot.doctor_id,
                    "slot_id": slot.id,
                    "patient_id": patient_id,
                    "visit_type_id": visit_types[visit_type],
                    "status": AppointmentStatus.BOOKED.value,
                    "day": slot.day,
                    "part_of_day": slot.part_of_day,
                    "starts_at": slot.start_at,
                    "session_end_at": slot.session_end_at,
                    "queue_number": number,
                    "channel": CHANNEL,
                    "reason": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        session.execute(insert(Appointment.__table__), rows)
        new_codes = [row["code"] for row in rows]
        ids = list(session.scalars(select(Appointment.id).where(Appointment.code.in_(new_codes))))
        session.execute(
            insert(AppointmentEvent.__table__),
            [
                {"appointment_id": i, "kind": "booked", "channel": CHANNEL, "detail": "bench fill", "at": now}
                for i in ids
            ],
        )
        # One Core executemany (an ORM UPDATE per slot would re-evaluate every loaded Slot: quadratic).
        slot_table = Slot.__table__
        session.execute(
            update(slot_table)
            .where(slot_table.c.id == bindparam("slot"))
            .values(booked=slot_table.c.booked + bindparam("n")),
            [{"slot": slot_id, "n": n} for slot_id, n in added.items()],
        )
        uow.commit()
    return len(rows)


# --------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass
class Row:
    measure: str
    clients: int
    calls: int
    throughput: str
    p50: str
    p99: str
    target: str = ""
    verdict: str = ""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def latency_row(measure: str, phase: PhaseResult, label: str | None = None, target_ms: float | None = None) -> Row:
    values = phase.latencies(label)
    p99 = percentile(values, 99)
    verdict = "" if target_ms is None else ("PASS" if p99 * 1000 <= target_ms else "FAIL")
    return Row(
        measure=measure,
        clients=len(phase.clients),
        calls=len(values),
        throughput=f"{len(values) / phase.wall:,.0f}/s" if phase.wall > 0 else "",
        p50=ms(percentile(values, 50)),
        p99=ms(p99),
        target="" if target_ms is None else f"p99 ≤ {target_ms:g} ms",
        verdict=verdict,
    )


def print_table(rows: list[Row]) -> None:
    head = ["measure", "clients", "calls", "throughput", "p50 ms", "p99 ms", "target", "result"]
    cells = [[r.measure, str(r.clients), f"{r.calls:,}", r.throughput, r.p50, r.p99, r.target, r.verdict] for r in rows]
    print_columns(head, cells, "<>>>>><<")


def print_columns(head: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> None:
    """A plain-text table: a header, a rule, the rows; ``align`` has one of < or > per column."""
    widths = [max(len(x) for x in column) for column in zip(head, *rows, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(f"{v:{a}{w}}" for v, a, w in zip(values, align, widths, strict=True)).rstrip()

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def phase_notes(phase: PhaseResult) -> str:
    notes = [
        f"{phase.ops:,} calls in {phase.wall:.1f} s",
        f"{phase.statements_per_op:.1f} SQL statements per call",
        f"{phase.cpu_ms_per_op:.2f} ms client CPU per call",
    ]
    if phase.refusals:
        notes.append("refusals " + ", ".join(f"{k}={v}" for k, v in phase.refusals.most_common()))
    for name, count in phase.anomalies.most_common():
        if name == "empty_result":
            notes.append(f"{count:,} searches found nothing (no session that day, e.g. Sundays)")
        else:
            notes.append(f"{name}={count}")
    if phase.ops >= phase.items_given:
        notes.append("ran out of prepared items before the time was up")
    return "; ".join(notes)


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    return [list(items[i::parts]) for i in range(parts)]


def settle(db: Database) -> None:
    """VACUUM ANALYZE between phases, as autovacuum would by then on a real table.

    On 2 cores an autovacuum that happens to start inside an 8-second measuring window takes a core from
    the clients and swings the figures by half; settling first makes runs comparable.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def server_facts(db: Database) -> tuple[str, str]:
    with db.engine.connect() as conn:
        version = str(conn.scalar(text("SHOW server_version")))
        settings = ", ".join(
            f"{name}={conn.scalar(text(f'SHOW {name}'))}"
            for name in ("max_connections", "shared_buffers", "synchronous_commit", "fsync")
        )
    return version, settings


def inconsistent_slots(db: Database) -> int:
    """Slots whose ``booked`` differs from their live appointments (must be 0 after concurrent booking)."""
    with db.uow() as uow:
        return int(
            uow.session.scalar(
                text(
                    "SELECT count(*) FROM slots s LEFT JOIN (SELECT slot_id, count(*) AS n FROM appointments "
                    "WHERE status <> 'cancelled' GROUP BY slot_id) a ON a.slot_id = s.id "
                    "WHERE s.booked <> coalesce(a.n, 0)"
                )
            )
        )


def run(url: str, args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    clients = args.clients
    single = args.single_seconds
    db = Database(url)
    try:
        version, settings = server_facts(db)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"machine     : nproc={os.cpu_count()}, {platform.machine()}, load average {load} at the start")
        versions = (
            f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}"
        )
        print(f"software    : {versions}")
        print(f"postgresql  : {version} ({settings})")
        print(f"clients     : {clients} processes on this machine, one core.uow.Database each (pool_size=1)")
        print()

        upgrade(url)
        # Patients and reserved seats for the booking run at any plausible rate, plus the table-size top-up.
        world = build_world(db, patients_wanted=max(MIN_APPOINTMENTS + 2_000, 2_500 * clients + 1_000), rng=rng)
        with db.uow() as uow:
            slot_count = uow.session.scalar(select(func.count()).select_from(Slot))
        log(
            f"set-up: migrated, demo loaded ({slot_count:,} slots), "
            f"{len(world.pairs):,} patients with a reserved seat each"
        )
        ctx = {"account_id": world.account_id, "hospital_id": world.hospital_id}
        phases: dict[str, PhaseResult] = {}

        # 1. Bookings: each client books its own share of the reserved (slot, patient) pairs.
        reserved = world.pairs[:1_000]  # for the single-client reference run
        per_client = split(world.pairs[1_000:], clients)
        phases["book"] = booking = run_phase(
            "booking",
            "book",
            url,
            [p[WARMUP_OPS:] for p in per_client],
            [p[:WARMUP_OPS] for p in per_client],
            ctx,
            args.booking_seconds,
        )
        log(f"1. booking: {booking.ops:,} bookings by {clients} clients in {booking.wall:.1f} s")
        if single > 0:
            phases["book-1"] = run_single(
                "booking, 1 client", "book", url, reserved[WARMUP_OPS:], reserved[:WARMUP_OPS], ctx, single
            )
        # Top up to MIN_APPOINTMENTS with the pairs nobody booked.
        unused = [pair for i, p in enumerate(per_client) for pair in p[WARMUP_OPS + booking.used(i) :]]
        unused += reserved[WARMUP_OPS + (phases["book-1"].ops if single > 0 else 0) :]
        with db.uow() as uow:
            existing = uow.session.scalar(select(func.count()).select_from(Appointment))
        filled = fill_appointments(db, unused[: max(0, MIN_APPOINTMENTS - existing)], world.hospital_id)
        settle(db)
        with db.uow() as uow:
            codes = [
                (code, day)
                for code, day in uow.session.execute(
                    select(Appointment.code, Appointment.day).where(
                        Appointment.status == AppointmentStatus.BOOKED.value,
                        Appointment.hospital_id == world.hospital_id,
                    )
                )
            ]
            total = uow.session.scalar(select(func.count()).select_from(Appointment))
        log(f"   table: {total:,} appointments ({filled:,} inserted directly to reach {MIN_APPOINTMENTS:,})")

        # 2. Check-in by code, each code once (the writing path), on the appointment's own day before the clinic
        # opens (check_in accepts only today's visits); then the read-only lookup on random codes.
        rng.shuffle(codes)
        visits = [(code, local_to_utc(day, dt.time(6, 30))) for code, day in codes]
        reserved_visits, visits = visits[:1_000], visits[1_000:]
        per_client = split(visits, clients)
        phases["check_in"] = run_phase(
            "check-in",
            "check_in",
            url,
            [p[WARMUP_OPS:] for p in per_client],
            [p[:WARMUP_OPS] for p in per_client],
            ctx,
            args.lookup_seconds,
        )
        lookups = [rng.choice(codes)[0] for _ in range(clients * 20_000)]
        per_client = split(lookups, clients)
        phases["get"] = run_phase(
            "get_appointment",
            "get",
            url,
            [p[WARMUP_OPS:] for p in per_client],
            [p[:WARMUP_OPS] for p in per_client],
            ctx,
            args.lookup_seconds,
        )
        if single > 0:
            phases["check_in-1"] = run_single(
                "check-in, 1 client",
                "check_in",
                url,
                reserved_visits[WARMUP_OPS:],
                reserved_visits[:WARMUP_OPS],
                ctx,
                single,
            )
            phases["get-1"] = run_single(
                "get_appointment, 1 client", "get", url, per_client[0][::-1], per_client[0][:WARMUP_OPS], ctx, single
            )
        log(
            f"2. lookups: {phases['check_in'].ops:,} check-ins, {phases['get'].ops:,} get_appointment calls "
            f"by {clients} clients"
        )

        settle(db)  # the check-ins left dead rows: vacuum them now, not during the search window
        # 3. Slot search: a random department, the four filter combinations in equal shares.
        today = local_today()
        searches: list[tuple[str, dt.date | None, str | None]] = []
        for i in range(clients * 20_000):
            day = today + dt.timedelta(days=rng.randint(1, 30)) if i % 4 in (1, 3) else None
            part = rng.choice(["morning", "afternoon"]) if i % 4 in (2, 3) else None
            searches.append((rng.choice(world.departments), day, part))
        warm = WARMUP_OPS * 4  # every filter combination warmed up
        per_client = split(searches, clients)
        phases["search"] = run_phase(
            "search",
            "search",
            url,
            [p[warm:] for p in per_client],
            [p[:warm] for p in per_client],
            ctx,
            args.search_seconds,
        )
        if single > 0:
            phases["search-1"] = run_single(
                "search, 1 client", "search", url, per_client[0][::-1], per_client[0][:warm], ctx, single
            )
        log(f"3. search: {phases['search'].ops:,} searches over {len(world.departments)} departments")
        broken = inconsistent_slots(db)
    finally:
        db.dispose()

    # The table of figures: each measured row, then its 1-client reference row when there is one.
    booking = phases["book"]
    rate = len(booking.latencies("book")) / booking.wall
    book_row = latency_row("book (appointments.book)", booking, "book")
    book_row.target = f"≥ {TARGET_BOOKINGS_PER_S:g} bookings/s"
    book_row.verdict = "PASS" if rate >= TARGET_BOOKINGS_PER_S else "FAIL"
    # The target is on the check-in *lookup* (issue 2, acceptance 5): the desk's read of an appointment by its
    # code. The check-in action that follows (locked read, update, audit row, commit) is reported beside it.
    check_in_row = latency_row("check-in action (check_in)", phases["check_in"], "check_in")
    check_in_row.target = "(reported)"
    get_row = latency_row("check-in lookup (get by code)", phases["get"], "get_appointment", TARGET_CHECKIN_P99_MS)
    search = phases["search"]
    search_row = latency_row("search_slots, all queries", search, None, TARGET_SEARCH_P99_MS)
    reference = "  same, 1 client (reference)"
    rows = [book_row]
    if "book-1" in phases:
        rows.append(latency_row(reference, phases["book-1"], "book"))
    rows.append(check_in_row)
    if "check_in-1" in phases:
        rows.append(latency_row(reference, phases["check_in-1"], "check_in"))
    rows.append(get_row)
    if "get-1" in phases:
        rows.append(latency_row(reference, phases["get-1"], "get_appointment"))
    rows.append(search_row)
    rows.extend(latency_row(f"  {label.removeprefix('search: ')}", search, label) for label in search.labels())
    if "search-1" in phases:
        rows.append(latency_row("  all, 1 client (reference)", phases["search-1"]))

    print()
    print(f"Results: PostgreSQL {version}, nproc={os.cpu_count()}, {clients} concurrent client processes")
    print()
    print_table(rows)
    print()
    print(f"booking refusals: {sum(booking.refusals.values())} (expected 0)")
    print(f"slots whose booked count differs from their live appointments: {broken} (expected 0)")
    for phase in phases.values():
        print(f"  {phase.name:<26}: {phase_notes(phase)}")
    print()
    verdicts = {
        "bookings/s": book_row.verdict,
        "check-in lookup p99": get_row.verdict,
        "search_slots p99": search_row.verdict,
    }
    print("targets: " + ", ".join(f"{name} {verdict}" for name, verdict in verdicts.items()))
    if broken:
        print("ERROR: slot counts are inconsistent with the appointments", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    add_database_arguments(parser, ADMIN_URL, "migrated and filled with demo and bench data, not dropped", logs=False)
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes (8)")
    parser.add_argument("--booking-seconds", type=float, default=15.0, help="duration of the booking run (15)")
    parser.add_argument("--lookup-seconds", type=float, default=8.0, help="duration of each lookup run (8)")
    parser.add_argument("--search-seconds", type=float, default=8.0, help="duration of the slot search run (8)")
    parser.add_argument(
        "--single-seconds", type=float, default=2.0, help="duration of each 1-client reference run (2; 0 skips them)"
    )
    add_seed_argument(parser, "for the data and the queries")
    args = parser.parse_args(argv)
    return bench_main(args, lambda bench: run(bench.url, args), name="booking")


if __name__ == "__main__":
    sys.exit(main())
