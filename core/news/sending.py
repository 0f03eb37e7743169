"""The campaigns' scheduler step: start due campaigns, decide and hand over the next batch, complete finished ones.

``run_step`` is one step (the channel's scheduler job calls it every few seconds or minutes):

1. A scheduled campaign whose send time has come is expanded into one row per recipient (unique per campaign,
   address and user) and starts running.
2. Outside the night ban (22:00-06:00 Vietnamese time, and a few minutes before it: see
   ``news_night_margin_minutes``) the next batch of pending recipients of the running campaigns is claimed
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and decided: skipped with the reason when the user unsubscribed
   (from the topic, or from all the hospital's news with "hủy nhận tin"), no longer follows the sender account
   (a followers campaign) or has reached the frequency cap (``news_monthly_cap`` broadcasts in
   ``news_cap_window_days``, not counting those that failed or could not be delivered); otherwise the message
   is handed to the channel under the key ``campaign:<id>:<address>:<user>``, in the same transaction that
   marks the row queued. A restart, a crash or a second scheduler can therefore never send a recipient twice:
   the row, and the channel's key, are unique.
3. The channel delivers at its own pace. New batches are handed over only while fewer than one batch of
   broadcast messages still waits in the channel, so a pause or a cancel takes effect within a batch and the
   night ban is not overrun by a backlog; should one message still be unsent at 22:00, its ``useful_until``
   (22:00) makes the channel drop it (failed, with the reason) rather than send it at night.
4. A running campaign with no pending recipient left is completed.

A paused campaign keeps its pending recipients until resumed; a cancelled one has them skipped. What is the
channel's (who follows an account, its queue, whether a message reached the user) is asked of it through the
``core.news.delivery.CampaignChannel`` port.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update

from core import tenancy
from core.booking.models import Account, Appointment, Patient
from core.config import Settings
from core.db import insert_ignoring_conflicts
from core.timeutil import NIGHT_END, NIGHT_START, to_local
from core.uow import Database, UnitOfWork

from .campaigns import SKIP_NOT_FOLLOWER, SKIP_OPTED_OUT, SKIP_UNSUBSCRIBED, chunks, compose
from .delivery import Broadcast, CampaignChannel
from .models import CAMPAIGNS, RECIPIENTS, Campaign, CampaignStatus, NewsSubscription, RecipientStatus, TargetKind

log = logging.getLogger(__name__)

SENDING_LOCK_KEY = 0x6E657773  # "news": the advisory lock of queueing broadcasts (one per database)
CHUNK = 500  # rows per INSERT / IN (...) list


def message_key(campaign_id: int, address: str, user_id: str) -> str:
    return f"campaign:{campaign_id}:{address}:{user_id}"


def sending_allowed(now: dt.datetime, margin_minutes: int = 0) -> bool:
    """Whether broadcasts may be queued at ``now``: from 06:00 to ``margin_minutes`` before 22:00, local time."""
    local = to_local(now)
    start_of_night = dt.datetime.combine(local.date(), NIGHT_START, tzinfo=local.tzinfo)
    stop = start_of_night - dt.timedelta(minutes=margin_minutes)
    morning = dt.datetime.combine(local.date(), NIGHT_END, tzinfo=local.tzinfo)
    return morning <= local < stop


def night_starts(now: dt.datetime) -> dt.datetime:
    """The next start of the night ban (22:00 local) at or after ``now``, in UTC."""
    local = to_local(now)
    night = dt.datetime.combine(local.date(), NIGHT_START, tzinfo=local.tzinfo)
    if local >= night:
        night += dt.timedelta(days=1)
    return night.astimezone(dt.UTC)


def run_step(db: Database, channel: CampaignChannel, settings: Settings, now: dt.datetime, batch: int = 500) -> int:
    """Start due campaigns, queue the next batch of recipients, complete finished campaigns. Returns how many
    rows it handled (recipients expanded or decided, campaigns completed); 0 when there was nothing to do."""
    handled = 0
    allowed = sending_allowed(now, settings.news_night_margin_minutes)
    if _has_campaign_work(db, now, running_too=allowed):
        with db.uow() as uow:
            handled += _start_due(uow, channel, now)
            if allowed:
                handled += _send_next(uow, channel, settings, now, batch)
            handled += _complete_finished(uow, now)
            uow.commit()
    return handled


def _has_campaign_work(db: Database, now: dt.datetime, *, running_too: bool) -> bool:
    """The idle check: one indexed look-up, in a reader (no write lock taken on SQLite). A due scheduled
    campaign is work at any hour (it is expanded and held); a running one only when sending is allowed."""
    due = and_(CAMPAIGNS.c.status == CampaignStatus.SCHEDULED.value, CAMPAIGNS.c.send_at <= now)
    condition = or_(due, CAMPAIGNS.c.status == CampaignStatus.RUNNING.value) if running_too else due
    with db.reader() as uow:
        return uow.session.scalar(select(CAMPAIGNS.c.id).where(condition).limit(1)) is not None


def _start_due(uow: UnitOfWork, channel: CampaignChannel, now: dt.datetime) -> int:
    session = uow.session
    due = session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.SCHEDULED.value, Campaign.send_at <= now)
        .order_by(Campaign.send_at, Campaign.id)
        .with_for_update(skip_locked=True)
    ).all()
    expanded = 0
    for campaign in due:
        rows = list(_audience(uow, channel, campaign))
        insert = insert_ignoring_conflicts(
            session.get_bind().dialect.name, RECIPIENTS, ["campaign_id", "oa_id", "user_id"]
        )
        for chunk in chunks(rows, CHUNK):
            session.execute(
                insert,
                [
                    {
                        "campaign_id": campaign.id,
                        "oa_id": address,
                        "user_id": user_id,
                        "account_id": account_id,
                        "status": RecipientStatus.PENDING.value,
                        "reason": "",
                    }
                    for address, user_id, account_id in chunk
                ],
            )
        campaign.recipients_total = session.scalar(
            select(func.count()).select_from(RECIPIENTS).where(RECIPIENTS.c.campaign_id == campaign.id)
        )
        campaign.status = CampaignStatus.RUNNING.value
        campaign.started_at = now
        expanded += campaign.recipients_total
        log.info("campaign %s started: %s recipients", campaign.id, campaign.recipients_total)
    session.flush()
    return expanded


def _audience(uow: UnitOfWork, channel: CampaignChannel, campaign: Campaign) -> Iterable[tuple[str, str, int | None]]:
    """(address, user_id, account_id) of every user the target names, each once. A topic's audience includes
    its cancelled subscriptions: they are skipped as unsubscribed, so the status view accounts for them."""
    session = uow.session
    if campaign.target_kind == TargetKind.FOLLOWERS:
        address = campaign.target_oa_id or ""
        yield from ((address, user_id, None) for user_id in channel.followers(uow, address))
        return
    if campaign.target_kind == TargetKind.TOPIC:
        accounts = session.execute(
            select(Account.id, Account.external_id)
            .join(NewsSubscription, NewsSubscription.account_id == Account.id)
            .where(
                NewsSubscription.hospital_id == campaign.hospital_id,
                NewsSubscription.topic == campaign.target_topic,
                Account.provider == channel.provider,
            )
            .order_by(NewsSubscription.id)
        )
    else:  # patients: the channel's accounts with an appointment at the hospital (any status)
        accounts = session.execute(
            select(Account.id, Account.external_id)
            .where(
                Account.provider == channel.provider,
                exists().where(
                    Patient.account_id == Account.id,
                    Appointment.patient_id == Patient.id,
                    Appointment.hospital_id == campaign.hospital_id,
                ),
            )
            .order_by(Account.id)
        )
    for account_id, external_id in accounts:
        pair = channel.recipient_of(external_id)
        if pair and len(pair[0]) <= 40 and len(pair[1]) <= 40:
            yield pair[0], pair[1], account_id


def audience_size(uow: UnitOfWork, channel: CampaignChannel, hospital_id: int, kind: str, value: str | None) -> int:
    """About how many users a target of ``hospital_id`` names today (for staff choosing it): a topic's active
    subscribers, the hospital's patients with an account of the channel, or an OA's followers. The send itself
    still skips who opted out or reached the frequency cap."""
    tenancy.ensure_same_hospital(uow, hospital_id, "hospital")
    session = uow.session
    if kind == TargetKind.FOLLOWERS:
        return sum(1 for _ in channel.followers(uow, value or ""))
    if kind == TargetKind.TOPIC:
        statement = (
            select(func.count())
            .select_from(NewsSubscription)
            .join(Account, NewsSubscription.account_id == Account.id)
            .where(
                NewsSubscription.hospital_id == hospital_id,
                NewsSubscription.topic == value,
                NewsSubscription.cancelled_at.is_(None),
                Account.provider == channel.provider,
            )
        )
    else:
        statement = select(func.count(Account.id)).where(
            Account.provider == channel.provider,
            exists().where(
                Patient.account_id == Account.id,
                Appointment.patient_id == Patient.id,
                Appointment.hospital_id == hospital_id,
            ),
        )
    return session.scalar(statement) or 0


def _sending_lock(uow: UnitOfWork) -> bool:
    """One transaction at a time queues broadcasts (PostgreSQL: a transaction-level advisory lock, taken without
    waiting; SQLite: its write lock already serialises them). Recipient rows are also claimed with SKIP LOCKED,
    so even without this lock nobody is sent twice; the lock keeps two campaigns reaching the same user in
    parallel transactions from both passing the frequency cap."""
    if uow.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(uow.session.scalar(select(func.pg_try_advisory_xact_lock(SENDING_LOCK_KEY))))


def _send_next(uow: UnitOfWork, channel: CampaignChannel, settings: Settings, now: dt.datetime, batch: int) -> int:
    if not _sending_lock(uow):
        return 0  # another scheduler is queueing broadcasts right now: the frequency cap counts stay exact
    room = batch - channel.waiting(uow, batch)
    if room <= 0:
        return 0
    campaigns = uow.session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.RUNNING.value)
        .order_by(Campaign.send_at, Campaign.id)
        .with_for_update(skip_locked=True)  # pause/cancel wait for this step; another scheduler takes the next one
    ).all()
    handled = 0
    for campaign in campaigns:
        if handled >= room:
            break
        handled += _send_batch(uow, channel, settings, campaign, now, room - handled)
    return handled


@dataclass(frozen=True)
class _Pending:
    id: int
    oa_id: str
    user_id: str
    account_id: int | None


def _send_batch(
    uow: UnitOfWork, channel: CampaignChannel, settings: Settings, campaign: Campaign, now: dt.datetime, limit: int
) -> int:
    session = uow.session
    rows = [
        _Pending(*row)
        for row in session.execute(
            select(RECIPIENTS.c.id, RECIPIENTS.c.oa_id, RECIPIENTS.c.user_id, RECIPIENTS.c.account_id)
            .where(RECIPIENTS.c.campaign_id == campaign.id, RECIPIENTS.c.status == RecipientStatus.PENDING.value)
            .order_by(RECIPIENTS.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ]
    if not rows:
        return 0
    accounts = _accounts_of(uow, channel, rows)
    reasons = _opted_out(uow, campaign, rows, accounts)
    if campaign.target_kind == TargetKind.FOLLOWERS:
        following = _still_following(
            uow, channel, campaign.target_oa_id or "", [r.user_id for r in rows if r.id not in reasons]
        )
        reasons.update({r.id: SKIP_NOT_FOLLOWER for r in rows if r.id not in reasons and r.user_id not in following})
    candidates = [r for r in rows if r.id not in reasons]
    recent = _recent_broadcasts(uow, channel, candidates, now - dt.timedelta(days=settings.news_cap_window_days))
    cap = settings.news_monthly_cap
    cap_reason = f"frequency cap: {cap} broadcasts in {settings.news_cap_window_days} days"
    text = compose(campaign.title, campaign.text, campaign.image_url, campaign.link_url)
    nightfall = night_starts(now)  # a message the channel has not sent by then is dropped, never sent at night
    queued: list[dict[str, Any]] = []
    for row in candidates:
        if recent.get((row.oa_id, row.user_id), 0) >= cap:
            reasons[row.id] = cap_reason
            continue
        key = message_key(campaign.id, row.oa_id, row.user_id)
        channel.queue(uow, Broadcast(row.oa_id, row.user_id, text, key, nightfall), now)
        queued.append({"rid": row.id, "key": key})
    if queued:
        session.execute(
            update(RECIPIENTS)
            .where(RECIPIENTS.c.id == bindparam("rid"))
            .values(status=RecipientStatus.QUEUED.value, message_key=bindparam("key"), queued_at=now, decided_at=now),
            queued,
        )
    if reasons:
        session.execute(
            update(RECIPIENTS)
            .where(RECIPIENTS.c.id == bindparam("rid"))
            .values(status=RecipientStatus.SKIPPED.value, reason=bindparam("why"), decided_at=now),
            [{"rid": rid, "why": why} for rid, why in reasons.items()],
        )
    log.info("campaign %s: %s queued, %s skipped", campaign.id, len(queued), len(reasons))
    return len(rows)


def _accounts_of(uow: UnitOfWork, channel: CampaignChannel, rows: Sequence[_Pending]) -> dict[int, int]:
    """recipient id -> account id (stored at expansion, else looked up by the channel's account key)."""
    found = {r.id: r.account_id for r in rows if r.account_id is not None}
    wanted = {channel.account_key(r.oa_id, r.user_id): r.id for r in rows if r.account_id is None}
    for chunk in chunks(list(wanted), CHUNK):
        for account_id, external_id in uow.session.execute(
            select(Account.id, Account.external_id).where(
                Account.provider == channel.provider, Account.external_id.in_(chunk)
            )
        ):
            found[wanted[external_id]] = account_id
    return found


def _opted_out(
    uow: UnitOfWork, campaign: Campaign, rows: Sequence[_Pending], accounts: dict[int, int]
) -> dict[int, str]:
    """recipient id -> reason, for those who do not want this campaign. A topic campaign goes to active
    subscribers of the topic only; the others go to everyone except who cancelled every subscription they had
    to the hospital's news ("hủy nhận tin")."""
    subs = NewsSubscription.__table__
    account_ids = sorted(set(accounts.values()))
    if campaign.target_kind == TargetKind.TOPIC:
        active: set[int] = set()
        for chunk in chunks(account_ids, CHUNK):
            active.update(
                uow.session.scalars(
                    select(subs.c.account_id).where(
                        subs.c.hospital_id == campaign.hospital_id,
                        subs.c.topic == campaign.target_topic,
                        subs.c.cancelled_at.is_(None),
                        subs.c.account_id.in_(chunk),
                    )
                )
            )
        return {r.id: SKIP_UNSUBSCRIBED for r in rows if accounts.get(r.id) not in active}
    opted_out: set[int] = set()
    for chunk in chunks(account_ids, CHUNK):
        opted_out.update(
            uow.session.scalars(
                select(subs.c.account_id)
                .where(subs.c.hospital_id == campaign.hospital_id, subs.c.account_id.in_(chunk))
                .group_by(subs.c.account_id)
                .having(func.sum(case((subs.c.cancelled_at.is_(None), 1), else_=0)) == 0)
            )
        )
    return {r.id: SKIP_OPTED_OUT for r in rows if accounts.get(r.id) in opted_out}


def _still_following(uow: UnitOfWork, channel: CampaignChannel, address: str, user_ids: list[str]) -> set[str]:
    following: set[str] = set()
    for chunk in chunks(user_ids, CHUNK):
        following.update(channel.still_following(uow, address, chunk))
    return following


def _recent_broadcasts(
    uow: UnitOfWork, channel: CampaignChannel, rows: Sequence[_Pending], since: dt.datetime
) -> dict[tuple[str, str], int]:
    """(address, user_id) -> broadcasts queued to that user since ``since``, over every campaign, that did reach
    or may still reach them (one that failed or could not be delivered does not count against the cap)."""
    counts: dict[tuple[str, str], int] = {}
    for address in sorted({r.oa_id for r in rows}):
        users = sorted({r.user_id for r in rows if r.oa_id == address})
        for chunk in chunks(users, CHUNK):
            for user_id, n in uow.session.execute(
                select(RECIPIENTS.c.user_id, func.count())
                .where(
                    RECIPIENTS.c.oa_id == address,
                    RECIPIENTS.c.user_id.in_(chunk),
                    RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
                    RECIPIENTS.c.queued_at > since,
                    channel.may_reach(RECIPIENTS.c.message_key),
                )
                .group_by(RECIPIENTS.c.user_id)
            ):
                counts[(address, user_id)] = n
    return counts


def _complete_finished(uow: UnitOfWork, now: dt.datetime) -> int:
    pending = exists().where(
        RECIPIENTS.c.campaign_id == CAMPAIGNS.c.id, RECIPIENTS.c.status == RecipientStatus.PENDING.value
    )
    running = CAMPAIGNS.c.status == CampaignStatus.RUNNING.value
    done = uow.session.scalars(select(CAMPAIGNS.c.id).where(running, ~pending).with_for_update(skip_locked=True)).all()
    if done:
        uow.session.execute(
            update(CAMPAIGNS)
            .where(CAMPAIGNS.c.id.in_(done), running)
            .values(status=CampaignStatus.COMPLETED.value, finished_at=now)
        )
    for campaign_id in done:
        log.info("campaign %s completed", campaign_id)
    return len(done)
