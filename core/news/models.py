"""Persistent news subscriptions (one row per account, hospital and topic; cancelling keeps the row) and broadcast
campaigns with one row per recipient. (The mirror of subscriptions in Zalo's follower tags is the channel's:
``bot.zalo_webhook.models.NewsTagMirror``.)"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.timeutil import utcnow


class NewsSubscription(Base):
    """An account's opt-in to a hospital's news on one topic. ``cancelled_at`` set = opted out; subscribing
    again clears it (the row, and so the unique key, stays)."""

    __tablename__ = "news_subscriptions"
    __table_args__ = (
        UniqueConstraint("account_id", "hospital_id", "topic"),
        # A broadcast reads the subscribers of one topic of one hospital.
        Index("ix_news_subscriptions_hospital_topic", "hospital_id", "topic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    topic: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()


NEWS_SUBSCRIPTIONS = NewsSubscription.__table__


class CampaignStatus(enum.StrEnum):
    """Life of a campaign: scheduled until its send time, then running until every recipient is decided."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TargetKind(enum.StrEnum):
    FOLLOWERS = "followers"  # every follower of one OA
    TOPIC = "topic"  # the subscribers of one news topic of the hospital
    PATIENTS = "patients"  # the Zalo accounts that have had an appointment at the hospital


class RecipientStatus(enum.StrEnum):
    PENDING = "pending"  # expanded from the target, not decided yet
    QUEUED = "queued"  # handed to the Zalo outbox (its row there says whether it was delivered)
    SKIPPED = "skipped"  # not sent: ``reason`` says why (unsubscribed, frequency cap, cancelled ...)


class Campaign(Base):
    """A health-education broadcast defined by hospital staff: what to send, to whom, from when."""

    __tablename__ = "news_campaigns"
    __table_args__ = (
        # The scheduler's idle check reads the due scheduled campaigns and the running ones.
        Index("ix_news_campaigns_status_send_at", "status", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(500))
    link_url: Mapped[str | None] = mapped_column(String(500))
    target_kind: Mapped[str] = mapped_column(String(12))
    target_oa_id: Mapped[str | None] = mapped_column(String(40))  # followers: the OA
    target_topic: Mapped[str | None] = mapped_column(String(40))  # topic: the topic slug
    send_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default=CampaignStatus.SCHEDULED.value)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column()  # the target was expanded into recipients
    finished_at: Mapped[dt.datetime | None] = mapped_column()  # completed or cancelled
    paused_at: Mapped[dt.datetime | None] = mapped_column()
    recipients_total: Mapped[int] = mapped_column(default=0)


class CampaignRecipient(Base):
    """One Zalo user (OA + user id) a campaign is for: unique per campaign, so each gets it at most once."""

    __tablename__ = "news_campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "oa_id", "user_id"),
        # The next batch of a campaign: its pending recipients in id order.
        Index("ix_news_campaign_recipients_campaign_status", "campaign_id", "status", "id"),
        # The frequency cap: what a user was sent lately, over every campaign.
        Index("ix_news_campaign_recipients_user_queued", "oa_id", "user_id", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("news_campaigns.id"))
    oa_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(10), default=RecipientStatus.PENDING.value)
    reason: Mapped[str] = mapped_column(String(200), default="")
    message_key: Mapped[str | None] = mapped_column(String(200))  # the outbox idempotency key, once queued
    queued_at: Mapped[dt.datetime | None] = mapped_column()
    decided_at: Mapped[dt.datetime | None] = mapped_column()


CAMPAIGNS = Campaign.__table__
RECIPIENTS = CampaignRecipient.__table__
