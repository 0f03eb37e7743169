"""The outbox: every message to send is a row with an idempotency key, sent by whichever sender claims it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select, update

from core.db import insert_ignoring_conflicts
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .claims import Claim, claim_heads, still_mine
from .messages import OutgoingMessage, split_text
from .models import OutboundMessage, WorkStatus
from .wakeup import OUTBOX_CHANNEL, announce

OUTBOX = OutboundMessage.__table__


@dataclass(frozen=True)
class Queued:
    """One message to queue: for whom, what, under which idempotency key."""

    oa_id: str
    user_id: str | None
    message: OutgoingMessage
    key: str
    purpose: str = "reply"
    phone: str | None = None
    useful_until: dt.datetime | None = None


def enqueue(
    uow: UnitOfWork,
    *,
    oa_id: str,
    user_id: str | None,
    message: OutgoingMessage,
    key: str,
    purpose: str = "reply",
    phone: str | None = None,
    now: dt.datetime | None = None,
    useful_until: dt.datetime | None = None,
) -> int:
    """Queue a message (in the caller's transaction). A text over Zalo's 2,000 characters becomes several
    messages split on sentence boundaries, its buttons on the last. Returns how many rows were new: a key
    already queued adds nothing, so repeating the call is harmless."""
    return enqueue_many(uow, [Queued(oa_id, user_id, message, key, purpose, phone, useful_until)], now)


def enqueue_many(uow: UnitOfWork, items: Sequence[Queued], now: dt.datetime | None = None) -> int:
    """``enqueue`` for many messages in one statement and one notification (the scheduler's batches)."""
    now = now or utcnow()
    rows = [row for item in items for row in _rows(item, now)]
    if not rows:
        return 0
    session = uow.session
    statement = insert_ignoring_conflicts(session.get_bind().dialect.name, OUTBOX, ["idempotency_key"])
    created = len(session.execute(statement.returning(OUTBOX.c.id), rows).all())
    if created:
        announce(session, OUTBOX_CHANNEL)
    return created


def _rows(item: Queued, now: dt.datetime) -> list[dict[str, object]]:
    message = item.message
    parts = split_text(message.text) if message.text and not message.request_phone else [message.text]
    bodies = [
        replace(message, text=part, buttons=message.buttons if i == len(parts) - 1 else ())
        for i, part in enumerate(parts)
    ]
    return [
        {
            "oa_id": item.oa_id,
            "user_id": item.user_id,
            "phone": item.phone,
            "idempotency_key": (item.key if len(bodies) == 1 else f"{item.key}#{i + 1}")[:200],
            "purpose": item.purpose,
            "body": body.to_json(),
            "status": WorkStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "useful_until": item.useful_until,
            "last_error": "",
            "created_at": now,
        }
        for i, body in enumerate(bodies)
    ]


def claim(uow: UnitOfWork, *, now: dt.datetime | None = None, limit: int = 10, lease_seconds: int = 90) -> list[Claim]:
    """Claim due messages: the oldest open message of each user (so a user's messages arrive in order)."""
    now = now or utcnow()
    claims = claim_heads(
        uow.session,
        OUTBOX,
        now=now,
        lease=dt.timedelta(seconds=lease_seconds),
        limit=limit,
        due_column="next_attempt_at",
    )
    uow.commit()
    return claims


def load(uow: UnitOfWork, message_id: int) -> OutboundMessage | None:
    return uow.session.scalar(select(OutboundMessage).where(OutboundMessage.id == message_id))


def settle(uow: UnitOfWork, claim: Claim, **values: object) -> bool:
    """Record the outcome of an attempt on a message this sender still holds (status, channel, ids, error …);
    False if another sender has claimed it since."""
    return uow.session.execute(update(OUTBOX).where(still_mine(OUTBOX, claim)).values(**values)).rowcount == 1
