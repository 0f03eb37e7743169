"""The campaigns' port to the channel that delivers them (as ``core.reminders.planning.Notifier`` is the
reminders'): core keeps the campaign, its recipients and their decisions; what became of a message handed to
the channel, taking back one never attempted, and which sender accounts exist are the channel's to answer.

``keys`` is always a SELECT of one column, the message keys (``CampaignRecipient.message_key``) the question
is about, so the channel answers in one statement however many recipients a campaign has.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Select

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
class OutcomeCount:
    outcome: Outcome
    reason: str  # the channel's reason for a failure ("" otherwise)
    count: int


class CampaignChannel(Protocol):
    def sender(self, uow: UnitOfWork, address: str) -> SenderAccount | None:
        """The sender account ``address`` (an OA id), or None when the channel serves none by that name."""
        ...

    def outcomes(self, uow: UnitOfWork, keys: Select) -> list[OutcomeCount]:
        """How many of the messages ``keys`` were sent, are still being sent, failed (grouped by reason)."""
        ...

    def withdraw(self, uow: UnitOfWork, keys: Select, reason: str) -> list[str]:
        """Take back the messages of ``keys`` that were never attempted and nobody is sending (so taking them back
        cannot lose or double a send), marking them failed with ``reason``; returns the keys taken back."""
        ...
