"""Pruning Rasa's tracker store (a job of ``henkham scheduler``): the conversations nobody has touched for
``rasa_tracker_retention_days`` are deleted, every event of them, so patients' messages are not kept in Rasa's
database longer than in ours. A user who writes again starts a new conversation (their profiles, bookings and
consents are in henkham's database, not in the tracker).

Rasa's SQL tracker store (bot/endpoints.yml) keeps one row per event in its table ``events`` (``sender_id``,
``timestamp`` in Unix seconds); Rasa has no retention of its own.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, delete, func, inspect, select

from core.db import make_engine

log = logging.getLogger(__name__)
BATCH = 500  # conversations deleted per statement: short transactions beside the Rasa servers' writes

EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("timestamp", Float),
)


class TrackerStore:
    """Rasa's tracker store as henkham's scheduler reaches it (the URL of ``Settings.rasa_tracker_store_url``)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url, pool_size=1, max_overflow=0)

    def prune(self, *, retention_days: float, now: float | None = None) -> int:
        """Delete the conversations whose last event is older than ``retention_days``; returns how many."""
        if not inspect(self.engine).has_table("events"):
            return 0  # no Rasa server has started on it yet
        cutoff = (now if now is not None else time.time()) - retention_days * 86400
        stale = (
            select(EVENTS.c.sender_id)
            .group_by(EVENTS.c.sender_id)
            .having(func.max(EVENTS.c.timestamp) < cutoff)
            .limit(BATCH)
        )
        pruned = 0
        while True:
            with self.engine.begin() as connection:
                senders = list(connection.scalars(stale))
                if not senders:
                    break
                connection.execute(delete(EVENTS).where(EVENTS.c.sender_id.in_(senders)))
            pruned += len(senders)
        if pruned:
            log.info("pruned %d conversation(s) from Rasa's tracker store", pruned)
        return pruned

    def dispose(self) -> None:
        self.engine.dispose()
