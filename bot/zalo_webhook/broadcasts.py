"""Health-education broadcasts on Zalo: the scheduler's step.

``run_campaigns`` is one job step (the scheduler calls it every few seconds or minutes): the campaigns' own step
(``core.news.sending.run_step``: start due campaigns, decide and queue the next batch into the Zalo outbox,
complete finished ones; the lifecycle, frequency cap and unsubscribe policy are core's), with this channel as
its ``CampaignChannel``, then the follower-tag mirror (``follower_tags.mirror_tags``) when that is due.
"""

from __future__ import annotations

import datetime as dt

from core.config import Settings
from core.news import sending
from core.news.delivery import CampaignChannel
from core.timeutil import utcnow
from core.uow import Database

from .campaign_channel import ZaloCampaignChannel
from .follower_tags import mirror_tags, sync_due


def run_campaigns(
    db: Database,
    settings: Settings,
    now: dt.datetime | None = None,
    batch: int = 500,
    *,
    channel: CampaignChannel | None = None,
) -> int:
    """One scheduler step: start due campaigns, queue the next batch of recipients, complete finished campaigns,
    and mirror subscriptions to follower tags when that is due. Returns how many rows it handled (recipients
    expanded or decided, campaigns completed, subscriptions mirrored); 0 when there was nothing to do."""
    now = now or utcnow()
    handled = sending.run_step(db, channel or ZaloCampaignChannel(), settings, now, batch)
    if sync_due(db, settings, now):
        handled += mirror_tags(db, settings, now=now)
    return handled
