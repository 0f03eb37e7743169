"""Benchmark of the figures page for a province: 20 hospitals, one year of data, about 1,000,000 appointments.

Run: ``.venv/bin/python bench/console_figures.py`` (PostgreSQL). It keeps its data in the database
``henkham_bench_figures`` on the local server (``--database-url`` for another): the first run seeds it with COPY
(hospitals, departments, patients, receptionists, ~1,000,000 appointments over the last 365 days with the online
share rising from 3 % to 17 %, a reception timing for each check-in) and leaves a marker row; later runs reuse
the seed (``--fresh`` drops and seeds again). Then it rolls the whole year up (core/figures/rollup.py, one
transaction per day, timed) and times the figures page through the Flask test client, logged in: the province
and one hospital, whole year, by month (the HTML page with its charts' series; the JSON route apart), median of
``--runs`` runs. Target: <= 1 s on this machine. ``measure_figures()`` returns the numbers (bench/console.py
prints them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import select, text

from core.booking.models import Hospital
from core.timeutil import local_to_utc, local_today
from core.uow import Database
from henkham.migrate import upgrade

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "henkham_bench_figures"
SEED_MARKER = "figures-seed-v1"
HOSPITALS = 20
DEPARTMENTS = 5
RECEPTIONISTS = 3
DAYS = 365
APPOINTMENTS = 1_000_000
PATIENTS = 20_000
PASSWORD = "mật-khẩu-bench-figures"
TARGET_SECONDS = 1.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def ensure_database(admin_url: str, fresh: bool) -> str:
    url = admin_url.rsplit("/", 1)[0] + f"/{DB_NAME}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    upgrade(url)
    return url


def seeded(url: str) -> bool:
    with psycopg.connect(_plain(url)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_markers (name text PRIMARY KEY, at timestamptz NOT NULL)")
        conn.commit()
        return conn.execute("SELECT 1 FROM bench_markers WHERE name = %s", (SEED_MARKER,)).fetchone() is not None


def seed(url: str, rng: random.Random) -> dict[str, Any]:
    """The province's year, with COPY; returns what was made."""
    from argon2 import PasswordHasher

    started = time.perf_counter()
    today = local_today()
    first_day = today - dt.timedelta(days=DAYS)
    hash_ = PasswordHasher().hash(PASSWORD)
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(_plain(url)) as conn:
        cur = conn.cursor()
        hospital_ids, department_ids, slot_of, staff_of = [], {}, {}, {}
        for h in range(HOSPITALS):
            hospital_id = cur.execute(
                "INSERT INTO hospitals (slug, name, facility_code, address, phone, emergency_phone, opening_hours,"
                " is_demo, booking_horizon_days, min_lead_minutes, change_cutoff_minutes, max_active_appointments,"
                " one_appointment_per_session, created_at) VALUES (%s, %s, %s, '', '', '', '', false, 30, 60, 120, 3,"
                " true, %s) RETURNING id",
                (f"bench-fig-{h:02d}", f"Bệnh viện {h + 1:02d}", f"9{h:04d}", now),
            ).fetchone()[0]
            hospital_ids.append(hospital_id)
            department_ids[hospital_id] = []
            for d in range(DEPARTMENTS):
                department_id = cur.execute(
                    "INSERT INTO departments (hospital_id, slug, name, location, what_to_bring, his_codes)"
                    " VALUES (%s, %s, %s, '', '', '') RETURNING id",
                    (hospital_id, f"k{d}", f"Khoa {d + 1}"),
                ).fetchone()[0]
                schedule_id = cur.execute(
                    "INSERT INTO schedules (hospital_id, department_id, weekday, part_of_day, start_time, end_time,"
                    " slot_minutes, capacity_per_slot, room, active) VALUES (%s, %s, 0, 'morning', '07:00', '11:00',"
                    " 15, 1, '', true) RETURNING id",
                    (hospital_id, department_id),
                ).fetchone()[0]
                start = local_to_utc(first_day, dt.time(7))
                slot_of[department_id] = cur.execute(
                    "INSERT INTO slots (hospital_id, department_id, schedule_id, day, part_of_day, start_at, end_at,"
                    " session_end_at, capacity, booked, queue_base, room, closed) VALUES (%s, %s, %s, %s, 'morning',"
                    " %s, %s, %s, 1, 0, 1, '', true) RETURNING id",
                    (hospital_id, department_id, schedule_id, first_day, start, start, start),
                ).fetchone()[0]
                department_ids[hospital_id].append(department_id)
            staff_of[hospital_id] = [
                cur.execute(
                    "INSERT INTO staff_accounts (username, full_name, role, hospital_id, password_hash, active,"
                    " created_at, password_changed_at) VALUES (%s, %s, 'receptionist', %s, %s, true, %s, %s)"
                    " RETURNING id",
                    (f"bench-fig-{h:02d}-le-tan-{r}", f"Lễ tân {r + 1} BV {h + 1:02d}", hospital_id, hash_, now, now),
                ).fetchone()[0]
                for r in range(RECEPTIONISTS)
            ]
        for username, role, hospital_id in (
            ("bench-fig-province", "province_admin", None),
            ("bench-fig-admin", "hospital_admin", hospital_ids[0]),
        ):
            cur.execute(
                "INSERT INTO staff_accounts (username, full_name, role, hospital_id, password_hash, active,"
                " created_at, password_changed_at) VALUES (%s, %s, %s, %s, %s, true, %s, %s)",
                (username, username, role, hospital_id, hash_, now, now),
            )
        account_id = cur.execute(
            "INSERT INTO accounts (provider, external_id, created_at) VALUES ('bench', 'figures', %s) RETURNING id",
            (now,),
        ).fetchone()[0]
        first_patient = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM patients").fetchone()[0]
        with cur.copy(
            "COPY patients (account_id, relation, full_name, date_of_birth, sex, phone, address, created_at) FROM STDIN"
        ) as copy:
            for n in range(PATIENTS):
                copy.write_row(
                    (account_id, "self", f"Bệnh nhân {n}", dt.date(1980, 1, 1), "male", f"+8490{n:07d}", "", now)
                )
        log(f"seed: {HOSPITALS} hospitals, {HOSPITALS * DEPARTMENTS} departments, {PATIENTS} patients")
        per_day = APPOINTMENTS / (HOSPITALS * DAYS)
        made = timings = 0
        columns = (
            "code, hospital_id, department_id, slot_id, patient_id, status, day, part_of_day, starts_at,"
            " session_end_at, queue_number, channel, reason, created_at, updated_at, checked_in_at, confirmed_at,"
            " cancelled_at, cancelled_by"
        )
        reception_rows: list[tuple] = []
        with cur.copy(f"COPY appointments ({columns}) FROM STDIN") as copy:
            for offset in range(DAYS):
                day = first_day + dt.timedelta(days=offset)
                online_share = 0.03 + 0.14 * offset / (DAYS - 1)  # 3 % at the start of the year, 17 % at its end
                for hospital_id in hospital_ids:
                    for _ in range(int(per_day) + (1 if rng.random() < per_day % 1 else 0)):
                        made += 1
                        department_id = rng.choice(department_ids[hospital_id])
                        starts = local_to_utc(day, dt.time(7 + rng.randrange(9), rng.choice((0, 15, 30, 45))))
                        online = rng.random() < online_share
                        channel = rng.choices(("zalo", "mini_app", "kiosk"), (6, 3, 1))[0] if online else "staff"
                        lead = rng.randrange(0, 15) if online else 0
                        created = starts - dt.timedelta(days=lead, hours=rng.randrange(1, 20))
                        roll = rng.random()
                        status = "cancelled" if roll < 0.05 else "no_show" if roll < 0.13 else "completed"
                        confirmed = starts - dt.timedelta(hours=20) if online and rng.random() < 0.5 else None
                        checked = (
                            starts + dt.timedelta(minutes=rng.randrange(-20, 10)) if status == "completed" else None
                        )
                        copy.write_row(
                            (
                                f"F{made:010d}",
                                hospital_id,
                                department_id,
                                slot_of[department_id],
                                first_patient + rng.randrange(PATIENTS),
                                status,
                                day,
                                "morning",
                                starts,
                                starts + dt.timedelta(hours=4),
                                made,
                                channel,
                                "",
                                created,
                                starts,
                                checked,
                                confirmed,
                                created + dt.timedelta(hours=1) if status == "cancelled" else None,
                                "patient" if status == "cancelled" else None,
                            )
                        )
                        if checked is not None:
                            # a booked patient in ~20 s at the end of the year, ~10 min at its start
                            typical = 600 * (1 - offset / DAYS) + 20 * offset / DAYS if online else 300
                            seconds = max(3.0, rng.lognormvariate(math.log(typical), 0.5))
                            reception_rows.append(
                                (
                                    hospital_id,
                                    made,
                                    rng.choice(staff_of[hospital_id]),
                                    f"Quầy {rng.randrange(1, 3)}",
                                    checked - dt.timedelta(seconds=seconds),
                                    checked,
                                )
                            )
        log(f"seed: {made} appointments")
        first_id = cur.execute("SELECT min(id) FROM appointments WHERE code LIKE 'F%%'").fetchone()[0]
        with cur.copy(
            "COPY reception_timings (hospital_id, appointment_id, staff_id, desk, lookup_kind, looked_up_at,"
            " checked_in_at) FROM STDIN"
        ) as copy:
            for hospital_id, n, staff_id, desk, looked, checked in reception_rows:
                timings += 1
                copy.write_row((hospital_id, first_id + n - 1, staff_id, desk, "code", looked, checked))
        cur.execute("INSERT INTO bench_markers (name, at) VALUES (%s, %s)", (SEED_MARKER, now))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    log(f"seed: {timings} reception timings")
    return {"appointments": made, "reception_timings": timings, "seed_seconds": round(time.perf_counter() - started, 1)}


