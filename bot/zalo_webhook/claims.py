"""Claiming work from the inbox and the outbox: in order per user, in parallel across users.

A row may be claimed when it is pending (or its holder's lease ran out) and no earlier row of the same
user is still open, so one user's events (or messages) are handled one at a time and in order, while
different users' are handled in parallel by any number of workers. On PostgreSQL the candidates are
locked with ``FOR UPDATE SKIP LOCKED`` (workers never wait on each other); on SQLite, where writes are
serialised by BEGIN IMMEDIATE, the same statement is simply run by one writer at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, Table, Update, and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from .models import OPEN, WorkStatus


@dataclass(frozen=True)
class Claim:
    id: int
    attempt: int  # the row's attempt number under this claim: the fence every later write checks
    in_doubt: bool  # its previous holder's lease ran out: that attempt may or may not have done its work


def claim_heads(
    session: Session,
    table: Table,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    due_column: str | None = None,
) -> list[Claim]:
    """Claim up to ``limit`` rows of ``table`` (zalo_inbox or zalo_outbox), the oldest first, at most one per
    user, and lease them until ``now + lease``. ``due_column`` names a time the row must have reached (e.g. a
    retry time)."""
    candidates, take = _claim_statements(table, due_column)
    rows = session.execute(candidates, {"now": now, "limit": limit}).all()
    if not rows:
        return []
    session.execute(take, {"ids": [r.id for r in rows], "lease_end": now + lease})
    return [Claim(r.id, r.attempts + 1, r.status == WorkStatus.PROCESSING.value) for r in rows]


@functools.cache
def _claim_statements(table: Table, due_column: str | None) -> tuple[Select[Any], Update]:
    """The two statements of a claim, built once per table: they are the workers' most frequent statements,
    and SQLAlchemy builds the cache key of a statement object once, so a new object per claim cost more CPU
    than the database spent running it."""
    now = bindparam("now", type_=table.c.lease_until.type)
    earlier, busy = table.alias("earlier"), table.alias("busy")
    claimable = or_(
        table.c.status == WorkStatus.PENDING.value,
        and_(table.c.status == WorkStatus.PROCESSING.value, table.c.lease_until < now),
    )
    first_of_user = ~exists().where(
        earlier.c.oa_id == table.c.oa_id,
        earlier.c.user_id == table.c.user_id,
        earlier.c.status.in_(OPEN),
        earlier.c.id < table.c.id,
    )
    # Ids follow insert order, not commit order: a user whose later row is being handled is busy anyway.
    user_idle = ~exists().where(
        busy.c.oa_id == table.c.oa_id,
        busy.c.user_id == table.c.user_id,
        busy.c.status == WorkStatus.PROCESSING.value,
        busy.c.lease_until >= now,
        busy.c.id != table.c.id,
    )
    conditions = [claimable, first_of_user, user_idle] + ([table.c[due_column] <= now] if due_column else [])
    candidates = (
        select(table.c.id, table.c.status, table.c.attempts)
        .where(*conditions)
        .order_by(table.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    take = (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .values(
            status=WorkStatus.PROCESSING.value,
            lease_until=bindparam("lease_end", type_=table.c.lease_until.type),
            attempts=table.c.attempts + 1,
        )
    )
    return candidates, take


def still_mine(table: Any, claim: Claim) -> Any:
    """The condition of a write by the holder of ``claim``: nobody has claimed the row again since."""
    return and_(
        table.c.id == claim.id, table.c.status == WorkStatus.PROCESSING.value, table.c.attempts == claim.attempt
    )
