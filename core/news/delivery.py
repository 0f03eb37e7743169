"""The campaigns' port to the channel that delivers them (as ``core.reminders.planning.Notifier`` is the
reminders'): core keeps the campaign, its recipients, the lifecycle, the frequency cap and the unsubscribe
policy; the channel answers what is its own: which sender accounts exist and who follows them, how its users'
accounts are keyed, its queue (handing a message over, taking back one never attempted, what became of each).

``keys`` is always a SELECT of one column, the message keys (``CampaignRecipient.message_key``) the question
is about, so the channel answers in one statement however many recipients a campaign has.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, Select

from core.uow import UnitOfWork


class Outcome(enum.StrEnum):
    """What became of a message handed to the channel."""

    SENT = "sent"
    SENDING = "sending"  # not delivered yet (waiting in the channel's queue, or being sent)
    FAILED = "failed"  # will not be delivered (the reason says why)


@dataclass(frozen=True)
class SenderAccount:
    """A channel account a campaign may be sent from (a Zalo OA): ``hospital_id`` None = serves several."""

    address: str
    hospital_id: int | None


@dataclass(frozen=True)
class Broadcast:
    """One campaign message for one user, handed to the channel under the unique ``key``; the channel drops it,
    as failed, if it is not sent by ``useful_until``."""

    address: str  # the sender account (a Zalo OA id)
    user_id: str
    text: str
    key: str
    useful_until: dt.datetime


@dataclass(frozen=True)
class OutcomeCount:
    outcome: Outcome
    reason: str  # the channel's reason for a failure ("" otherwise)
    count: int


class CampaignChannel(Protocol):
    provider: str  # the ``Account.provider`` of the channel's users

    def account_key(self, address: str, user_id: str) -> str:
        """The ``Account.external_id`` of the user ``user_id`` of the sender account ``address``."""
        ...

    def recipient_of(self, account_key: str) -> tuple[str, str] | None:
        """(address, user id) of an account key of this channel; None when it is not one."""
        ...

    def followers(self, uow: UnitOfWork, address: str) -> Iterable[str]:
        """The user ids that follow the sender account ``address``, in a stable order."""
        ...

    def still_following(self, uow: UnitOfWork, address: str, user_ids: Sequence[str]) -> set[str]:
        """Those of ``user_ids`` that still follow ``address``."""
        ...

    def waiting(self, uow: UnitOfWork, limit: int) -> int:
        """How many broadcast messages still wait in the channel's queue (counted up to ``limit``)."""
        ...

    def queue(self, uow: UnitOfWork, broadcast: Broadcast, now: dt.datetime) -> None:
        """Hand one broadcast over, in the caller's transaction (a key already handed over adds nothing)."""
        ...

    def may_reach(self, key: ColumnElement[str]) -> ColumnElement[bool]:
        """A SQL condition on the column ``key`` of message keys: the message was handed over and did not fail
        (it reached the user, or may still)."""
        ...

    def sender(self, uow: UnitOfWork, address: str) -> SenderAccount | None:
        """The sender account ``address`` (an OA id), or None when the channel serves none by that name."""
        ...

    def outcomes(self, uow: UnitOfWork, keys: Select) -> list[OutcomeCount]:
        """How many of the messages ``keys`` were sent, are still being sent, failed (grouped by reason)."""
        ...

    def failures(self, uow: UnitOfWork, keys: Select, limit: int) -> list[tuple[str, str]]:
        """(key, reason) of up to ``limit`` messages of ``keys`` that will not be delivered, in a stable order
        (the staff console lists them with their reasons)."""
        ...

    def senders(self, uow: UnitOfWork, hospital_id: int) -> list[SenderAccount]:
        """The sender accounts a campaign of ``hospital_id`` may go out from (its own, and those serving several
        hospitals), for the console's choice of a followers target."""
        ...

    def withdraw(self, uow: UnitOfWork, keys: Select, reason: str) -> list[str]:
        """Take back the messages of ``keys`` that were never attempted and nobody is sending (so taking them back
        cannot lose or double a send), marking them failed with ``reason``; returns the keys taken back."""
        ...
