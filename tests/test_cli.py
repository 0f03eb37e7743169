"""The `henkham` command, run in-process with click's CliRunner against the test database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from core import access
from core.booking import appointments
from core.timeutil import local_to_utc
from henkham import bootstrap
from henkham.cli import cli
from henkham.web import create_app
from tests import factories
from tests.factories import build_world, new_patient, slot_at, today_local
from tests.identity_helpers import TOKEN_HEADER, token_for, with_fake_graph


@pytest.fixture
def run(database_url: str) -> Iterator:
    """Invoke the CLI with HENKHAM_DATABASE_URL pointing at the test database (each command loads its settings)."""
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    bootstrap.load_settings()  # this process has said "development mode" (once per process) before any captured output

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    yield invoke


def assert_one_error_line(result: Result, expected: str | None = None) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.stdout == ""
    # the process's one "development mode" line comes with its first command, whichever test runs that
    lines = [line for line in result.stderr.splitlines() if not line.startswith("henkham: development mode")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    if expected is not None:
        assert lines[0] == expected
    return lines[0]


def book_on(db, account_id: int, patient_id: int, day: dt.date, hhmm: str = "07:00", department: str = "nhi") -> str:
    """Book a slot of ``day`` as if it were local midnight of that day; returns the code."""
    world = factories.World(hospital="test", departments=["nhi", "mat"], account_id=account_id)
    slot_id = slot_at(db, department, day, hhmm)
    return factories.book(db, world, slot_id, patient_id, now=local_to_utc(day, dt.time(0, 0))).code


def status_of(db, code: str) -> str:
    with db.uow() as uow:
        return appointments.get_appointment(uow, code).status


def test_migrate(run, database_url):
    result = run("migrate")
    assert result.exit_code == 0, result.output
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert result.stdout == f"database migrated ({dialect})\n"


def test_apikey_create_prints_a_key_that_authenticates(run, db):
    build_world(db, start=today_local())
    result = run("apikey", "create", "--name", "zalo-mini-app", "--kind", "mini_app")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n" and key.startswith("hk_") and len(key) > 40

    client = with_fake_graph(create_app(database=db)).test_client()
    user = {TOKEN_HEADER: token_for("u1")}
    response = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {key}", **user})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"patients": []}
    refused = client.get("/api/v1/patients", headers={"Authorization": f"Bearer {key}x", **user})
    assert refused.status_code == 401

    kiosk = run("apikey", "create", "--name", "kiosk-1", "--kind", "kiosk", "--hospital", "test")
    assert kiosk.exit_code == 0, kiosk.output
    with db.uow() as uow:
        client_of_key = access.authenticate(uow, kiosk.stdout.strip())
    assert client_of_key is not None
    assert (client_of_key.name, client_of_key.kind, client_of_key.scopes) == ("kiosk-1", "kiosk", ["checkin", "read"])
    assert client_of_key.hospital_id is not None


def test_apikey_create_refusals_are_one_line(run, db):
    build_world(db, start=today_local())
    assert run("apikey", "create", "--name", "his", "--kind", "his").exit_code == 0
    assert_one_error_line(
        run("apikey", "create", "--name", "his", "--kind", "his"), "error: an API client named 'his' already exists"
    )
    assert_one_error_line(
        run("apikey", "create", "--name", "kiosk-x", "--kind", "kiosk", "--hospital", "nope"),
        "error: no hospital 'nope'",
    )
    assert_one_error_line(
        run("apikey", "create", "--name", "odd", "--kind", "his", "--scope", "everything"),
        "error: unknown scope(s): everything",
    )
    usage = run("apikey", "create", "--name", "x", "--kind", "robot")
    assert usage.exit_code == 2 and "Invalid value for '--kind'" in usage.stderr


def test_checkin_of_an_unknown_code_is_one_error_line(run, db):
    build_world(db, start=today_local())
    assert_one_error_line(run("checkin", "ZZZZZZ"), "error: no appointment with code 'ZZZZZZ'")
    assert_one_error_line(run("checkin", "not-a-code"), "error: no appointment with code 'not-a-code'")


def test_checkin_prints_the_queue_number(run, db):
    today = today_local()
    world = build_world(db, start=today)
    patient = new_patient(db, world.account_id)
    code = book_on(db, world.account_id, patient, today, "07:30")

    result = run("checkin", f"{code[:3].lower()}-{code[3:].lower()}")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"{code} checked in: Nguyễn Văn Thử 0 — Nhi, 07:30 {today:%d/%m/%Y}",
        "queue number 3, Phòng Nhi, Khu A",
        "still needed: Cung cấp số CCCD của người bệnh (hồ sơ chưa có)",
    ]
    assert status_of(db, code) == "checked_in"

    again = run("checkin", code)
    assert again.exit_code == 0
    assert again.stdout.splitlines()[0].startswith(f"{code} already checked in: ")
    assert "queue number 3, Phòng Nhi, Khu A" in again.stdout


def test_checkin_by_phone(run, db):
    today = today_local()
    world = build_world(db, start=today)
    patient = new_patient(db, world.account_id, phone="0987654321")
    code = book_on(db, world.account_id, patient, today, "13:30", department="mat")

    result = run("checkin", "--phone", "0987 654 321", "--date", today.isoformat())
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.splitlines()[:2] == [
        f"{code} checked in: Nguyễn Văn Thử 0 — Mắt, 13:30 {today:%d/%m/%Y}",
        "queue number 1, Phòng Mắt, Khu A",
    ]


def test_checkin_refusals(run, db):
    today = today_local()
    world = build_world(db, start=today)
    patient = new_patient(db, world.account_id)
    tomorrow = today + dt.timedelta(days=1)
    code = book_on(db, world.account_id, patient, tomorrow)

    assert_one_error_line(
        run("checkin", code), f"error: this appointment is for {tomorrow.isoformat()}, not today ({today.isoformat()})"
    )
    assert status_of(db, code) == "booked"
    assert_one_error_line(
        run("checkin", "--phone", "0912"), "error: phone must be a Vietnamese mobile number such as 0912345678"
    )

    for args in ((), (code, "--phone", "0912345678")):
        usage = run("checkin", *args)
        assert usage.exit_code == 2
        assert "give a booking code, or --phone" in usage.stderr


def test_no_shows_prints_a_count(run, db):
    today = today_local()
    yesterday = today - dt.timedelta(days=1)
    world = build_world(db, start=yesterday, days=3)
    missed = book_on(db, world.account_id, new_patient(db, world.account_id, 1), yesterday, "07:00")
    also_missed = book_on(db, world.account_id, new_patient(db, world.account_id, 2), yesterday, "14:00", "mat")
    upcoming = book_on(db, world.account_id, new_patient(db, world.account_id, 3), today + dt.timedelta(days=1))

    result = run("no-shows")
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == "2 appointments marked no_show\n"
    assert [status_of(db, c) for c in (missed, also_missed, upcoming)] == ["no_show", "no_show", "booked"]

    again = run("no-shows", "--grace-minutes", "0")
    assert again.exit_code == 0
    assert again.stdout == "0 appointments marked no_show\n"


def test_slots_generate_creates_only_the_missing_slots(run, db):
    build_world(db, start=today_local(), days=14)
    result = run("slots", "generate", "--days", "14")
    assert result.exit_code == 0, result.output
    assert result.stdout == "0 slots created\n"
    result = run("slots", "generate", "--days", "16")
    assert result.stdout == f"{2 * 2 * (8 + 6)} slots created\n"  # two more days, two departments
