"""The long-running loops: inbox workers (events → bot → outbox) and senders (outbox → Zalo).

Each process runs a few threads, each with its own unit of work per step; any number of processes may run
(work is claimed per user with leases, see claims.py). A thread that finds nothing to do sleeps briefly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import update

from core.timeutil import utcnow
from core.uow import Database

from . import inbox, outbox
from .claims import Claim, still_mine
from .models import WorkStatus
from .processing import EventProcessor
from .sender import Sender

log = logging.getLogger(__name__)

MAX_EVENT_ATTEMPTS = 5


def inbox_step(db: Database, processor: EventProcessor) -> int:
    """Claim and handle one event; returns how many were handled (0 when there was nothing to do)."""
    with db.uow() as uow:
        claims = inbox.claim(uow, limit=1, lease_seconds=processor.settings.zalo_inbox_lease_seconds)
    for claim in claims:
        try:
            processor.handle(claim)
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
            sender.deliver(claim)
        except Exception:  # a bug, not a Zalo error: the lease runs out and the message is tried again
            log.exception("delivering outbox message %s failed", claim.id)
    return len(claims)


def run_loops(step: Callable[[], int], *, threads: int, stop: threading.Event, idle_sleep: float = 0.1) -> None:
    """Run ``step`` in ``threads`` threads until ``stop`` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                if step() == 0:
                    stop.wait(idle_sleep)
            except Exception:  # the database went away, say: keep the loop alive and try again
                log.exception("worker step failed")
                stop.wait(1.0)

    workers = [threading.Thread(target=loop, name=f"henkham-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


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
