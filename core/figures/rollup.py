"""The daily roll-up: every hospital's figures of one local day, computed from the source tables and stored in
``daily_figures`` (replacing that day's rows: running it again gives the same rows).

Run by the scheduler every ~15 minutes for today and once a night, when the day is settled (no-shows marked),
for yesterday; :func:`roll_up` may also be called for any past day (a backfill, the bench).

What each metric counts (the page says the same in Vietnamese):
- ``arrivals`` (dim: booking channel): booked appointments of the day that came (checked in or completed);
- ``his_visits``: the visits the hospital's HIS exports say happened that day (current, not withdrawn); where a
  hospital has imports these are all its visits, else the check-ins are (the report chooses, per hospital);
- ``bookings`` (dim: channel) and ``bookings_dept`` (dim: department id): appointments made that day;
- ``due`` / ``no_show`` (dim: confirmed | reminded | none): appointments of the day whose outcome is known (came
  or missed), split by whether the patient confirmed (the reminder's button), only got a reminder, or neither;
- ``reception_s`` (dim: "staff_id|desk"): histogram of seconds from the desk's look-up to the check-in, and
  ``reception_all`` the same for the whole hospital (what the province reads: a few buckets, not one set per desk);
- ``lead_days``: histogram of days from the booking to the visit, for the arrivals of the day;
- ``reminders`` (dim: chat | zns | pending | undeliverable) and ``undeliverable`` (dim: reason): reminders due
  that day and what became of them;
- the assistant (from the channel port): ``conversations``, ``conversations_booked``, ``user_messages``,
  ``not_understood``, ``handoffs``, ``first_reply_s`` (histogram of seconds).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, insert, literal, select

from core.booking.models import APPOINTMENTS, HOSPITALS
from core.booking.vocabulary import AppointmentStatus
from core.emr.models import Visit
from core.reminders.models import REMINDERS, ReminderOutcome
from core.staff.models import ReceptionTiming
from core.timeutil import local_to_utc, local_today, to_local, utcnow
from core.uow import Database, UnitOfWork

from .channel import ChannelFigures
from .histogram import days_bucket, seconds_bucket
from .models import DAILY_FIGURES

ARRIVED = (AppointmentStatus.CHECKED_IN.value, AppointmentStatus.COMPLETED.value)
SETTLED = (*ARRIVED, AppointmentStatus.NO_SHOW.value)
CORE_METRICS = (
    "arrivals",
    "his_visits",
    "bookings",
    "bookings_dept",
    "due",
    "no_show",
    "reception_s",
    "reception_all",
    "lead_days",
    "reminders",
    "undeliverable",
)
CHANNEL_METRICS = (
    "conversations",
    "conversations_booked",
    "user_messages",
    "not_understood",
    "handoffs",
    "first_reply_s",
)
FINAL = "_final"  # a marker row per hospital: the day was rolled up once it was settled
DAY, WEEK, MONTH = "day", "week", "month"  # the grains of the rows
MAX_DIM = 120

Key = tuple[int, str, str, int]  # hospital, metric, dim, bucket


@dataclass(frozen=True)
class RollUpResult:
    day: dt.date
    rows: int
    hospitals: int


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants the local ``day`` starts and ends at."""
    return local_to_utc(day, dt.time()), local_to_utc(day + dt.timedelta(days=1), dt.time())


def week_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def roll_up(
    uow: UnitOfWork,
    day: dt.date,
    channel: ChannelFigures | None = None,
    *,
    final: bool = False,
    refresh_periods: bool = True,
) -> RollUpResult:
    """Compute and store every hospital's figures of local ``day`` (the caller commits), then its week's and
    month's sums (unless ``refresh_periods`` is False: a backfill refreshes each period once, at its end).
    Without ``channel`` the assistant's figures of the day are left as they are."""
    start, end = day_bounds(day)
    counts: Counter[Key] = Counter()
    session = uow.session
    hospital_ids = list(session.scalars(select(HOSPITALS.c.id)))
    _appointments_of_day(uow, day, counts)
    _bookings_made(uow, start, end, counts)
    _reception(uow, hospital_ids, start, end, counts)
    _his_visits(uow, hospital_ids, start, end, counts)
    _reminders(uow, start, end, channel, counts)
    metrics = list(CORE_METRICS)
    if channel is not None:
        metrics += CHANNEL_METRICS
        _assistant(uow, start, end, channel, counts)
    if final:
        metrics.append(FINAL)
        for hospital_id in hospital_ids:
            counts[(hospital_id, FINAL, "", 0)] = 1
    known = set(hospital_ids)
    rows = [
        {
            "hospital_id": hospital_id,
            "grain": DAY,
            "day": day,
            "week": week_of(day),
            "month": month_of(day),
            "metric": metric,
            "dim": dim[:MAX_DIM],
            "bucket": bucket,
            "value": value,
        }
        for (hospital_id, metric, dim, bucket), value in sorted(counts.items())
        if value and hospital_id in known
    ]
    f = DAILY_FIGURES
    session.execute(delete(f).where(f.c.grain == DAY, f.c.day == day, f.c.metric.in_(metrics)))
    if rows:
        session.execute(insert(f), rows)
    if refresh_periods:
        refresh_period(uow, WEEK, week_of(day))
        refresh_period(uow, MONTH, month_of(day))
    return RollUpResult(day=day, rows=len(rows), hospitals=len(hospital_ids))


