"""The append-only access audit: who read which record, when and for what.

Every read service of personal records (appointments and patients now, clinical records of core/emr later)
calls :func:`record_reads` once with the kind and ids of what it returns. Who reads comes from the unit of
work (:attr:`core.uow.UnitOfWork.actor`, set by the entry point: the API client and the account it acts for);
a unit of work without an actor (the scheduler, the CLI, the chat's own look-ups) is not a reader to audit.

Clinical records (core/emr) are read with an explicit reader and purpose: :func:`record_record_read` writes one
row per read with the channel it came through and *what* was read (the ids of the visits and sections).

Only ids are stored, never names, phones or identity numbers. Rows are only ever inserted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Index, Integer, String, Text, insert
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.timeutil import utcnow


@dataclass(frozen=True)
class Actor:
    """Who acts through a unit of work: an API client (its key's id and name), the account it acts for (None:
    the client acts for its hospital), the hospital the client is confined to (None: any) and the purpose
    (the API route)."""

    kind: str
    client_id: int | None
    client_name: str
    account_id: int | None = None
    hospital_id: int | None = None
    purpose: str = ""


class AccessAudit(Base):
    __tablename__ = "access_audit"
    __table_args__ = (Index("ix_access_audit_record", "record_kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[int | None] = mapped_column(Integer)
    record_kind: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(120), default="")
    channel: Mapped[str] = mapped_column(String(20), default="", server_default="")  # "api", "cli", "chat", …
    detail: Mapped[str | None] = mapped_column(Text)  # what was read, as ids (clinical records)
    # "read", or "refused" (a clinical-record read refused: not linked, no consent, …; the reason in detail)
    outcome: Mapped[str] = mapped_column(String(10), default="read", server_default="read")


ACCESS_AUDIT = AccessAudit.__table__
_INSERT = insert(ACCESS_AUDIT)


def record_reads(uow, record_kind: str, record_ids: Iterable[int | str], *, now: dt.datetime | None = None) -> None:
    """Append one audit row per record read through ``uow`` by its actor (nothing without an actor).

    In a writing unit of work the rows join its transaction (and its commit); a reader writes them aside at
    once (see UnitOfWork.write_aside).
    """
    actor = getattr(uow, "actor", None)
    if actor is None:
        return
    at = now or utcnow()
    rows = [
        {
            "at": at,
            "actor_kind": actor.kind,
            "actor_id": actor.client_id,
            "actor_name": actor.client_name[:80],
            "account_id": actor.account_id,
            "record_kind": record_kind,
            "record_id": str(record_id)[:40],
            "purpose": actor.purpose[:120],
        }
        for record_id in record_ids
    ]
    if rows:
        uow.write_aside(_INSERT, rows)


def record_record_read(
    uow,
    reader: Actor,
    record_kind: str,
    record_id: int | str,
    *,
    purpose: str,
    channel: str,
    detail: str,
    outcome: str = "read",
    now: dt.datetime | None = None,
) -> None:
    """Append the one audit row of a clinical-record read by ``reader`` (given explicitly: a record is never
    read anonymously): the record, the purpose, the channel and ``detail``, what was read (ids only).
    ``outcome`` "refused": the read was refused, ``detail`` says why."""
    uow.write_aside(
        _INSERT,
        [
            {
                "at": now or utcnow(),
                "actor_kind": reader.kind[:20],
                "actor_id": reader.client_id,
                "actor_name": reader.client_name[:80],
                "account_id": reader.account_id,
                "record_kind": record_kind,
                "record_id": str(record_id)[:40],
                "purpose": purpose[:120],
                "channel": channel[:20],
                "detail": detail,
                "outcome": outcome[:10],
            }
        ],
    )
