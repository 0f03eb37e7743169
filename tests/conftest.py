"""Every test that takes ``db`` runs twice: on SQLite and on PostgreSQL.

PostgreSQL: a throw-away database on the server named by HENKHAM_TEST_POSTGRES_URL (default: the local
server). When it cannot be reached the PostgreSQL half is skipped with the reason, unless
HENKHAM_REQUIRE_POSTGRES=1 (CI), where that is a failure. A test marked ``postgres_only`` (or
``sqlite_only``) has its other half skipped when collected.

The Rasa environment (.venv-rasa): tests marked ``needs_rasa`` are skipped with the reason when it is
missing, unless HENKHAM_REQUIRE_RASA=1 (CI), where that is a failure.

Staff passwords: argon2id at its lowest cost in this process (``cheap_password_hashes``): argon2-cffi's
defaults take about 0.6 s per hash and per verify on two busy cores, and the console's tests create and log
in hundreds of accounts. The hashes are still argon2id, verified and rehashed by the same code;
``production_passwords`` gives a test the defaults back, and one test checks that a stored hash has them.

``world``: the small hospital of ``tests/factories.build_world``, built from today in Vietnam; a module or
test changes its options with ``@pytest.mark.world(days=1, ...)``. ``oa_world``: the same, with the test
OA's row stored.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from core.staff import accounts
from core.uow import Database
from henkham.migrate import upgrade
from henkham.schema import metadata
from tests.console_support import browser  # noqa: F401  (the console's browser tests' fixture)
from tests.factories import World, build_world, today_local
from tests.harness import create_database, drop_database, postgres_unavailable
from tests.rasa_env import require_rasa

POSTGRES_ADMIN_URL = os.environ.get("HENKHAM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("HENKHAM_REQUIRE_POSTGRES") == "1"
_ONLY_ON = {"postgres_only": "postgresql", "sqlite_only": "sqlite"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the half of a ``postgres_only``/``sqlite_only`` test that runs on the other database."""
    for item in items:
        backend = getattr(item, "callspec", None) and item.callspec.params.get("database_url")
        for name, wanted in _ONLY_ON.items():
            marker = item.get_closest_marker(name)
            if backend and backend != wanted and marker:
                why = marker.args[0] if marker.args else f"shown on {wanted}"
                item.add_marker(pytest.mark.skip(reason=f"{name}: {why}"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_rasa"):
        require_rasa()


CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # argon2's minimum cost, still argon2id
PRODUCTION_HASHING = (accounts._HASHER, accounts._DUMMY_HASH)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Staff passwords hashed at argon2id's lowest cost in the test process (its servers run in threads here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_HASHER", CHEAP_HASHER)
        patch.setattr(accounts, "_DUMMY_HASH", CHEAP_HASHER.hash("henkham-no-such-staff-account"))
        yield


@pytest.fixture
def production_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production hasher (argon2-cffi's defaults) and its dummy hash, for this test."""
    hasher, dummy = PRODUCTION_HASHING
    monkeypatch.setattr(accounts, "_HASHER", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", dummy)


def _postgres_unavailable() -> str | None:
    reason = postgres_unavailable(POSTGRES_ADMIN_URL)
    return reason and f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable ({reason})"


def redis_unavailable(url: str = "redis://127.0.0.1:6379/0") -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return None
    except redis.RedisError as error:
        return f"Redis at {url} unreachable ({type(error).__name__}: {error})"


def needs_services(*reasons: str | None) -> None:
    """Skip the test for the first reason a service it needs is missing (PostgreSQL, Redis); with
    HENKHAM_REQUIRE_POSTGRES=1 (CI, where both run) fail instead."""
    for reason in reasons:
        if reason:
            if REQUIRE_POSTGRES:
                pytest.fail(f"HENKHAM_REQUIRE_POSTGRES=1 but {reason}")
            pytest.skip(reason)


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new, migrated database on the test server, dropped on exit; skipped (failed in CI) when unreachable."""
    reason = _postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"HENKHAM_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    name, url = create_database(POSTGRES_ADMIN_URL, prefix="henkham_test")
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(POSTGRES_ADMIN_URL, name)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'henkham.db'}"
        upgrade(url)
        yield url
        return
    with throwaway_postgres() as url:
        yield url


@contextmanager
def opened(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Iterator[Database]:
    """A ``Database`` on ``url`` (its own pool, as another process has), its connections closed on exit."""
    database = Database(url, pool_size=pool_size, max_overflow=max_overflow)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated, empty database (tables emptied and id sequences restarted after each test)."""
    with opened(database_url, pool_size=10, max_overflow=20) as database:
        yield database
        emptied(database)


# Every sequence of the schema back to its start, as TRUNCATE ... RESTART IDENTITY does (SQLite's rowids
# restart by themselves once a table is empty).
_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
    " FROM pg_sequences WHERE schemaname = current_schema()"
)


def emptied(database: Database) -> None:
    """Delete every row, children before parents. Not TRUNCATE on PostgreSQL: it rewrites each of the ~50
    tables' files, about 1.3 s per test here, where deleting a test's few rows takes about 0.05 s."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with database.engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        if conn.dialect.name == "postgresql":
            conn.execute(_RESTART_SEQUENCES)


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


# A fixed "now" for service tests: Monday 2026-12-07, 08:00 in Vietnam (01:00 UTC).
NOW = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(request: pytest.FixtureRequest, db: Database) -> World:
    """Hospital "test" (tests/factories.build_world) from today, with the options of the closest
    ``@pytest.mark.world(...)`` marker."""
    marker = request.node.get_closest_marker("world")
    options = {"start": today_local(), **(marker.kwargs if marker else {})}
    return build_world(db, **options)


@pytest.fixture
def oa_world(db: Database, database_url: str, world: World) -> World:
    """``world`` with the test OA's row stored, mapped to hospital "test"."""
    from tests.zalo_helpers import synced_channel, zalo_settings

    synced_channel(db, zalo_settings(database_url))
    return world