def period_end(grain: str, start: dt.date) -> dt.date:
    """The last day of the week or month that starts on ``start``."""
    if grain == WEEK:
        return start + dt.timedelta(days=6)
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def refresh_period(uow: UnitOfWork, grain: str, start: dt.date) -> None:
    """Replace the ``grain`` ("week" or "month") rows starting on ``start`` by the sums of its day rows."""
    f = DAILY_FIGURES
    session = uow.session
    session.execute(delete(f).where(f.c.grain == grain, f.c.day == start))
    sums = (
        select(
            f.c.hospital_id,
            literal(grain),
            literal(start),
            literal(week_of(start)),
            literal(month_of(start)),
            f.c.metric,
            f.c.dim,
            f.c.bucket,
            func.sum(f.c.value),
        )
        .where(f.c.grain == DAY, f.c.day >= start, f.c.day <= period_end(grain, start), f.c.metric != FINAL)
        .group_by(f.c.hospital_id, f.c.metric, f.c.dim, f.c.bucket)
    )
    columns = ["hospital_id", "grain", "day", "week", "month", "metric", "dim", "bucket", "value"]
    session.execute(insert(f).from_select(columns, sums))


def _appointments_of_day(uow: UnitOfWork, day: dt.date, counts: Counter[Key]) -> None:
    a = APPOINTMENTS
    reminded = exists().where(REMINDERS.c.appointment_id == a.c.id, REMINDERS.c.outcome == ReminderOutcome.QUEUED.value)
    query = select(a.c.hospital_id, a.c.status, a.c.channel, a.c.created_at, a.c.confirmed_at, reminded).where(
        a.c.day == day, a.c.status.in_(SETTLED)
    )
    for hospital_id, status, channel, created_at, confirmed_at, was_reminded in uow.session.execute(query):
        group = "confirmed" if confirmed_at is not None else "reminded" if was_reminded else "none"
        counts[(hospital_id, "due", group, 0)] += 1
        if status == AppointmentStatus.NO_SHOW.value:
            counts[(hospital_id, "no_show", group, 0)] += 1
            continue
        counts[(hospital_id, "arrivals", channel, 0)] += 1
        lead = (day - to_local(created_at).date()).days
        counts[(hospital_id, "lead_days", "", days_bucket(lead))] += 1


def _bookings_made(uow: UnitOfWork, start: dt.datetime, end: dt.datetime, counts: Counter[Key]) -> None:
    a = APPOINTMENTS
    query = select(a.c.hospital_id, a.c.channel, a.c.department_id).where(a.c.created_at >= start, a.c.created_at < end)
    for hospital_id, channel, department_id in uow.session.execute(query):
        counts[(hospital_id, "bookings", channel, 0)] += 1
        counts[(hospital_id, "bookings_dept", str(department_id), 0)] += 1


def _reception(
    uow: UnitOfWork, hospital_ids: list[int], start: dt.datetime, end: dt.datetime, counts: Counter[Key]
) -> None:
    t = ReceptionTiming.__table__
    # By hospital, so that the (hospital_id, checked_in_at) index serves the day's range in each.
    query = select(t.c.hospital_id, t.c.staff_id, t.c.desk, t.c.looked_up_at, t.c.checked_in_at).where(
        t.c.hospital_id.in_(hospital_ids), t.c.checked_in_at >= start, t.c.checked_in_at < end
    )
    for hospital_id, staff_id, desk, looked_up_at, checked_in_at in uow.session.execute(query):
        seconds = (checked_in_at - looked_up_at).total_seconds()
        dim = f"{staff_id or ''}|{desk or ''}"
        counts[(hospital_id, "reception_s", dim, seconds_bucket(seconds))] += 1
        counts[(hospital_id, "reception_all", "", seconds_bucket(seconds))] += 1


def _his_visits(
    uow: UnitOfWork, hospital_ids: list[int], start: dt.datetime, end: dt.datetime, counts: Counter[Key]
) -> None:
    v = Visit.__table__
    query = select(v.c.hospital_id).where(
        and_(
            v.c.hospital_id.in_(hospital_ids),
            v.c.superseded_at.is_(None),
            v.c.cancelled_at.is_(None),
            v.c.arrived_at >= start,
            v.c.arrived_at < end,
        )
    )
    for (hospital_id,) in uow.session.execute(query):
        counts[(hospital_id, "his_visits", "", 0)] += 1