def roll_up_year(db: Database) -> dict[str, Any]:
    from bot.zalo_webhook.figures_channel import ZaloFigures
    from core.figures.rollup import roll_up_range

    today = local_today()
    started = time.perf_counter()
    rows = 0
    for result in roll_up_range(db, today - dt.timedelta(days=DAYS), today - dt.timedelta(days=1), ZaloFigures()):
        rows += result.rows
    seconds = time.perf_counter() - started
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE daily_figures"))
        conn.commit()
    return {
        "rollup_seconds": round(seconds, 1),
        "rollup_seconds_per_day": round(seconds / DAYS, 3),
        "figure_rows": rows,
    }


def _client(db: Database, username: str):
    from core.config import Settings
    from henkham.web import create_app

    app = create_app(Settings(database_url=db.url, rate_limit_enabled=False), database=db)
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/staff/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise RuntimeError(f"the login of {username} failed ({answer.status_code})")
    return client


def _time(client, path: str, query: dict[str, str], runs: int) -> tuple[float, str]:
    timings = []
    body = ""
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, query_string=query)
        timings.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        body = response.get_data(as_text=True)
    return statistics.median(timings), body


def time_pages(db: Database, runs: int) -> dict[str, Any]:
    today = local_today()
    year = {"from": (today - dt.timedelta(days=DAYS)).isoformat(), "to": (today - dt.timedelta(days=1)).isoformat()}
    with db.reader() as uow:
        first_hospital = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "bench-fig-00"))
    out: dict[str, Any] = {}
    for name, username, scope in (
        ("province", "bench-fig-province", "province"),
        ("hospital", "bench-fig-admin", str(first_hospital)),
    ):
        client = _client(db, username)
        query = {**year, "group": "month", "scope": scope}
        _time(client, "/staff/figures", query, 1)  # warm: templates, the connection pool
        page, html = _time(client, "/staff/figures", query, runs)
        data, _ = _time(client, "/staff/figures/data", query, runs)
        share = re.search(r'id="total-online-share">([^<]+)<', html)
        reception = re.search(r'id="total-reception">([^<]+)<', html)
        out[name] = {
            "page_seconds": round(page, 3),  # the whole page, its charts' series included
            "data_seconds": round(data, 3),  # the JSON route alone (the page does not need it)
            "meets_target": page <= TARGET_SECONDS,
            "online_share": share.group(1) if share else "",
            "reception_median_p90": reception.group(1) if reception else "",
        }
    return out


