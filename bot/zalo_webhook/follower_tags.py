"""Subscriptions by topic mirrored to Zalo follower tags (``tin_<topic>``, or ``tin_<hospital>_<topic>`` on an OA
that serves several hospitals): ``run_campaigns`` runs ``mirror_tags`` every ``news_tag_sync_minutes``. What
Zalo holds is recorded per subscription (``news_tag_mirror``), so only changes are sent, and tagging twice is
harmless anyway."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from core.booking.models import Account, Hospital
from core.config import Settings
from core.db import insert_ignoring_conflicts
from core.news.models import NewsSubscription
from core.timeutil import utcnow
from core.uow import Database

from .accounts import PROVIDER, split_key
from .client import ZaloApiError, ZaloClient, ZaloTransportError
from .models import TAG_MIRROR, ZaloOA
from .oas import OARegistry
from .ratelimit import RateLimiter
from .runtime import zalo_access
from .tokens import TokenManager, TokenUnavailable

log = logging.getLogger(__name__)

TAG_BATCH = 100
TAG_RETRY = dt.timedelta(minutes=5)  # after a transient failure (network, token, rate limit), doubling
TAG_RETRY_MAX = dt.timedelta(hours=6)
TAG_REFUSED_RETRY = dt.timedelta(days=1)  # after Zalo refused (e.g. not a follower)

_last_tag_sync: dict[str, dt.datetime] = {}  # database URL -> last mirror run of this process


def tag_name(topic: str, hospital_slug: str | None = None) -> str:
    """The Zalo tag of a topic: ``tin_<topic>``; with the hospital's slug on an OA that serves several."""
    return (f"tin_{hospital_slug}_{topic}" if hospital_slug else f"tin_{topic}")[:100]


def sync_due(db: Database, settings: Settings, now: dt.datetime) -> bool:
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
