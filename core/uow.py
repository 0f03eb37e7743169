"""Unit of work: one database session and one transaction per request, command or job.

Services receive a UnitOfWork, do their work through ``uow.session`` and call ``uow.commit()``;
leaving the block without a commit rolls everything back (the Cosmic Python pattern).
"""

from __future__ import annotations

import threading
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Executable
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from core.audit import Actor


class UnitOfWork:
    session: Session
    # Who acts through this unit of work (an API client), set by the entry point: its hospital confines every
    # look-up (core/tenancy.py) and its reads are audited (core/audit.py). None: the system itself.
    actor: Actor | None = None

    def __init__(
        self, session_factory: sessionmaker, *, read_only: bool = False, aside_factory: sessionmaker | None = None
    ) -> None:
        self._session_factory = session_factory
        self._aside_factory = aside_factory
        self.read_only = read_only

    @property
    def hospital_id(self) -> int | None:
        """The hospital the actor is confined to (None: any)."""
        return self.actor.hospital_id if self.actor is not None else None

    def write_aside(self, statement: Executable, params: Any) -> None:
        """One small write a read has to leave behind (an audit row, a key's last use). In a writing unit of
        work it joins the transaction; a PostgreSQL reader (a read-only connection) writes it in a short
        transaction of its own; an SQLite reader, whose transaction already holds the database's only write
        lock, writes and commits it in its own session."""
        if not self.read_only:
            self.session.execute(statement, params)
            return
        if self._aside_factory is None:
            self.session.execute(statement, params)
            self.session.commit()
            return
        with self._aside_factory() as session:
            session.execute(statement, params)
            session.commit()

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.read_only:
            self.session.rollback()
        # A reader has nothing to undo: closing returns its connection, whose reset is free on PostgreSQL's
        # autocommit readers (no transaction, so no ROLLBACK round trip and psycopg keeps its prepared
        # statements) and a cheap ROLLBACK on SQLite.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class ThreadReader(UnitOfWork):
    """A read on the calling thread's own autocommit session, kept from one read to the next (PostgreSQL).

    A look-up is one indexed query; setting up a session and checking a connection out of the pool and back
    in cost about as much CPU again. So each thread keeps one reader session and its connection: autocommit,
    so every statement sees the latest committed data, and ``expunge_all`` after each read, so no ORM state
    outlives it. A read that fails closes the session, returning its connection (it may be broken), and the
    next read checks one out afresh; a read nested inside another on the same thread gets a session of its
    own. (Pre-ping, when enabled, applies only when a connection is checked out.)
    """

    def __init__(self, database: Database) -> None:
        super().__init__(database.reader_factory, read_only=True, aside_factory=database.session_factory)
        self._database = database
        self._own = False

    def __enter__(self) -> UnitOfWork:
        local = self._database._thread_readers
        if getattr(local, "busy", False):
            self._own = True
            return super().__enter__()
        local.busy = True
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = self._session_factory()
            self._database._kept_sessions.add(session)
            weakref.finalize(threading.current_thread(), session.close)  # the thread's end returns the connection
        self.session = session
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._own:
            super().__exit__(exc_type, exc, tb)
            return
        local = self._database._thread_readers
        local.busy = False
        if exc_type is None:
            self.session.expunge_all()
            return
        self.session.close()  # the connection goes back (it may be broken); the session is reused next time


class Database:
    """The engine and session factory of one database, handing out units of work."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10, pre_ping: bool = False) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow, pre_ping=pre_ping)
        self.session_factory = make_session_factory(self.engine)
        self.reader_engine = self.engine
        if self.engine.dialect.name == "postgresql":
            # Readers get their own pool of autocommit, read-only connections: a look-up is one round trip
            # (no BEGIN, no COMMIT) and a write through a reader fails loudly.
            self.reader_engine = make_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pre_ping=pre_ping,
                isolation_level="AUTOCOMMIT",
                connect_args={"options": "-c default_transaction_read_only=on"},
                pool_reset_on_return=None,  # autocommit: no transaction is ever left to reset
            )
        self.reader_factory = make_session_factory(self.reader_engine)
        self._thread_readers = threading.local()
        self._kept_sessions: weakref.WeakSet[Session] = weakref.WeakSet()

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pre_ping=settings.db_pre_ping,
        )

    def uow(self) -> UnitOfWork:
        """For work that may write: nothing is kept unless the service calls ``uow.commit()``."""
        return UnitOfWork(self.session_factory)

    def reader(self) -> UnitOfWork:
        """For read-only work (catalogue, look-ups, authentication). On PostgreSQL each thread keeps its
        reader session between reads (ThreadReader); on SQLite readers share the writers' connections."""
        if self.reader_engine is not self.engine:
            return ThreadReader(self)
        return UnitOfWork(self.reader_factory, read_only=True)

    def dispose(self) -> None:
        for session in list(self._kept_sessions):
            session.close()
        self.engine.dispose()
        if self.reader_engine is not self.engine:
            self.reader_engine.dispose()
