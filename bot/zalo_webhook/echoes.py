"""Whose message is an ``oa_send_*`` echo: this assistant's, or a staff member's from Zalo's OA inbox.

Zalo echoes every message the OA sends, whoever sent it, and no real body carries who did (``sender.admin_id``
is claimed by some third-party docs, seen in no capture). What tells them apart is the message id: each send
call of ours gets one back from Zalo, and the sender records it on the outbox row (``zalo_message_id``).
An echo whose ``msg_id`` is none of those was sent by someone else.

The race: Zalo may deliver the echo before our send call has returned, so before the id is recorded. While a
message to that user is in flight (claimed by a sender, or sent "in doubt" and not yet looked up), the echo
is not judged: the worker puts it back for a moment (``WAIT``), up to ``zalo_echo_wait_seconds`` after it
arrived, and judges it once the send has settled.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from .events import ZaloEvent
from .models import OPEN, OutboundMessage, WorkStatus
from .sender import IN_DOUBT

RECHECK_SECONDS = 1.0  # how soon a waiting echo is looked at again


class Echo(enum.StrEnum):
    OURS = "own_echo"  # one of this assistant's messages
    STAFF = "staff_replied"  # someone else (staff in Zalo's OA inbox) wrote to the user
    WAIT = "deferred"  # a send to this user is in flight: judge it when it has settled
    UNKNOWN = "echo_without_id"  # no msg_id to judge by and nobody named: changes nothing


def judge(session: Session, event: ZaloEvent, *, received_at: dt.datetime, now: dt.datetime, wait: float) -> Echo:
    if event.msg_id and _ours(session, event.oa_id, event.msg_id):
        return Echo.OURS
    if event.user_id and now - received_at < dt.timedelta(seconds=wait) and _in_flight(session, event):
        return Echo.WAIT
    if event.msg_id or event.admin_id:
        return Echo.STAFF
    return Echo.UNKNOWN


def _ours(session: Session, oa_id: str, msg_id: str) -> bool:
    return bool(
        session.scalar(
            select(exists().where(OutboundMessage.oa_id == oa_id, OutboundMessage.zalo_message_id == msg_id))
        )
    )


def _in_flight(session: Session, event: ZaloEvent) -> bool:
    """A message to the user being sent now, or sent without knowing whether Zalo got it (its id unknown)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboundMessage.oa_id == event.oa_id,
                    OutboundMessage.user_id == event.user_id,
                    OutboundMessage.status.in_(OPEN),  # the partial index of open messages
                    or_(
                        OutboundMessage.status == WorkStatus.PROCESSING.value,
                        and_(
                            OutboundMessage.status == WorkStatus.PENDING.value,
                            OutboundMessage.last_error.startswith(IN_DOUBT),
                        ),
                    ),
                )
            )
        )
    )
