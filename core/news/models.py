"""Persistent news subscriptions: one row per account, hospital and topic; cancelling keeps the row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
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
