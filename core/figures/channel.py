"""The port through which the roll-up gets the channel's numbers (core reads no chat table).

``bot/zalo_webhook/figures_channel.py`` implements it over the Zalo inbox, conversations and outbox; the
scheduler's composition (henkham/jobs.py) passes it in. Plain numbers only: no user ids leave the channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from core.uow import UnitOfWork


@dataclass(frozen=True)
class AssistantDay:
    """One hospital's conversations on one day."""

    conversations: int = 0  # users who wrote to the OA that day
    booked: int = 0  # of them, those who booked through the chat that day
    user_messages: int = 0  # messages users wrote
    not_understood: int = 0  # answers "I did not understand" the assistant gave
    handoffs: int = 0  # conversations handed to staff that day
    first_reply_seconds: tuple[float, ...] = ()  # per hand-off: seconds until the first staff reply


@dataclass(frozen=True)
class Delivery:
    """What became of one queued message: ``channel`` "chat" or "zns" once sent, else ``status``."""

    status: str  # sent | pending | undeliverable
    channel: str = ""
    reason: str = ""


class ChannelFigures(Protocol):
    def assistant_days(self, uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> Mapping[int, AssistantDay]:
        """Per hospital id, the assistant's numbers for messages received in [start, end) (UTC)."""
        ...

    def deliveries(self, uow: UnitOfWork, message_keys: Collection[str]) -> Mapping[str, Delivery]:
        """What became of the messages queued under these idempotency keys (unknown keys are left out)."""
        ...
