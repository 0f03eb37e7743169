"""Database engine, session factory and the declarative base shared by every model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from core.timeutil import UTC, ensure_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp always stored and returned as UTC, on PostgreSQL (timestamptz) and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else ensure_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict] = {dt.datetime: UTCDateTime()}


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them to psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pre_ping: bool = False, **kwargs: Any
) -> Engine:
    """An engine for SQLite or PostgreSQL (psycopg 3).

    No pre-ping by default: it costs a round trip and about 0.7 ms of CPU on every checkout, more than a
    whole look-up. A connection lost to a database restart is detected at its first error instead, and
    SQLAlchemy then invalidates the whole pool: one request fails, the next ones reconnect (see
    tests/test_database.py). ``pre_ping=True`` (HENKHAM_DB_PRE_PING) trades that one error for the cost.
    """
    url = normalise_url(url)
    # A failed statement's error (logged with its traceback) shows the SQL, never the values: they are a
    # patient's name, birth date, phone or insurance number.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        **kwargs,
    )


def _configure_sqlite(engine: Engine) -> None:
    """SQLite: WAL, foreign keys, and BEGIN IMMEDIATE so check-then-write services are serialised.

    pysqlite opens transactions lazily at the first write, which would let two requests both read
    "one place left" and both write. Taking the write lock at BEGIN makes SQLite behave like the row
    locks the services take on PostgreSQL (SQLite is the single-process development default).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def insert_ignoring_conflicts(dialect_name: str, table: Any, index_elements: list[str]) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` for the engine at hand (PostgreSQL or SQLite):
    the database, not a prior SELECT, decides whether a row with that key exists. Other constraint
    violations still raise."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect_name]
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


def ensure_database(url: str) -> bool:
    """Create the database ``url`` names when it is missing (PostgreSQL: ``CREATE DATABASE`` through the
    server's ``postgres`` database; SQLite: the file's folder). Returns whether it was created."""
    from pathlib import Path

    from sqlalchemy import text

    target = make_url(normalise_url(url))
    if target.get_backend_name() == "sqlite":
        if not target.database or target.database == ":memory:":
            return False
        path = Path(target.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        return not path.exists()
    name = target.database or ""
    if _connects(target):  # there already (a managed server may refuse connections to its postgres database)
        return False
    with _server(target) as connection:
        if _listed(connection, name):
            return False
        quoted = connection.dialect.identifier_preparer.quote(name)
        try:
            connection.execute(text(f"CREATE DATABASE {quoted}"))
        except Exception:  # another process created it meanwhile
            if _listed(connection, name):
                return False
            raise
        return True


def database_exists(url: str) -> bool:
    """Whether the database ``url`` names exists (PostgreSQL: on its server; SQLite: the file)."""
    from pathlib import Path

    target = make_url(normalise_url(url))
    if target.get_backend_name() == "sqlite":
        return Path(target.database or "").exists()
    if _connects(target):
        return True
    with _server(target) as connection:
        return _listed(connection, target.database or "")


def _connects(target: URL) -> bool:
    """Whether a connection to the database ``target`` itself opens."""
    from sqlalchemy.exc import OperationalError

    engine = create_engine(target, hide_parameters=True, poolclass=NullPool)
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


@contextmanager
def _server(target: URL) -> Iterator[Connection]:
    """An autocommit connection to the ``postgres`` database of ``target``'s server."""
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", hide_parameters=True)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _listed(connection: Connection, name: str) -> bool:
    from sqlalchemy import text

    return bool(connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}))


def is_disconnect(error: BaseException) -> bool:
    """Whether ``error`` is the loss of the database connection (a server restart, a cut connection): SQLAlchemy
    has already invalidated the pool, so the same work on a new connection may be tried again once. Only for
    work that committed nothing before the error (the transaction was rolled back with the connection)."""
    from sqlalchemy.exc import DBAPIError

    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)
