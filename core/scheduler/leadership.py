"""Who leads: any number of scheduler processes may run, one runs the jobs.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own: when the process
stops or dies the server closes the session and the lock is free at once (TCP keepalives bound the wait
when a machine vanishes without closing it); followers try again every few seconds. SQLite has no such
lock and is meant for one machine: an exclusive ``flock`` on a file beside the database keeps a second
scheduler process of that database waiting the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

import psycopg
from sqlalchemy import URL, make_url

log = logging.getLogger(__name__)

LOCK_KEY = 0x68656E6B  # "henk": the advisory lock of the scheduler's leader (one per database)
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class Leadership(Protocol):
    def try_lead(self) -> bool:
        """Become the leader if nobody is; True while this process leads."""

    def still_leading(self) -> bool:
        """False once the lead is lost (the connection to the database broke, say)."""

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, url: URL | str, key: int = LOCK_KEY) -> None:
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._key = key
        self._connection: psycopg.Connection | None = None

    def try_lead(self) -> bool:
        if self._connection is not None:
            return self.still_leading()
        try:
            connection = psycopg.connect(
                self._conninfo, autocommit=True, application_name="henkham-scheduler", **KEEPALIVE
            )
        except psycopg.Error as error:
            log.warning("scheduler: cannot reach the database to lead (%s)", type(error).__name__)
            return False
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        except psycopg.Error as error:
            log.warning("scheduler: cannot take the lead (%s)", type(error).__name__)
            row = None
        if row and row[0]:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_leading(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            self.release()
            return False

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()  # ends the session: the lock is free
            self._connection = None


class FileLeadership:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    def try_lead(self) -> bool:
        if self._file is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a+")  # noqa: SIM115 (held open while leading)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_leading(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def leadership_for(database_url: str) -> Leadership:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLeadership(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return FileLeadership(Path(url.database).with_suffix(".scheduler.lock"))
    raise ValueError(f"no scheduler leadership for {url.get_backend_name()} databases")
