"""Rasa's state outside the Rasa process: where the tracker store lives (``henkham rasa-stores``, the database
made when missing), the lock store named by one URL, and the scheduler's pruning of old conversations."""

from __future__ import annotations

import shlex
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from bot.zalo_webhook.rasa_tracker import TrackerStore
from core.config import Settings
from core.db import normalise_url
from henkham.cli import cli
from henkham.jobs import scheduler_jobs
from tests.conftest import POSTGRES_ADMIN_URL
from tests.harness import drop_database
from tests.rasa_env import run_in_rasa

DAY = 86400.0
# Rasa 3.6's SQLTrackerStore table (rasa/core/tracker_store.py), as Rasa creates it.
RASA_EVENTS = """CREATE TABLE events (
    id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"""


def _exports(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        if not line.startswith("export "):
            continue  # the development-mode notice (stderr, which the runner mixes in)
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = shlex.split(value)[0] if value else ""
    return found


def test_the_tracker_lives_beside_a_sqlite_database(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'henkham.db'}")
    assert settings.rasa_tracker_store_url == f"sqlite:///{tmp_path / 'data' / 'rasa-tracker.db'}"
    assert Settings(rasa_tracker_url="postgresql://h/x").rasa_tracker_store_url == "postgresql://h/x"
    assert Settings(rasa_url="http://a:5005, http://b:5005/").rasa_servers == ["http://a:5005", "http://b:5005"]


@pytest.mark.postgres_only
def test_rasa_stores_makes_the_tracker_database_on_the_same_postgresql_server(database_url):
    settings = Settings(database_url=database_url)
    tracker = settings.rasa_tracker_store_url
    assert tracker.startswith("postgresql://") and tracker.endswith("_rasa"), "psycopg2's URL, for Rasa"
    name = tracker.rsplit("/", 1)[1]
    env = {"HENKHAM_DATABASE_URL": database_url, "HENKHAM_RASA_LOCK_URL": "redis://127.0.0.1:6379/3"}
    try:
        for _ in range(2):  # made once; the second run finds it
            result = CliRunner(env=env).invoke(cli, ["rasa-stores"])
            assert result.exit_code == 0, result.output
            assert _exports(result.output) == {
                "HENKHAM_RASA_TRACKER_URL": tracker,
                "HENKHAM_RASA_LOCK_URL": "redis://127.0.0.1:6379/3",
            }
        engine = create_engine(normalise_url(tracker))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT current_database()")) == name
        engine.dispose()
    finally:
        drop_database(POSTGRES_ADMIN_URL, name)


@pytest.mark.postgres_only
def test_an_existing_tracker_database_is_used_where_the_postgres_database_is_refused(database_url, monkeypatch):
    """A managed server may let the application into its own databases only: one that exists is found by
    connecting to it, without the server's ``postgres`` database."""
    from core import db as core_db

    def refused(_target):
        raise AssertionError("connected to the postgres database")

    monkeypatch.setattr(core_db, "_server", refused)
    assert core_db.database_exists(database_url)
    assert core_db.ensure_database(database_url) is False


def test_old_conversations_are_pruned_whole_and_recent_ones_kept(database_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'rasa-tracker.db'}"
    engine = create_engine(url)
    now = time.time()
    with engine.begin() as connection:
        connection.execute(text(RASA_EVENTS))
        rows = [
            ("old", now - 40 * DAY),
            ("old", now - 35 * DAY),
            ("recent", now - 40 * DAY),  # began long ago, still going: kept whole
            ("recent", now - 1 * DAY),
            ("today", now - 60),
        ]
        for n, (sender, at) in enumerate(rows):
            connection.execute(
                text("INSERT INTO events (id, sender_id, type_name, timestamp) VALUES (:i, :s, 'user', :t)"),
                {"i": n + 1, "s": sender, "t": at},
            )
    store = TrackerStore(url)
    assert store.prune(retention_days=30, now=now) == 1
    with engine.connect() as connection:
        left = connection.execute(text("SELECT sender_id, count(*) FROM events GROUP BY sender_id ORDER BY 1")).all()
    assert [tuple(r) for r in left] == [("recent", 2), ("today", 1)]
    assert store.prune(retention_days=30, now=now) == 0
    store.dispose()
    engine.dispose()
    assert TrackerStore(f"sqlite:///{tmp_path / 'none.db'}").prune(retention_days=30) == 0, "no Rasa yet"
    jobs = scheduler_jobs(Settings(database_url=database_url), None, None, None, None)  # type: ignore[arg-type]
    assert "rasa_retention" in {job.name for job in jobs}


LOCKS = """
import json, sys
from bot.rasa_locks import lock_store_for
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
out = {}
for url in sys.stdin.read().split():
    try:
        store = lock_store_for("" if url == "-" else url)
        db = store.red.connection_pool.connection_kwargs["db"] if isinstance(store, RedisLockStore) else None
        out[url] = type(store).__name__ + (f" db={db}" if db is not None else "")
    except ValueError as error:
        out[url] = f"error: {error}"
print(json.dumps(out))
"""


@pytest.mark.needs_rasa
def test_the_lock_store_is_redis_when_a_url_is_given_else_memory():
    import json

    found = json.loads(run_in_rasa(LOCKS, stdin="- redis://127.0.0.1:6379/3 http://x/1 redis://127.0.0.1:6379/x"))
    assert found["-"] == "InMemoryLockStore"
    assert found["redis://127.0.0.1:6379/3"] == "RedisLockStore db=3"
    assert found["http://x/1"].startswith("error: HENKHAM_RASA_LOCK_URL must be redis://")
    assert found["redis://127.0.0.1:6379/x"].startswith("error:")


def test_several_rasa_servers_without_a_shared_lock_store_are_refused(tmp_path):
    env = {
        "HENKHAM_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
        "HENKHAM_RASA_URL": "http://10.0.0.21:5005,http://10.0.0.22:5005",
    }
    refused = CliRunner(env=env).invoke(cli, ["rasa-stores"])
    assert refused.exit_code == 1 and "HENKHAM_RASA_LOCK_URL" in refused.output
    assert "export" not in refused.output
    allowed = CliRunner(env={**env, "HENKHAM_RASA_LOCK_URL": "redis://127.0.0.1:6379/3"}).invoke(cli, ["rasa-stores"])
    assert allowed.exit_code == 0, allowed.output
