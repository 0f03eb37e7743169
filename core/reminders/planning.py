"""Planning appointment reminders from the database: what is due now, each reminder exactly once.

A reminder of kind ``before_24h`` is due when the visit starts within 24 hours. Each run of the scheduler's
job claims the booked appointments that have such a reminder due and not yet planned for their current
start (``FOR UPDATE SKIP LOCKED``, in batches), hands the reminders to the notifier (the Zalo channel queues
them in its outbox, in the same transaction) and records one ``reminders`` row each, unique by key. So a
restart, a crash or a second scheduler plans nothing twice, and a rescheduled visit (a new start) gets
reminders for its new time only; a cancelled or past visit gets none.

Two choices a hospital would expect: a reminder whose time had already passed when the visit was booked is
skipped (a visit booked this morning for this afternoon gets the 2 h reminder, not a "tomorrow" one), and
when several kinds are due at once (the scheduler was down) only the nearest one is sent; the others are
recorded as skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Row, Select, and_, bindparam, exists

from core.booking.checkin import mark_no_shows
from core.booking.models import ACCOUNTS, APPOINTMENTS, PATIENTS, AppointmentStatus
from core.booking.views import AppointmentView
from core.db import insert_ignoring_conflicts
from core.timeutil import utcnow
from core.uow import Database, UnitOfWork

from .models import REMINDERS, ReminderOutcome
from .views import ReExamView

BATCH = 500
NO_SHOW = "no_show"
NO_SHOW_FOLLOW_UP = dt.timedelta(days=2)  # how long after a missed visit the follow-up is still worth sending


@dataclass(frozen=True)
class ReminderKind:
    name: str  # before_24h, before_2h, before_90m
    before: dt.timedelta

    @classmethod
    def of(cls, hours: float) -> ReminderKind:
        minutes = round(hours * 60)
        name = f"before_{minutes // 60}h" if minutes % 60 == 0 else f"before_{minutes}m"
        return cls(name, dt.timedelta(minutes=minutes))


def kinds_of(offsets_hours: Sequence[float]) -> list[ReminderKind]:
    """The reminder kinds of the configured offsets, nearest to the visit first."""
    return sorted({ReminderKind.of(h) for h in offsets_hours if h > 0}, key=lambda k: k.before)


@dataclass(frozen=True)
class Notice:
    """One reminder for the channel to deliver: about what, to whom, and until when it is worth sending."""

    key: str  # the reminder's unique key; the channel derives its idempotency key from it
    kind: str
    subject: AppointmentView | ReExamView  # the visit, or the re-exam date, it is about
    account_provider: str
    account_key: str  # the account's external id on its provider ("<oa_id>:<user_id>" for Zalo)
    phone: str  # E.164
    useful_until: dt.datetime  # UTC: after this it is not worth sending (the visit's start, say)

    @property
    def hospital(self) -> str:
        return self.subject.hospital


@dataclass(frozen=True)
class Delivery:
    outcome: ReminderOutcome
    reason: str = ""
    message_key: str | None = None


class Notifier(Protocol):
    def queue(self, uow: UnitOfWork, notices: Sequence[Notice], now: dt.datetime) -> list[Delivery]:
        """Queue each notice for delivery in the caller's transaction; one Delivery per notice, in order."""


def reminder_key(appointment_id: int, kind: str, starts_at: dt.datetime) -> str:
    return f"appt:{appointment_id}:{kind}:{starts_at.astimezone(dt.UTC):%Y%m%dT%H%M}"


def plan_appointment_reminders(
    db: Database,
    notifier: Notifier,
    kinds: Sequence[ReminderKind],
    *,
    now: dt.datetime | None = None,
    batch: int = BATCH,
) -> int:
    """Plan every appointment reminder due at ``now``; returns how many reminder rows were written."""
    now = now or utcnow()
    kinds = sorted(kinds, key=lambda k: k.before)
    written = 0
    for position, kind in enumerate(kinds):
        nearer = kinds[:position]  # kinds due later than this one, closer to the visit

        def plan(row: Row, kind: ReminderKind = kind, nearer: Sequence[ReminderKind] = nearer) -> Plan:
            starts_at: dt.datetime = row.starts_at
            due_at = starts_at - kind.before
            superseded = next((k for k in nearer if starts_at - k.before <= now), None)
            skip = ""
            if row.created_at > due_at:
                skip = "booked after this reminder's time"
            elif superseded is not None:
                skip = f"the {superseded.name} reminder replaces it"
            key = reminder_key(row.id, kind.name, starts_at)
            return appointment_plan(row, key, kind.name, starts_at, due_at, useful_until=starts_at, skip=skip)

        params = {"now": now, "horizon": now + kind.before}
        written += plan_all(db, notifier, _due(kind), params, plan, now, batch)
    return written


