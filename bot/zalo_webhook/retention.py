"""Pruning the Zalo channel's inbox and outbox (a job of ``henkham scheduler``).

Only settled rows go (handled or failed events; sent, failed or undeliverable messages), once older than
``zalo_retention_days``, and never earlier than what they still guard:

- an inbox row is the dedupe key of its event: it stays as long as Zalo (or a replay) may bring the event
  back and the webhook would still accept it, i.e. the freshness window plus the clock skew allowed ahead,
  plus a margin;
- an outbox row carries the Zalo message id its echo is judged by, and counts towards a user's monthly cap
  of broadcasts (``news_cap_window_days``): it stays at least that long.

The newest row of each table is never deleted, so SQLite (whose row ids are ``max + 1``) never hands out an
id again: reply keys are made of inbox ids (``in:<event id>:<n>``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from core.config import Settings
from core.timeutil import utcnow
from core.uow import Database

from .models import InboundEvent, OutboundMessage, WorkStatus

log = logging.getLogger(__name__)

DEDUPE_MARGIN = dt.timedelta(hours=1)
SETTLED_EVENTS = (WorkStatus.DONE.value, WorkStatus.FAILED.value)
SETTLED_MESSAGES = (WorkStatus.DONE.value, WorkStatus.FAILED.value, WorkStatus.UNDELIVERABLE.value)


@dataclass(frozen=True)
class Pruned:
    events: int
    messages: int


def inbox_keep(settings: Settings) -> dt.timedelta:
    """How long a handled event is kept: the retention, and at least as long as its dedupe key is needed."""
    window = dt.timedelta(hours=settings.zalo_event_max_age_hours, minutes=settings.zalo_event_future_minutes)
    return max(dt.timedelta(days=settings.zalo_retention_days), window + DEDUPE_MARGIN)


def outbox_keep(settings: Settings) -> dt.timedelta:
    return max(dt.timedelta(days=settings.zalo_retention_days), dt.timedelta(days=settings.news_cap_window_days + 1))


def prune(db: Database, settings: Settings, now: dt.datetime | None = None) -> Pruned:
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        newest_event = select(func.max(InboundEvent.id)).scalar_subquery()
        events = session.execute(
            delete(InboundEvent).where(
                InboundEvent.status.in_(SETTLED_EVENTS),
                InboundEvent.received_at < now - inbox_keep(settings),
                InboundEvent.id < newest_event,
            )
        ).rowcount
        newest_message = select(func.max(OutboundMessage.id)).scalar_subquery()
        messages = session.execute(
            delete(OutboundMessage).where(
                OutboundMessage.status.in_(SETTLED_MESSAGES),
                OutboundMessage.created_at < now - outbox_keep(settings),
                OutboundMessage.id < newest_message,
            )
        ).rowcount
        uow.commit()
    if events or messages:
        log.info("retention: pruned %d inbox events and %d outbox messages", events, messages)
    return Pruned(events, messages)