def _reminders(
    uow: UnitOfWork, start: dt.datetime, end: dt.datetime, channel: ChannelFigures | None, counts: Counter[Key]
) -> None:
    r = REMINDERS
    query = select(r.c.hospital_id, r.c.outcome, r.c.reason, r.c.message_key).where(
        r.c.due_at >= start, r.c.due_at < end, r.c.outcome != ReminderOutcome.SKIPPED.value
    )
    found = list(uow.session.execute(query))
    keys = [row.message_key for row in found if row.outcome == ReminderOutcome.QUEUED.value and row.message_key]
    deliveries = channel.deliveries(uow, keys) if channel is not None and keys else {}
    for hospital_id, outcome, reason, message_key in found:
        if outcome == ReminderOutcome.UNDELIVERABLE.value:
            counts[(hospital_id, "reminders", "undeliverable", 0)] += 1
            counts[(hospital_id, "undeliverable", reason or "", 0)] += 1
            continue
        delivery = deliveries.get(message_key or "")
        if delivery is None or delivery.status == "pending":
            counts[(hospital_id, "reminders", "pending", 0)] += 1
        elif delivery.status == "sent":
            counts[(hospital_id, "reminders", delivery.channel or "chat", 0)] += 1
        else:
            counts[(hospital_id, "reminders", "undeliverable", 0)] += 1
            counts[(hospital_id, "undeliverable", delivery.reason, 0)] += 1


def _assistant(
    uow: UnitOfWork, start: dt.datetime, end: dt.datetime, channel: ChannelFigures, counts: Counter[Key]
) -> None:
    for hospital_id, numbers in channel.assistant_days(uow, start, end).items():
        counts[(hospital_id, "conversations", "", 0)] += numbers.conversations
        counts[(hospital_id, "conversations_booked", "", 0)] += numbers.booked
        counts[(hospital_id, "user_messages", "", 0)] += numbers.user_messages
        counts[(hospital_id, "not_understood", "", 0)] += numbers.not_understood
        counts[(hospital_id, "handoffs", "", 0)] += numbers.handoffs
        for seconds in numbers.first_reply_seconds:
            counts[(hospital_id, "first_reply_s", "", seconds_bucket(seconds))] += 1


# --- the scheduler's jobs --------------------------------------------------------------------------------------
def roll_up_today(db: Database, channel: ChannelFigures | None, now: dt.datetime | None = None) -> RollUpResult:
    """Today's figures so far (the scheduler runs it every ~15 minutes)."""
    day = local_today(now or utcnow())
    with db.uow() as uow:
        result = roll_up(uow, day, channel)
        uow.commit()
    return result


def roll_up_settled_days(
    db: Database,
    channel: ChannelFigures | None,
    *,
    settle_minutes: int,
    back_days: int = 3,
    now: dt.datetime | None = None,
) -> list[RollUpResult]:
    """Roll up, once, each of the last ``back_days`` days that is settled (``settle_minutes`` after its end, so
    the no-show marking has run) and not yet rolled up as settled: the nightly run, which a scheduler that was
    down catches up on. Derived from the marker rows, so a new leader carries on."""
    now = now or utcnow()
    done: list[RollUpResult] = []
    today = local_today(now)
    for back in range(back_days, 0, -1):
        day = today - dt.timedelta(days=back)
        if now < day_bounds(day)[1] + dt.timedelta(minutes=settle_minutes):
            continue
        with db.uow() as uow:
            if _is_final(uow, day):
                continue
            done.append(roll_up(uow, day, channel, final=True))
            uow.commit()
    return done


def _is_final(uow: UnitOfWork, day: dt.date) -> bool:
    f = DAILY_FIGURES
    hospitals = set(uow.session.scalars(select(HOSPITALS.c.id)))
    marked = set(
        uow.session.scalars(select(f.c.hospital_id).where(f.c.grain == DAY, f.c.day == day, f.c.metric == FINAL))
    )
    return hospitals <= marked


def roll_up_range(
    db: Database, first: dt.date, last: dt.date, channel: ChannelFigures | None = None
) -> Iterable[RollUpResult]:
    """Every day from ``first`` to ``last`` (a backfill), one transaction per day; each week's and month's sums
    once, after its last day in the range."""
    day = first
    today = local_today()
    while day <= last:
        with db.uow() as uow:
            result = roll_up(uow, day, channel, final=day < today, refresh_periods=False)
            following = day + dt.timedelta(days=1)
            if following > last or following.weekday() == 0:
                refresh_period(uow, WEEK, week_of(day))
            if following > last or following.day == 1:
                refresh_period(uow, MONTH, month_of(day))
            uow.commit()
        yield result
        day += dt.timedelta(days=1)
