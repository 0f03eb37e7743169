"""Health-education broadcasts: the scheduler's step that sends campaigns, and the follower-tag mirror.

``run_campaigns`` is one job step (the scheduler calls it every few seconds or minutes):

1. A scheduled campaign whose send time has come is expanded into one row per recipient (unique per campaign,
   OA and user) and starts running.
2. Outside the night ban (22:00-06:00 Vietnamese time, and a few minutes before it: see
   ``news_night_margin_minutes``) the next batch of pending recipients of the running campaigns is claimed
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and decided: skipped with the reason when the user unsubscribed
   (from the topic, or from all the hospital's news with "hủy nhận tin"), no longer follows the OA (a followers
   campaign) or has reached the frequency cap (``news_monthly_cap`` broadcasts in ``news_cap_window_days``,
   not counting those that failed or could not be delivered);
   otherwise the message goes to the outbox under the key ``campaign:<id>:<oa>:<user>`` (purpose ``news``),
   in the same transaction that marks the row queued. A restart, a crash or a second scheduler can therefore
   never send a recipient twice: the row, and the outbox key, are unique.
3. The sender delivers the outbox at the app's rate limit. New batches are queued only while fewer than one
   batch of broadcast messages is still waiting in the outbox, so a pause or a cancel takes effect within a
   batch and the night ban is not overrun by a backlog; should one message still be unsent at 22:00, its
   ``useful_until`` (22:00) makes the sender drop it (failed, with the reason) rather than send it at night.
4. A running campaign with no pending recipient left is completed.

A paused campaign keeps its pending recipients until resumed; a cancelled one has them skipped.

Subscriptions by topic are mirrored to Zalo follower tags (``tin_<topic>``, or ``tin_<hospital>_<topic>`` on
an OA that serves several hospitals) by ``mirror_tags``: ``run_campaigns`` runs it every
``news_tag_sync_minutes``. What Zalo holds is recorded per subscription (``news_tag_mirror``), so only
changes are sent, and tagging twice is harmless anyway.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, text, update

from core.booking.models import Account, Appointment, Hospital, Patient
from core.config import Settings
from core.db import insert_ignoring_conflicts
from core.news.campaigns import (
    SKIP_NOT_FOLLOWER,
    SKIP_OPTED_OUT,
    SKIP_UNSUBSCRIBED,
    compose,
)
from core.news.models import (
    CAMPAIGNS,
    RECIPIENTS,
    TAG_MIRROR,
    Campaign,
    CampaignStatus,
    NewsSubscription,
    RecipientStatus,
    TargetKind,
)
from core.timeutil import to_local, utcnow
from core.uow import Database, UnitOfWork

from . import outbox
from .accounts import PROVIDER, split_key
from .client import ZaloApiError, ZaloClient, ZaloTransportError
from .messages import OutgoingMessage
from .models import Conversation, OutboundMessage, WorkStatus, ZaloOA
from .oas import OARegistry
from .ratelimit import RateLimiter
from .runtime import zalo_access
from .tokens import TokenManager, TokenUnavailable
from .window import NIGHT_END, NIGHT_START

log = logging.getLogger(__name__)

PURPOSE = "news"
SENDING_LOCK_KEY = 0x6E657773  # "news": the advisory lock of queueing broadcasts (one per database)
CHUNK = 500  # rows per INSERT / IN (...) list
TAG_BATCH = 100
TAG_RETRY = dt.timedelta(minutes=5)  # after a transient failure (network, token, rate limit), doubling
TAG_RETRY_MAX = dt.timedelta(hours=6)
TAG_REFUSED_RETRY = dt.timedelta(days=1)  # after Zalo refused (e.g. not a follower)

_OPEN_NEWS = text("zalo_outbox.status IN ('pending', 'processing')")  # literal: matches the partial index
_NOT_RECEIVED = (WorkStatus.FAILED.value, WorkStatus.UNDELIVERABLE.value)
_last_tag_sync: dict[str, dt.datetime] = {}  # database URL -> last mirror run of this process


def message_key(campaign_id: int, oa_id: str, user_id: str) -> str:
    return f"campaign:{campaign_id}:{oa_id}:{user_id}"


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


def run_campaigns(db: Database, settings: Settings, now: dt.datetime | None = None, batch: int = 500) -> int:
    """One scheduler step: start due campaigns, queue the next batch of recipients, complete finished campaigns,
    and mirror subscriptions to follower tags when that is due. Returns how many rows it handled (recipients
    expanded or decided, campaigns completed, subscriptions mirrored); 0 when there was nothing to do."""
    now = now or utcnow()
    handled = 0
    allowed = sending_allowed(now, settings.news_night_margin_minutes)
    if _has_campaign_work(db, now, running_too=allowed):
        with db.uow() as uow:
            handled += _start_due(uow, now)
            if allowed:
                handled += _send_next(uow, settings, now, batch)
            handled += _complete_finished(uow, now)
            uow.commit()
    if _tag_sync_due(db, settings, now):
        handled += mirror_tags(db, settings, now=now)
    return handled


# --- campaigns --------------------------------------------------------------------------------------------------
def _has_campaign_work(db: Database, now: dt.datetime, *, running_too: bool) -> bool:
    """The idle check: one indexed look-up, in a reader (no write lock taken on SQLite). A due scheduled
    campaign is work at any hour (it is expanded and held); a running one only when sending is allowed."""
    due = and_(CAMPAIGNS.c.status == CampaignStatus.SCHEDULED.value, CAMPAIGNS.c.send_at <= now)
    condition = or_(due, CAMPAIGNS.c.status == CampaignStatus.RUNNING.value) if running_too else due
    with db.reader() as uow:
        return uow.session.scalar(select(CAMPAIGNS.c.id).where(condition).limit(1)) is not None


def _start_due(uow: UnitOfWork, now: dt.datetime) -> int:
    session = uow.session
    due = session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.SCHEDULED.value, Campaign.send_at <= now)
        .order_by(Campaign.send_at, Campaign.id)
        .with_for_update(skip_locked=True)
    ).all()
    expanded = 0
    for campaign in due:
        rows = list(_audience(uow, campaign))
        insert = insert_ignoring_conflicts(
            session.get_bind().dialect.name, RECIPIENTS, ["campaign_id", "oa_id", "user_id"]
        )
        for chunk in _chunks(rows, CHUNK):
            session.execute(
                insert,
                [
                    {
                        "campaign_id": campaign.id,
                        "oa_id": oa_id,
                        "user_id": user_id,
                        "account_id": account_id,
                        "status": RecipientStatus.PENDING.value,
                        "reason": "",
                    }
                    for oa_id, user_id, account_id in chunk
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


def _audience(uow: UnitOfWork, campaign: Campaign) -> Iterable[tuple[str, str, int | None]]:
    """(oa_id, user_id, account_id) of every Zalo user the target names, each once. A topic's audience includes
    its cancelled subscriptions: they are skipped as unsubscribed, so the status view accounts for them."""
    session = uow.session
    if campaign.target_kind == TargetKind.FOLLOWERS:
        users = session.scalars(
            select(Conversation.user_id)
            .where(Conversation.oa_id == campaign.target_oa_id, Conversation.follower.is_(True))
            .order_by(Conversation.id)
        )
        yield from ((campaign.target_oa_id or "", user_id, None) for user_id in users)
        return
    if campaign.target_kind == TargetKind.TOPIC:
        accounts = session.execute(
            select(Account.id, Account.external_id)
            .join(NewsSubscription, NewsSubscription.account_id == Account.id)
            .where(
                NewsSubscription.hospital_id == campaign.hospital_id,
                NewsSubscription.topic == campaign.target_topic,
                Account.provider == PROVIDER,
            )
            .order_by(NewsSubscription.id)
        )
    else:  # patients: Zalo accounts with an appointment at the hospital (any status)
        accounts = session.execute(
            select(Account.id, Account.external_id)
            .where(
                Account.provider == PROVIDER,
                exists().where(
                    Patient.account_id == Account.id,
                    Appointment.patient_id == Patient.id,
                    Appointment.hospital_id == campaign.hospital_id,
                ),
            )
            .order_by(Account.id)
        )
    for account_id, external_id in accounts:
        pair = split_key(external_id)
        if pair and len(pair[0]) <= 40 and len(pair[1]) <= 40:
            yield pair[0], pair[1], account_id


def _sending_lock(uow: UnitOfWork) -> bool:
    """One transaction at a time queues broadcasts (PostgreSQL: a transaction-level advisory lock, taken without
    waiting; SQLite: its write lock already serialises them). Recipient rows are also claimed with SKIP LOCKED,
    so even without this lock nobody is sent twice; the lock keeps two campaigns reaching the same user in
    parallel transactions from both passing the frequency cap."""
    if uow.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(uow.session.scalar(select(func.pg_try_advisory_xact_lock(SENDING_LOCK_KEY))))


def _open_broadcasts(uow: UnitOfWork, limit: int) -> int:
    """How many broadcast messages still wait in the outbox (counted up to ``limit``)."""
    table = OutboundMessage.__table__
    waiting = select(table.c.id).where(_OPEN_NEWS, table.c.purpose == PURPOSE).limit(limit).subquery()
    return uow.session.scalar(select(func.count()).select_from(waiting)) or 0


def _send_next(uow: UnitOfWork, settings: Settings, now: dt.datetime, batch: int) -> int:
    if not _sending_lock(uow):
        return 0  # another scheduler is queueing broadcasts right now: the frequency cap counts stay exact
    room = batch - _open_broadcasts(uow, batch)
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
        handled += _send_batch(uow, settings, campaign, now, room - handled)
    return handled


@dataclass(frozen=True)
class _Pending:
    id: int
    oa_id: str
    user_id: str
    account_id: int | None


def _send_batch(uow: UnitOfWork, settings: Settings, campaign: Campaign, now: dt.datetime, limit: int) -> int:
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
    accounts = _accounts_of(uow, rows)
    reasons = _opted_out(uow, campaign, rows, accounts)
    if campaign.target_kind == TargetKind.FOLLOWERS:
        following = _still_following(uow, campaign.target_oa_id or "", [r.user_id for r in rows if r.id not in reasons])
        reasons.update({r.id: SKIP_NOT_FOLLOWER for r in rows if r.id not in reasons and r.user_id not in following})
    candidates = [r for r in rows if r.id not in reasons]
    recent = _recent_broadcasts(uow, candidates, now - dt.timedelta(days=settings.news_cap_window_days))
    cap = settings.news_monthly_cap
    cap_reason = f"frequency cap: {cap} broadcasts in {settings.news_cap_window_days} days"
    message = OutgoingMessage(compose(campaign.title, campaign.text, campaign.image_url, campaign.link_url))
    nightfall = night_starts(now)  # a message the sender has not sent by then is dropped, never sent at night
    queued: list[dict[str, Any]] = []
    for row in candidates:
        if recent.get((row.oa_id, row.user_id), 0) >= cap:
            reasons[row.id] = cap_reason
            continue
        key = message_key(campaign.id, row.oa_id, row.user_id)
        outbox.enqueue(
            uow,
            oa_id=row.oa_id,
            user_id=row.user_id,
            message=message,
            key=key,
            purpose=PURPOSE,
            now=now,
            useful_until=nightfall,
        )
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


def _accounts_of(uow: UnitOfWork, rows: Sequence[_Pending]) -> dict[int, int]:
    """recipient id -> account id (stored at expansion, else looked up by the Zalo user's external id)."""
    found = {r.id: r.account_id for r in rows if r.account_id is not None}
    wanted = {f"{r.oa_id}:{r.user_id}": r.id for r in rows if r.account_id is None}
    for chunk in _chunks(list(wanted), CHUNK):
        for account_id, external_id in uow.session.execute(
            select(Account.id, Account.external_id).where(Account.provider == PROVIDER, Account.external_id.in_(chunk))
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
        for chunk in _chunks(account_ids, CHUNK):
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
    for chunk in _chunks(account_ids, CHUNK):
        opted_out.update(
            uow.session.scalars(
                select(subs.c.account_id)
                .where(subs.c.hospital_id == campaign.hospital_id, subs.c.account_id.in_(chunk))
                .group_by(subs.c.account_id)
                .having(func.sum(case((subs.c.cancelled_at.is_(None), 1), else_=0)) == 0)
            )
        )
    return {r.id: SKIP_OPTED_OUT for r in rows if accounts.get(r.id) in opted_out}


def _still_following(uow: UnitOfWork, oa_id: str, user_ids: list[str]) -> set[str]:
    following: set[str] = set()
    for chunk in _chunks(user_ids, CHUNK):
        following.update(
            uow.session.scalars(
                select(Conversation.user_id).where(
                    Conversation.oa_id == oa_id, Conversation.user_id.in_(chunk), Conversation.follower.is_(True)
                )
            )
        )
    return following


def _recent_broadcasts(uow: UnitOfWork, rows: Sequence[_Pending], since: dt.datetime) -> dict[tuple[str, str], int]:
    """(oa_id, user_id) -> broadcasts queued to that user since ``since``, over every campaign, that did reach
    or may still reach them (one that failed or could not be delivered does not count against the cap)."""
    table = OutboundMessage.__table__
    counts: dict[tuple[str, str], int] = {}
    for oa_id in sorted({r.oa_id for r in rows}):
        users = sorted({r.user_id for r in rows if r.oa_id == oa_id})
        for chunk in _chunks(users, CHUNK):
            for user_id, n in uow.session.execute(
                select(RECIPIENTS.c.user_id, func.count())
                .select_from(RECIPIENTS.join(table, table.c.idempotency_key == RECIPIENTS.c.message_key))
                .where(
                    RECIPIENTS.c.oa_id == oa_id,
                    RECIPIENTS.c.user_id.in_(chunk),
                    RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
                    RECIPIENTS.c.queued_at > since,
                    table.c.status.not_in(_NOT_RECEIVED),
                )
                .group_by(RECIPIENTS.c.user_id)
            ):
                counts[(oa_id, user_id)] = n
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


# --- follower tags ----------------------------------------------------------------------------------------------
def tag_name(topic: str, hospital_slug: str | None = None) -> str:
    """The Zalo tag of a topic: ``tin_<topic>``; with the hospital's slug on an OA that serves several."""
    return (f"tin_{hospital_slug}_{topic}" if hospital_slug else f"tin_{topic}")[:100]


def _tag_sync_due(db: Database, settings: Settings, now: dt.datetime) -> bool:
    if settings.news_tag_sync_minutes <= 0:
        return False
    last = _last_tag_sync.get(db.url)
    if last is not None and last <= now < last + dt.timedelta(minutes=settings.news_tag_sync_minutes):
        return False
    _last_tag_sync[db.url] = now
    return True


@dataclass(frozen=True)
class _TagWork:
    subscription_id: int
    oa_id: str
    user_id: str
    tag: str
    want: bool  # tagged (subscription active) or not
    tagged: bool  # what Zalo holds as far as we know
    attempts: int


@dataclass(frozen=True)
class _TagOutcome:
    work: _TagWork
    error: str = ""
    retry_after: dt.timedelta | None = None


def mirror_tags(
    db: Database,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    limit: int = TAG_BATCH,
    client: ZaloClient | None = None,
) -> int:
    """Bring up to ``limit`` subscriptions' follower tags in line with the subscriptions: tag the user when the
    subscription is active and not tagged yet, untag when it is cancelled and still tagged. Zalo's calls are
    made outside any transaction; the outcome of each is recorded afterwards in one unit of work. Returns how
    many subscriptions it tried."""
    now = now or utcnow()
    work = _tag_work(db, now, limit)
    if not work:
        return 0
    access = zalo_access(settings, db, client=client)
    outcomes = [_mirror_one(item, access.registry, access.client, access.tokens, access.limiter) for item in work]
    _record_tags(db, outcomes, now)
    return len(outcomes)


def _tag_work(db: Database, now: dt.datetime, limit: int) -> list[_TagWork]:
    subs = NewsSubscription.__table__
    mirror = TAG_MIRROR
    active = subs.c.cancelled_at.is_(None)
    tagged = func.coalesce(mirror.c.tagged, False)
    with db.reader() as uow:
        rows = uow.session.execute(
            select(
                subs.c.id,
                subs.c.topic,
                subs.c.hospital_id,
                active.label("want"),
                tagged.label("tagged"),
                func.coalesce(mirror.c.attempts, 0).label("attempts"),
                mirror.c.tag,
                Account.external_id,
            )
            .select_from(subs)
            .join(Account, and_(Account.id == subs.c.account_id, Account.provider == PROVIDER))
            .outerjoin(mirror, mirror.c.subscription_id == subs.c.id)
            .where(
                or_(and_(active, tagged.is_(False)), and_(~active, tagged.is_(True))),
                or_(mirror.c.next_attempt_at.is_(None), mirror.c.next_attempt_at <= now),
            )
            .order_by(subs.c.id)
            .limit(limit)
        ).all()
        if not rows:
            return []
        oa_hospital = dict(uow.session.execute(select(ZaloOA.oa_id, ZaloOA.hospital_id)).all())
        slugs = dict(uow.session.execute(select(Hospital.id, Hospital.slug)).all())
    work = []
    for row in rows:
        pair = split_key(row.external_id)
        if pair is None:
            continue
        oa_id, user_id = pair
        shared_oa = oa_id in oa_hospital and oa_hospital[oa_id] is None
        tag = row.tag or tag_name(row.topic, slugs.get(row.hospital_id) if shared_oa else None)
        work.append(_TagWork(row.id, oa_id, user_id, tag, bool(row.want), bool(row.tagged), int(row.attempts)))
    return work


def _mirror_one(
    item: _TagWork, registry: OARegistry, client: ZaloClient, tokens: TokenManager, limiter: RateLimiter
) -> _TagOutcome:
    oa = registry.get(item.oa_id)
    if oa is None:
        return _TagOutcome(item, f"OA {item.oa_id} is not configured", TAG_REFUSED_RETRY)
    transient = min(TAG_RETRY_MAX, TAG_RETRY * 2 ** min(item.attempts, 10))
    token = ""
    try:
        token = tokens.access_token(item.oa_id)
        limiter.take(oa.app_id)
        if item.want:
            client.tag_follower(token, item.user_id, item.tag)
        else:
            client.untag_follower(token, item.user_id, item.tag)
        return _TagOutcome(item)
    except ZaloApiError as error:
        if error.token_problem:
            with contextlib.suppress(TokenUnavailable):
                tokens.after_rejection(item.oa_id, token)
            return _TagOutcome(item, str(error), transient)
        return _TagOutcome(item, str(error), transient if error.retryable else TAG_REFUSED_RETRY)
    except (ZaloTransportError, TokenUnavailable) as error:
        return _TagOutcome(item, str(error), transient)


def _record_tags(db: Database, outcomes: list[_TagOutcome], now: dt.datetime) -> None:
    with db.uow() as uow:
        session = uow.session
        add = insert_ignoring_conflicts(session.get_bind().dialect.name, TAG_MIRROR, ["subscription_id"])
        for outcome in outcomes:
            item = outcome.work
            session.execute(
                add,
                {
                    "subscription_id": item.subscription_id,
                    "oa_id": item.oa_id,
                    "user_id": item.user_id,
                    "tag": item.tag,
                    "tagged": False,
                    "attempts": 0,
                    "last_error": "",
                },
            )
            if outcome.retry_after is None:
                values: dict[str, Any] = {
                    "tagged": item.want,
                    "tag": item.tag,
                    "attempts": 0,
                    "last_error": "",
                    "next_attempt_at": None,
                    "synced_at": now,
                }
            else:
                values = {
                    "attempts": item.attempts + 1,
                    "last_error": outcome.error[:300],
                    "next_attempt_at": now + outcome.retry_after,
                }
                log.warning("tag %s of %s: %s", item.tag, item.user_id, outcome.error)
            session.execute(
                update(TAG_MIRROR).where(TAG_MIRROR.c.subscription_id == item.subscription_id).values(**values)
            )
        uow.commit()


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