def measure_figures(
    admin_url: str = ADMIN_URL,
    *,
    database_url: str | None = None,
    fresh: bool = False,
    runs: int = 7,
    seed_value: int = 15,
    rollup: bool = False,
) -> dict:
    """Seed (or reuse) the province, roll its year up and time the figures page; the numbers as a dict."""
    url = database_url or ensure_database(admin_url, fresh)
    if database_url:
        upgrade(url)
    figures: dict[str, Any] = {"database": url.rsplit("/", 1)[-1], "target_seconds": TARGET_SECONDS, "runs": runs}
    if seeded(url):
        log("seed: reusing the seeded province (marker found)")
        figures["seed"] = "reused"
    else:
        figures["seed"] = seed(url, random.Random(seed_value))
    db = Database(url)
    try:
        with db.reader() as uow:
            figures["appointments"] = uow.session.scalar(text("SELECT count(*) FROM appointments"))
        with db.reader() as uow:
            rolled = uow.session.scalar(text("SELECT count(*) FROM daily_figures")) > 0
        if rolled and figures["seed"] == "reused" and not rollup:
            log("roll-up: reusing the rolled-up year (--rollup measures it again)")
            figures.update({"rollup_seconds": "reused", "rollup_seconds_per_day": "reused"})
        else:
            log(f"roll-up of {DAYS} days ...")
            figures.update(roll_up_year(db))
            log(f"roll-up: {figures['rollup_seconds']} s")
        log(f"timing the pages ({runs} runs each) ...")
        figures.update(time_pages(db, runs))
    finally:
        db.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--admin-url", default=ADMIN_URL, help=f"the PostgreSQL server ({ADMIN_URL})")
    parser.add_argument("--database-url", help=f"a database to seed or reuse (default: {DB_NAME} on the server)")
    parser.add_argument("--fresh", action="store_true", help="drop the seeded database and seed it again")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each page (the median is reported)")
    parser.add_argument("--rollup", action="store_true", help="roll the reused year up again (and time it)")
    args = parser.parse_args(argv)
    figures = measure_figures(
        args.admin_url, database_url=args.database_url, fresh=args.fresh, runs=args.runs, rollup=args.rollup
    )
    print(f"appointments            : {figures['appointments']:,}")
    print(f"roll-up of the year     : {figures['rollup_seconds']} s ({figures['rollup_seconds_per_day']} s a day)")
    for scope in ("province", "hospital"):
        f = figures[scope]
        print(
            f"figures page, {scope:<9}: {f['page_seconds']} s, median of {figures['runs']} "
            f"(target <= {TARGET_SECONDS} s: {'met' if f['meets_target'] else 'MISSED'}; "
            f"the JSON route alone {f['data_seconds']} s); "
            f"online share {f['online_share']}, reception {f['reception_median_p90']}"
        )
    import json

    print(json.dumps(figures, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