def follow_up_no_shows(
    db: Database,
    notifier: Notifier,
    *,
    now: dt.datetime | None = None,
    grace_minutes: int = 30,
    batch: int = BATCH,
) -> int:
    """Booked visits whose session ended over ``grace_minutes`` ago become no-shows (core.booking.checkin),
    and each patient gets one gentle message offering to book again (kind ``no_show``); only for visits
    missed within ``NO_SHOW_FOLLOW_UP`` (a first run does not write to everyone who ever missed one)."""
    now = now or utcnow()
    with db.uow() as uow:
        mark_no_shows(uow, now=now, grace_minutes=grace_minutes, batch=batch)

    def plan(row: Row) -> Plan:
        ended: dt.datetime = row.session_end_at
        key = f"no_show:{row.id}"
        return appointment_plan(row, key, NO_SHOW, row.starts_at, now, useful_until=ended + NO_SHOW_FOLLOW_UP)

    return plan_all(db, notifier, _no_shows(), {"since": now - NO_SHOW_FOLLOW_UP}, plan, now, batch)


@dataclass(frozen=True)
class Plan:
    """What one claimed row gets: a reminder row, sent unless ``skip`` says why not."""

    key: str
    kind: str
    subject: AppointmentView | ReExamView
    hospital_id: int
    patient_id: int
    appointment_id: int | None
    re_exam_id: int | None
    target_at: dt.datetime
    due_at: dt.datetime
    useful_until: dt.datetime
    skip: str = ""


def appointment_plan(row: Row, key: str, kind: str, target_at: dt.datetime, due_at: dt.datetime, **kw: Any) -> Plan:
    view = AppointmentView.from_row(row)
    return Plan(key, kind, view, row.hospital_id, row.patient_id, row.id, None, target_at, due_at, **kw)


def plan_all(
    db: Database,
    notifier: Notifier,
    statement: Select,
    params: dict[str, object],
    plan: Callable[[Row], Plan],
    now: dt.datetime,
    batch: int,
) -> int:
    """Claim ``statement``'s rows batch by batch, each batch in one transaction with its reminders."""
    written = 0
    while True:
        with db.uow() as uow:
            rows = uow.session.execute(statement, {**params, "limit": batch}).all()
            if not rows:
                return written
            written += _write(uow, notifier, rows, [plan(row) for row in rows], now)
            uow.commit()
        if len(rows) < batch:
            return written


def _write(uow: UnitOfWork, notifier: Notifier, rows: Sequence[Row], plans: Sequence[Plan], now: dt.datetime) -> int:
    notices = [
        Notice(
            key=p.key,
            kind=p.kind,
            subject=p.subject,
            account_provider=row.account_provider,
            account_key=row.account_key,
            phone=row.phone,
            useful_until=p.useful_until,
        )
        for row, p in zip(rows, plans, strict=True)
        if not p.skip
    ]
    deliveries = iter(notifier.queue(uow, notices, now) if notices else [])
    records = []
    for p in plans:
        delivery = Delivery(ReminderOutcome.SKIPPED, p.skip) if p.skip else next(deliveries)
        records.append(
            {
                "key": p.key,
                "kind": p.kind,
                "hospital_id": p.hospital_id,
                "patient_id": p.patient_id,
                "appointment_id": p.appointment_id,
                "re_exam_id": p.re_exam_id,
                "target_at": p.target_at,
                "due_at": p.due_at,
                "created_at": now,
                "outcome": delivery.outcome.value,
                "reason": delivery.reason[:200],
                "message_key": delivery.message_key,
            }
        )
    dialect = uow.session.get_bind().dialect.name
    # Rows another planner wrote first (it claimed them just before these were read) are not counted; their
    # messages were not queued twice either: the outbox's idempotency keys are the reminders' keys.
    written = uow.session.execute(
        insert_ignoring_conflicts(dialect, REMINDERS, ["key"]).returning(REMINDERS.c.id), records
    )
    return len(written.all())


def _claimable(query: Select) -> Select:
    """An appointment query with what a notice needs, the oldest first, claimed in batches."""
    return (
        query.add_columns(
            APPOINTMENTS.c.created_at,
            APPOINTMENTS.c.session_end_at,
            PATIENTS.c.phone,
            ACCOUNTS.c.provider.label("account_provider"),
            ACCOUNTS.c.external_id.label("account_key"),
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == PATIENTS.c.account_id)
        .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
        .limit(bindparam("limit"))
        .with_for_update(of=APPOINTMENTS, skip_locked=True)
    )


@functools.cache
def _no_shows() -> Select:
    """Visits missed since ``since`` whose patient has not had the no-show message."""
    sent = exists().where(REMINDERS.c.appointment_id == APPOINTMENTS.c.id, REMINDERS.c.kind == NO_SHOW)
    return _claimable(
        AppointmentView.query().where(
            APPOINTMENTS.c.status == AppointmentStatus.NO_SHOW.value,
            APPOINTMENTS.c.session_end_at > bindparam("since"),
            ~sent,
        )
    )


@functools.cache  # one statement per kind: SQLAlchemy then reuses its cache key and compiled SQL
def _due(kind: ReminderKind) -> Select:
    """Booked appointments starting within ``kind.before`` of now with no ``kind`` reminder for their start."""
    planned = exists().where(
        REMINDERS.c.appointment_id == APPOINTMENTS.c.id,
        REMINDERS.c.kind == kind.name,
        REMINDERS.c.target_at == APPOINTMENTS.c.starts_at,
    )
    return _claimable(
        AppointmentView.query().where(
            and_(
                APPOINTMENTS.c.status == AppointmentStatus.BOOKED.value,
                APPOINTMENTS.c.starts_at > bindparam("now"),
                APPOINTMENTS.c.starts_at <= bindparam("horizon"),
                ~planned,
            )
        )
    )
