"""The inbox: every webhook delivery stored once (unique per OA and message id), handled later by workers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from core.db import insert_ignoring_conflicts
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .claims import Claim, claim_heads, still_mine
from .events import ZaloEvent
from .models import InboundEvent, WorkStatus
from .wakeup import INBOX_CHANNEL, announce

INBOX = InboundEvent.__table__


def store(uow: UnitOfWork, event: ZaloEvent, raw: bytes, now: dt.datetime | None = None) -> int | None:
    """Store the event unless it is already there (a repeated delivery). Returns its id if it is new, else None.

    One statement: the unique key decides, so concurrent deliveries of one event store it once.
    """
    session = uow.session
    result = session.execute(
        insert_ignoring_conflicts(session.get_bind().dialect.name, INBOX, ["oa_id", "event_key"]).returning(INBOX.c.id),
        {
            "oa_id": event.oa_id,
            "event_key": event.key,
            "event_name": event.name[:60],
            "user_id": event.user_id,
            "payload": raw.decode("utf-8"),
            "received_at": now or utcnow(),
            "status": WorkStatus.PENDING.value,
            "attempts": 0,
            "outcome": "",
        },
    ).first()
    if result is not None:
        announce(session, INBOX_CHANNEL)
    uow.commit()
    return None if result is None else int(result[0])


def claim(uow: UnitOfWork, *, now: dt.datetime | None = None, limit: int = 1, lease_seconds: int = 60) -> list[Claim]:
    """Claim events to handle: the oldest open event of each user, never two of one user at once."""
    claims = claim_heads(
        uow.session, INBOX, now=now or utcnow(), lease=dt.timedelta(seconds=lease_seconds), limit=limit
    )
    uow.commit()
    return claims


def finish(uow: UnitOfWork, claim: Claim, outcome: str, now: dt.datetime | None = None) -> bool:
    """Mark the event handled (in the caller's transaction, with what it produced). False if another worker
    has claimed it since (this one's lease ran out); the caller must then roll back."""
    done = uow.session.execute(
        update(INBOX)
        .where(still_mine(INBOX, claim))
        .values(status=WorkStatus.DONE.value, processed_at=now or utcnow(), outcome=outcome[:300], lease_until=None)
    ).rowcount
    return done == 1


def defer(uow: UnitOfWork, claim: Claim, until: dt.datetime) -> bool:
    """Keep the event claimed but let the lease end at ``until``: it is claimed (and handled) again then, and
    the user's later events wait behind it. The attempt is given back (waiting is not failing: the give-up
    count stays for errors); this holder writes nothing more. False if another worker holds it now."""
    values = {"lease_until": until, "attempts": INBOX.c.attempts - 1}
    return uow.session.execute(update(INBOX).where(still_mine(INBOX, claim)).values(**values)).rowcount == 1
