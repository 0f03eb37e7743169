"""When a bench's messages arrived, and the rates that follow from it: shared by the sender benches."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.zalo_webhook.models import Conversation


def add_sender_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The henkham zalo sender processes of a bench, and how their rate is measured."""
    parser.add_argument("--limit-per-minute", type=int, default=4000, help="the Zalo app's rate limit (4000)")
    parser.add_argument("--senders", type=int, default=2, help="henkham zalo sender processes (2)")
    parser.add_argument("--sender-threads", type=int, default=4, help="threads per sender process (4)")
    parser.add_argument("--steady-skip", type=float, default=3.0, help="seconds of sending left out at the start (3)")


def per_minute(times_ms: list[int]) -> tuple[int, float]:
    """(messages, per minute) between the first and the last of ``times_ms`` (sorted)."""
    span = (times_ms[-1] - times_ms[0]) / 1000 if len(times_ms) > 1 else 0.0
    return len(times_ms), (len(times_ms) - 1) / span * 60 if span > 0 else 0.0


def extra_copies(received: Mapping[str, int]) -> int:
    """Messages received beyond the first of each key (``received``: copies per key)."""
    return sum(n - 1 for n in received.values() if n > 1)


def never_received(received: Mapping[str, int]) -> int:
    """Keys of which no copy was received."""
    return sum(1 for n in received.values() if n == 0)


class DeliveryTimes:
    """Rates of the deliveries ``times_ms`` (sorted, in ms); a mixin for the benches' result dataclasses."""

    times_ms: list[int]
    steady_skip: float  # seconds after the first delivery that the steady window leaves out
    RECEIVED: ClassVar[str]  # the name of the field that counts the copies received of each key

    @property
    def duplicates(self) -> int:
        return extra_copies(getattr(self, self.RECEIVED))

    @property
    def unreceived(self) -> int:
        """Keys (users, rows recorded as sent) of which the simulator received no copy."""
        return never_received(getattr(self, self.RECEIVED))

    @property
    def span(self) -> float:
        return (self.times_ms[-1] - self.times_ms[0]) / 1000 if len(self.times_ms) > 1 else 0.0

    @property
    def whole_per_minute(self) -> float:
        return (len(self.times_ms) - 1) / self.span * 60 if self.span > 0 else 0.0

    def steady(self) -> tuple[int, float, float]:
        """(messages, seconds, per minute) of the steady window: from ``steady_skip`` after the first message
        to the last, measured between the first and last message inside it."""
        if not self.times_ms:
            return 0, 0.0, 0.0
        begin = self.times_ms[0] + self.steady_skip * 1000
        inside = [t for t in self.times_ms if t >= begin]
        if len(inside) < 2:
            return len(inside), 0.0, 0.0
        seconds = (inside[-1] - inside[0]) / 1000
        return len(inside), seconds, (len(inside) - 1) / seconds * 60

    def most_in(self, seconds: float) -> int:
        """The most messages in any ``seconds`` (sliding, anchored at each message)."""
        best, low, width = 0, 0, seconds * 1000
        for high, t in enumerate(self.times_ms):
            while t - self.times_ms[low] >= width:
                low += 1
            best = max(best, high - low + 1)
        return best


def add_followers(session: Session, oa_id: str, user_ids: list[str], *, since: dt.datetime, now: dt.datetime) -> None:
    """Bot conversations of followers of ``oa_id`` (followed ``since``) who last wrote ``now``: inside the free
    chat window, so messages to them may go out."""
    session.execute(
        insert(Conversation.__table__),
        [
            {
                "oa_id": oa_id,
                "user_id": user_id,
                "mode": "bot",
                "mode_reason": "",
                "needs_staff": False,
                "staff_reason": "",
                "follower": True,
                "followed_at": since,
                "display_name": f"Người dùng {user_id[-4:]}",
                "last_interaction_at": now,
                "created_at": since,
                "updated_at": now,
            }
            for user_id in user_ids
        ],
    )
