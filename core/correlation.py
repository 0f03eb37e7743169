"""The correlation id of the work at hand: ``zalo-<inbox id>`` for everything a Zalo event causes (the webhook
that stored it, the worker that handled it, the Rasa server and action server that answered it, the sender that
delivered the replies), so one grep of the JSON logs of every process follows one patient message. A context
variable: each thread (and each asyncio task) has its own."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager

CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
_SHAPE = re.compile(r"^[A-Za-z0-9:_.-]{1,80}$")


def of_event(event_id: int) -> str:
    return f"zalo-{event_id}"


def of_outbox_key(key: str) -> str:
    """A reply's key is ``in:<event id>:<n>``: its event's id; other messages (reminders, broadcasts) by key."""
    parts = key.split(":")
    if len(parts) == 3 and parts[0] == "in" and parts[1].isdigit():
        return of_event(int(parts[1]))
    return clean(key)


def clean(value: object) -> str:
    """``value`` if it has the shape of a correlation id (it may come from a request), else empty."""
    return value if isinstance(value, str) and _SHAPE.match(value) else ""


@contextmanager
def correlated(correlation_id: str) -> Iterator[None]:
    token = CURRENT.set(correlation_id)
    try:
        yield
    finally:
        CURRENT.reset(token)
