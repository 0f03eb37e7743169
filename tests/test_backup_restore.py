"""Backups (`henkham backup create/restore`, henkham/backup.py): a dump restored into an empty PostgreSQL
server (a new cluster made for the test) holds every appointment, conversation and outbox message, and Rasa's
conversations; a restore refuses a target that holds data and a damaged file; SQLite too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from bot.zalo_webhook import conversations, outbox
from bot.zalo_webhook.messages import OutgoingMessage
from bot.zalo_webhook.models import Conversation, OutboundMessage
from core.booking.models import Appointment
from core.db import normalise_url
from core.timeutil import local_today, utcnow
from core.uow import Database
from henkham.cli import cli
from tests.conftest import REQUIRE_POSTGRES, throwaway_postgres
from tests.factories import book, build_world, new_patient, slot_at
from tests.harness import free_port, wait_until
from tests.test_rasa_tracker import RASA_EVENTS

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def fill(db: Database) -> None:
    """Appointments, conversations and queued messages, as a day of chat leaves them."""
    world = build_world(db, start=local_today(), days=3)
    day = local_today()
    for n in range(3):
        patient = new_patient(db, world.account_id, n + 1)
        book(db, world, slot_at(db, "nhi", day, f"{8 + n:02d}:00"), patient, now=utcnow())
    with db.uow() as uow:
        for n in range(4):
            conversations.get_or_create(uow, "oa-1", f"user-{n}", utcnow())
            outbox.enqueue(
                uow, oa_id="oa-1", user_id=f"user-{n}", message=OutgoingMessage(f"Dạ, tin số {n} ạ"), key=f"k-{n}"
            )
        uow.commit()


def snapshot(url: str) -> dict[str, list]:
    db = Database(url)
    try:
        with db.reader() as uow:
            return {
                "appointments": sorted(uow.session.scalars(select(Appointment.code)).all()),
                "conversations": sorted(uow.session.scalars(select(Conversation.user_id)).all()),
                "outbox": sorted(uow.session.scalars(select(OutboundMessage.body)).all()),
            }
    finally:
        db.dispose()


def rasa_events(url: str, rows: int | None = None) -> int:
    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as connection:
            if rows is not None:
                connection.execute(text(RASA_EVENTS))
                for n in range(rows):
                    connection.execute(
                        text("INSERT INTO events (id, sender_id, type_name, timestamp) VALUES (:i, 'oa:u', 'user', 1)"),
                        {"i": n + 1},
                    )
            return int(connection.scalar(text("SELECT count(*) FROM events")))
    finally:
        engine.dispose()


def run(env: dict[str, str], *args: str):
    return CliRunner(env=env).invoke(cli, ["backup", *args])


@contextmanager
def empty_server() -> Iterator[str]:
    """A new PostgreSQL cluster (initdb) on a free port, as the postgres user, removed on exit: the 'empty
    server' a backup is restored into."""
    reason = None
    if os.geteuid() != 0 or shutil.which("runuser") is None or not (PG_BIN / "initdb").exists():
        reason = "a new cluster needs root (runuser postgres) and PostgreSQL 15's initdb"
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"HENKHAM_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="henkham-cluster-"))
    shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)

    try:
        as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip
        url = f"postgresql://postgres@127.0.0.1:{port}"
        ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]
        wait_until(lambda: subprocess.run(ready).returncode == 0, timeout=30, what="the new PostgreSQL server")
        yield url
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.postgres_only
def test_a_dump_restored_into_an_empty_server_holds_everything(database_url, tmp_path):
    with throwaway_postgres() as source, throwaway_postgres() as tracker:
        db = Database(source)
        fill(db)
        db.dispose()
        rasa_events(tracker, rows=5)
        before = snapshot(source)
        env = {"HENKHAM_DATABASE_URL": source, "HENKHAM_RASA_TRACKER_URL": tracker}
        made = run(env, "create", str(tmp_path / "backup"))
        assert made.exit_code == 0, made.output
        assert "henkham: henkham.dump" in made.output and "rasa: rasa.dump" in made.output
        manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
        assert manifest["stores"]["henkham"]["rows"]["appointments"] == 3

    with empty_server() as server:
        target = {"HENKHAM_DATABASE_URL": f"{server}/henkham", "HENKHAM_RASA_TRACKER_URL": f"{server}/henkham_rasa"}
        restored = run(target, "restore", str(tmp_path / "backup"))
        assert restored.exit_code == 0, restored.output
        assert "as in the manifest" in restored.output
        after = snapshot(target["HENKHAM_DATABASE_URL"])
        assert after == before and len(after["appointments"]) == 3 and len(after["outbox"]) == 4
        assert rasa_events(target["HENKHAM_RASA_TRACKER_URL"]) == 5
        again = run(target, "restore", str(tmp_path / "backup"))
        assert again.exit_code != 0 and "already holds tables" in again.output, "never merged into data"
        assert snapshot(target["HENKHAM_DATABASE_URL"]) == before


@pytest.mark.sqlite_only
def test_sqlite_backup_restores_into_a_new_file_and_refuses_a_damaged_one(database_url, tmp_path):
    source = f"sqlite:///{tmp_path / 'live' / 'henkham.db'}"
    (tmp_path / "live").mkdir()
    from henkham.migrate import upgrade

    upgrade(source)
    db = Database(source)
    fill(db)
    db.dispose()
    before = snapshot(source)
    env = {"HENKHAM_DATABASE_URL": source}
    assert run(env, "create", str(tmp_path / "b")).exit_code == 0
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700, "every patient's record is in it: its owner only"
    assert all(f.stat().st_mode & 0o077 == 0 for f in (tmp_path / "b").iterdir())
    refused = run(env, "create", str(tmp_path / "b"))
    assert refused.exit_code != 0 and "not empty" in refused.output
    target = {"HENKHAM_DATABASE_URL": f"sqlite:///{tmp_path / 'new' / 'henkham.db'}"}
    assert run(target, "restore", str(tmp_path / "b")).exit_code == 0
    assert snapshot(target["HENKHAM_DATABASE_URL"]) == before
    onto_data = run(env, "restore", str(tmp_path / "b"))
    assert onto_data.exit_code != 0 and "exists" in onto_data.output
    with (tmp_path / "b" / "henkham.db").open("r+b") as dump:
        dump.seek(200)
        dump.write(b"\x00garbage")
    damaged = run({"HENKHAM_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}, "restore", str(tmp_path / "b"))
    assert damaged.exit_code != 0 and "checksum" in damaged.output
    assert not (tmp_path / "other.db").exists()
    assert run(env, "restore", str(tmp_path)).exit_code != 0, "a folder without a manifest is no backup"
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["stores"]["henkham"]["rows"] = ["not", "counts"]
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    bad = run({"HENKHAM_DATABASE_URL": f"sqlite:///{tmp_path / 'third.db'}"}, "restore", str(tmp_path / "b"))
    assert bad.exit_code == 1 and "not a manifest this version reads" in bad.output and "Traceback" not in bad.output
