"""Whose message is an ``oa_send_*`` echo: this assistant's, or a staff member's from Zalo's OA inbox.

Zalo echoes every message the OA sends, whoever sent it, and no real body carries who did (``sender.admin_id``
is claimed by some third-party docs, seen in no capture). What tells them apart is the message id: each send
call of ours gets one back from Zalo, and the sender records it on the outbox row (``zalo_message_id``).
An echo whose ``msg_id`` is none of those was sent by someone else.

The race: Zalo may deliver the echo before our send call has returned, so before the id is recorded. While a
message to that user is in flight (claimed by a sender, or sent "in doubt" and not yet looked up), the echo
is not judged: the worker first waits briefly (outside any transaction) for a send being made now to return;
if one is still in flight (or in doubt) it puts the echo back for a moment (``WAIT``), up to
``zalo_echo_wait_seconds`` after it arrived, and judges it once the send has settled. The user's later events
wait behind it, so a staff reply still pauses the assistant before the patient's next message is answered.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
import time

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from core.uow import Database

from .events import ZaloEvent
from .models import OPEN, OutboundMessage, WorkStatus
from .sender import IN_DOUBT

RECHECK_SECONDS = 1.0  # how soon an echo put back is looked at again
SETTLE_WAIT_SECONDS = 2.0  # how long the worker first waits for a send being made now to return
POLL_SECONDS = 0.05


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
    # Asked again: under READ COMMITTED each statement sees what is committed when it runs, and the send may
    # have settled (id recorded, no longer in flight) between the first question and the second.
    if event.msg_id and _ours(session, event.oa_id, event.msg_id):
        return Echo.OURS
    if event.msg_id or event.admin_id:
        return Echo.STAFF
    return Echo.UNKNOWN


def wait_for_send(db: Database, event: ZaloEvent, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds, outside any transaction, while a sender is sending to the echo's user
    (a send call takes well under a second): True once none is, False if one still is."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        with db.reader() as uow:
            if not _in_flight(uow.session, event, sending_only=True):
                return True
        if time.monotonic() >= deadline:
            return False
        pause.wait(POLL_SECONDS)


def _ours(session: Session, oa_id: str, msg_id: str) -> bool:
    return bool(
        session.scalar(
            select(exists().where(OutboundMessage.oa_id == oa_id, OutboundMessage.zalo_message_id == msg_id))
        )
    )


def _in_flight(session: Session, event: ZaloEvent, *, sending_only: bool = False) -> bool:
    """A message to the user being sent now, or (unless ``sending_only``) sent without knowing whether Zalo got
    it (its id unknown until the sender looks it up)."""
    in_doubt = and_(OutboundMessage.status == WorkStatus.PENDING.value, OutboundMessage.last_error.startswith(IN_DOUBT))
    sending = OutboundMessage.status == WorkStatus.PROCESSING.value
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboundMessage.oa_id == event.oa_id,
                    OutboundMessage.user_id == event.user_id,
                    OutboundMessage.status.in_(OPEN),  # the partial index of open messages
                    sending if sending_only else or_(sending, in_doubt),
                )
            )
        )
    )
