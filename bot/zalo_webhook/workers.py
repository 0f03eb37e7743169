"""The long-running loops: inbox workers (events → bot → outbox) and senders (outbox → Zalo).

Each process runs a few threads, each with its own unit of work per step; any number of processes may run
(work is claimed per user with leases, see claims.py). A thread that finds nothing to do waits: on
PostgreSQL until a notification announces work (wakeup.py) or a few seconds pass, on SQLite briefly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import update

from core.correlation import correlated, of_event
from core.heartbeat import Heartbeat
from core.timeutil import utcnow
from core.uow import Database

from . import inbox, outbox, wakeup
from .claims import Claim, still_mine
from .metrics import INBOX_HANDLE_SECONDS, OUTBOX_DELIVER_SECONDS
from .models import WorkStatus
from .processing import EventProcessor
from .sender import Sender

log = logging.getLogger(__name__)

MAX_EVENT_ATTEMPTS = 5
POLL_SECONDS = 0.1  # an idle thread's wait on SQLite, where nothing announces new work
NOTIFIED_POLL_SECONDS = 2.0  # on PostgreSQL: new work rings; this finds due retries and expired leases
MAIN_WAIT_SECONDS = 0.5
STUCK_SECONDS = 300.0  # a thread in one step this long is stuck: the heartbeat stops, the supervisor restarts


def inbox_step(db: Database, processor: EventProcessor) -> int:
    """Claim and handle one event; returns how many were handled (0 when there was nothing to do)."""
    with db.uow() as uow:
        claims = inbox.claim(uow, limit=1, lease_seconds=processor.settings.zalo_inbox_lease_seconds)
    for claim in claims:
        with correlated(of_event(claim.id)), INBOX_HANDLE_SECONDS.time():
            try:
                log.info("inbox event %s: %s", claim.id, processor.handle(claim))
            except Exception:
                log.exception("handling inbox event %s failed", claim.id)
                _give_up_or_retry(db, claim)
    return len(claims)


def sender_step(db: Database, sender: Sender, batch: int = 1) -> int:
    """Claim and deliver up to ``batch`` messages (of different users); returns how many."""
    with db.uow() as uow:
        claims = outbox.claim(uow, limit=batch, lease_seconds=sender.settings.zalo_outbox_lease_seconds)
    for claim in claims:
        try:
            with OUTBOX_DELIVER_SECONDS.time():
                log.info("outbox message %s: %s", claim.id, sender.deliver(claim))
        except Exception:  # a bug, not a Zalo error: the lease runs out and the message is tried again
            log.exception("delivering outbox message %s failed", claim.id)
    return len(claims)


def run_loops(
    step: Callable[[], int],
    *,
    threads: int,
    stop: threading.Event,
    idle_sleep: float = POLL_SECONDS,
    doorbell: wakeup.Doorbell | None = None,
    heartbeat: Heartbeat | None = None,
    stuck_seconds: float = STUCK_SECONDS,
) -> None:
    """Run ``step`` in ``threads`` threads until ``stop`` is set, then let each finish its current step (a
    claimed event or message is carried to its end; no new one is taken). A thread that found nothing to do
    waits ``idle_sleep`` seconds, or less when ``doorbell`` rings. ``heartbeat`` beats while no thread has been
    in one step for longer than ``stuck_seconds``."""
    last_loop = [time.monotonic()] * threads

    def idle(seconds: float) -> None:
        if doorbell is None:
            stop.wait(seconds)
        else:
            doorbell.wait(seconds)

    def loop(n: int) -> None:
        while not stop.is_set():
            last_loop[n] = time.monotonic()
            try:
                if step() == 0:
                    idle(idle_sleep)
            except Exception:  # the database went away, say: keep the loop alive and try again
                log.exception("worker step failed")
                idle(1.0)

    workers = [threading.Thread(target=loop, args=(i,), name=f"henkham-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    # The main thread waits in short steps: it is the one that runs the SIGTERM handler, and it beats.
    while not stop.wait(MAIN_WAIT_SECONDS):
        if heartbeat is not None and time.monotonic() - min(last_loop) < stuck_seconds:
            heartbeat.beat()
    log.info("stopping: finishing the current claims, taking no new one")
    if doorbell is not None:
        doorbell.ring_all()  # the waiting threads see the stop at once
    for worker in workers:
        worker.join()


def run_workers(
    db: Database,
    step: Callable[[], int],
    *,
    threads: int,
    stop: threading.Event,
    channel: str,
    heartbeat: Heartbeat | None = None,
) -> None:
    """``run_loops`` as the worker processes run it: on PostgreSQL woken by notifications on ``channel``
    (``wakeup.INBOX_CHANNEL`` or ``OUTBOX_CHANNEL``) from one listening connection, on SQLite polling."""
    if db.engine.dialect.name != "postgresql":
        run_loops(step, threads=threads, stop=stop, heartbeat=heartbeat)
        return
    doorbell = wakeup.Doorbell(threads)
    listener = threading.Thread(
        target=wakeup.listen, args=(db.engine.url, channel, doorbell, stop), name=f"listen-{channel}", daemon=True
    )
    listener.start()
    run_loops(
        step, threads=threads, stop=stop, idle_sleep=NOTIFIED_POLL_SECONDS, doorbell=doorbell, heartbeat=heartbeat
    )
    listener.join(timeout=wakeup.STOP_CHECK_SECONDS + 5)


def _give_up_or_retry(db: Database, claim: Claim) -> None:
    """After repeated failures an event is marked failed (kept for staff); before that its lease is released."""
    with db.uow() as uow:
        failed = claim.attempt >= MAX_EVENT_ATTEMPTS
        uow.session.execute(
            update(inbox.INBOX)
            .where(still_mine(inbox.INBOX, claim))
            .values(
                status=WorkStatus.FAILED.value if failed else WorkStatus.PENDING.value,
                lease_until=None,
                outcome="failed after repeated errors" if failed else "",
                processed_at=utcnow() if failed else None,
            )
        )
        uow.commit()
