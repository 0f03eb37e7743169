"""Waking idle worker threads when work arrives, instead of having each poll the database many times a second.

On PostgreSQL whoever queues work (the webhook storing an event, the bot or staff queueing a message) also
sends ``NOTIFY`` in the same transaction, delivered when it commits (``announce``). Each worker process keeps
one listening connection (psycopg's ``Connection.notifies``) that rings a ``Doorbell``: every notification
wakes one idle thread, which then works until it finds nothing more. Idle threads still look every few
seconds for work that no notification announces (a retry that became due, a lease that ran out, something
queued while the listener was reconnecting). SQLite has no NOTIFY, so there the threads just poll often.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import URL, func, select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

INBOX_CHANNEL = "henkham_inbox"
OUTBOX_CHANNEL = "henkham_outbox"
RECONNECT_SECONDS = 1.0
STOP_CHECK_SECONDS = 1.0  # how often the listener looks at the stop flag while no notification comes


def announce(session: Session, channel: str) -> None:
    """Tell the listening workers, when the caller's transaction commits, that ``channel`` has new work."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(channel, "")))


class Doorbell:
    """Rings counted up to ``limit`` (one per idle thread is enough); ``wait`` takes one ring or times out."""

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._rings = 0
        self._changed = threading.Condition()

    def ring(self, times: int = 1) -> None:
        with self._changed:
            self._rings = min(self._limit, self._rings + times)
            self._changed.notify(times)

    def ring_all(self) -> None:
        self.ring(self._limit)

    def wait(self, timeout: float) -> bool:
        """True when woken by a ring, False when ``timeout`` seconds passed without one."""
        with self._changed:
            if not self._rings:
                self._changed.wait(timeout)
            if self._rings:
                self._rings -= 1
                return True
            return False


def conninfo(url: URL) -> str:
    """The psycopg connection string of a SQLAlchemy PostgreSQL URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def listen(url: URL, channel: str, doorbell: Doorbell, stop: threading.Event) -> None:
    """Ring ``doorbell`` on every notification of ``channel`` until ``stop`` is set; reconnects after errors.
    Every (re)connection rings all threads once, for work queued while nobody listened."""
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo(url), autocommit=True) as connection:
                connection.execute(f'LISTEN "{channel}"')
                doorbell.ring_all()
                while not stop.is_set():
                    for _notification in connection.notifies(timeout=STOP_CHECK_SECONDS):
                        doorbell.ring()
        except psycopg.Error as error:
            log.warning("listening on %s failed (%s); reconnecting", channel, type(error).__name__)
            stop.wait(RECONNECT_SECONDS)
