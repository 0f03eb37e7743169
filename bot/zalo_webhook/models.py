"""Persistent state of the Zalo channel: OAs and their tokens, the inbox, conversations, the outbox."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

# The tables this module's foreign keys point at, mapped in every process that imports it (a worker or a sender
# imports no more than it runs, and a key to an unmapped table fails at the first flush).
import core.news.models  # (news_subscriptions: NewsTagMirror.subscription_id)
import core.staff.models  # noqa: F401  (staff_accounts: Conversation.taken_by_staff_id)
from core.db import Base
from core.timeutil import utcnow


class WorkStatus(enum.StrEnum):
    """Life of an inbox event or an outbox message. ``processing`` rows carry a lease: a worker that dies
    leaves them to be claimed again when the lease runs out."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"  # inbox: handled; outbox: sent
    FAILED = "failed"  # stopped on a permanent error (the reason is stored)
    UNDELIVERABLE = "undeliverable"  # outbox: no channel may reach the user (the reason is stored)


OPEN = (WorkStatus.PENDING.value, WorkStatus.PROCESSING.value)
_OPEN_SQL = text("status IN ('pending', 'processing')")
_WAITING_SQL = text("needs_staff")


class ConversationMode(enum.StrEnum):
    BOT = "bot"
    HUMAN = "human"


class ZaloOA(Base):
    """An OA served by this deployment. Its secrets come from the environment; its tokens live here because
    Zalo rotates them (every refresh returns a new pair and kills the old refresh token)."""

    __tablename__ = "zalo_oas"

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(40), unique=True)
    app_id: Mapped[str] = mapped_column(String(40), index=True)
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[dt.datetime | None] = mapped_column()
    token_refreshed_at: Mapped[dt.datetime | None] = mapped_column()
    # Learned when Zalo refuses a button template (-201): menus then go out as numbered text only.
    buttons_refused: Mapped[bool] = mapped_column(default=False)


class InboundEvent(Base):
    """One webhook delivery as Zalo sent it; unique per OA and message id (or a derived key)."""

    __tablename__ = "zalo_inbox"
    __table_args__ = (
        UniqueConstraint("oa_id", "event_key"),
        # The claim walks the open events oldest first and checks each user's earlier open ones (claims.py);
        # partial indexes keep both cheap however many handled events the table holds.
        Index("ix_zalo_inbox_open", "oa_id", "user_id", "id", postgresql_where=_OPEN_SQL, sqlite_where=_OPEN_SQL),
        Index("ix_zalo_inbox_open_by_id", "id", postgresql_where=_OPEN_SQL, sqlite_where=_OPEN_SQL),
        # One user's events, for the staff inbox's transcript (staff_inbox.py).
        Index("ix_zalo_inbox_user", "oa_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(200))
    event_name: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the request body as received (UTF-8)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(14), default=WorkStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    processed_at: Mapped[dt.datetime | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(300), default="")


class Conversation(Base):
    """One Zalo user of one OA: bot or human mode, hand-off, the last interaction (the sending window)."""

    __tablename__ = "zalo_conversations"
    __table_args__ = (
        UniqueConstraint("oa_id", "user_id"),
        # The staff inbox's waiting list: the few conversations flagged for staff, per OA (staff_inbox.py).
        Index(
            "ix_zalo_conversations_waiting",
            "oa_id",
            "needs_staff_since",
            postgresql_where=_WAITING_SQL,
            sqlite_where=_WAITING_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(10), default=ConversationMode.BOT.value)
    mode_reason: Mapped[str] = mapped_column(String(200), default="")
    mode_changed_at: Mapped[dt.datetime | None] = mapped_column()
    human_until: Mapped[dt.datetime | None] = mapped_column()  # None in human mode: until staff hand back
    needs_staff: Mapped[bool] = mapped_column(default=False)
    staff_reason: Mapped[str] = mapped_column(String(200), default="")
    needs_staff_since: Mapped[dt.datetime | None] = mapped_column()  # when it joined the staff queue
    # Who of the staff is answering it (the console's inbox), since when; cleared when handed back.
    taken_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    taken_at: Mapped[dt.datetime | None] = mapped_column()
    follower: Mapped[bool] = mapped_column(default=False)
    followed_at: Mapped[dt.datetime | None] = mapped_column()
    unfollowed_at: Mapped[dt.datetime | None] = mapped_column()
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, shared through Zalo's request-info card
    display_name: Mapped[str] = mapped_column(String(120), default="")
    last_interaction_at: Mapped[dt.datetime | None] = mapped_column()
    last_menu: Mapped[str | None] = mapped_column(Text)  # JSON list of the payloads of the last numbered menu
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundMessage(Base):
    """One message to send, unique by its idempotency key; sent at most once by any number of senders."""

    __tablename__ = "zalo_outbox"
    __table_args__ = (
        Index("ix_zalo_outbox_open", "oa_id", "user_id", "id", postgresql_where=_OPEN_SQL, sqlite_where=_OPEN_SQL),
        Index("ix_zalo_outbox_open_by_id", "id", postgresql_where=_OPEN_SQL, sqlite_where=_OPEN_SQL),
        # An oa_send_* echo is ours when Zalo gave us its msg_id (processing.py: staff replies).
        Index("ix_zalo_outbox_message_id", "oa_id", "zalo_message_id"),
        # One user's messages, for the staff inbox's transcript (staff_inbox.py).
        Index("ix_zalo_outbox_user", "oa_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))  # None: a ZNS message to a phone only
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, for the ZNS fallback
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(String(30))  # reply, welcome, reminder, ... (selects the ZNS template)
    body: Mapped[str] = mapped_column(Text)  # JSON of messages.OutgoingMessage
    status: Mapped[str] = mapped_column(String(14), default=WorkStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    useful_until: Mapped[dt.datetime | None] = mapped_column()  # not worth sending after this (e.g. the visit)
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    channel: Mapped[str | None] = mapped_column(String(10))  # cs (chat) or zns, once decided
    zalo_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()


class RateBucket(Base):
    """A token bucket per Zalo app, shared by every sender process through the database."""

    __tablename__ = "zalo_rate_buckets"

    app_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column()


class NewsTagMirror(Base):
    """What Zalo's follower tags hold for one subscription, as far as we know: a subscription active here and
    not ``tagged`` there (or cancelled here and still tagged) is work for the tag mirror."""

    __tablename__ = "news_tag_mirror"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("news_subscriptions.id"), unique=True)
    oa_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(40))
    tag: Mapped[str] = mapped_column(String(100))
    tagged: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)  # failed attempts since the last success
    last_error: Mapped[str] = mapped_column(String(300), default="")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()  # after a failure: not before this
    synced_at: Mapped[dt.datetime | None] = mapped_column()


TAG_MIRROR = NewsTagMirror.__table__
