"""The Zalo channel's side of ``core.news`` (its ``CampaignChannel``): the OAs a campaign may be sent from and
their followers, Zalo account keys, and the broadcast messages in the Zalo outbox (purpose ``news``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, text, update

from core.news.delivery import Broadcast, Outcome, OutcomeCount, SenderAccount
from core.uow import UnitOfWork

from . import accounts, outbox
from .messages import OutgoingMessage
from .models import OPEN, Conversation, OutboundMessage, WorkStatus, ZaloOA

PURPOSE = "news"
_OUTBOX = OutboundMessage.__table__
_OPEN_NEWS = text("zalo_outbox.status IN ('pending', 'processing')")  # literal: matches the partial index
_NOT_RECEIVED = (WorkStatus.FAILED.value, WorkStatus.UNDELIVERABLE.value)


class ZaloCampaignChannel:
    provider = accounts.PROVIDER

    def account_key(self, address: str, user_id: str) -> str:
        return accounts.account_key(address, user_id)

    def recipient_of(self, account_key: str) -> tuple[str, str] | None:
        return accounts.split_key(account_key)

    def followers(self, uow: UnitOfWork, address: str) -> Iterable[str]:
        return uow.session.scalars(
            select(Conversation.user_id)
            .where(Conversation.oa_id == address, Conversation.follower.is_(True))
            .order_by(Conversation.id)
        )

    def still_following(self, uow: UnitOfWork, address: str, user_ids: Sequence[str]) -> set[str]:
        return set(
            uow.session.scalars(
                select(Conversation.user_id).where(
                    Conversation.oa_id == address, Conversation.user_id.in_(user_ids), Conversation.follower.is_(True)
                )
            )
        )

    def waiting(self, uow: UnitOfWork, limit: int) -> int:
        open_news = select(_OUTBOX.c.id).where(_OPEN_NEWS, _OUTBOX.c.purpose == PURPOSE).limit(limit).subquery()
        return uow.session.scalar(select(func.count()).select_from(open_news)) or 0

    def queue(self, uow: UnitOfWork, broadcast: Broadcast, now: dt.datetime) -> None:
        outbox.enqueue(
            uow,
            oa_id=broadcast.address,
            user_id=broadcast.user_id,
            message=OutgoingMessage(broadcast.text),
            key=broadcast.key,
            purpose=PURPOSE,
            now=now,
            useful_until=broadcast.useful_until,
        )

    def may_reach(self, key: ColumnElement[str]) -> ColumnElement[bool]:
        return exists().where(_OUTBOX.c.idempotency_key == key, _OUTBOX.c.status.not_in(_NOT_RECEIVED))

    def sender(self, uow: UnitOfWork, address: str) -> SenderAccount | None:
        oa = uow.session.execute(select(ZaloOA.hospital_id).where(ZaloOA.oa_id == address)).first()
        return None if oa is None else SenderAccount(address, oa.hospital_id)

    def outcomes(self, uow: UnitOfWork, keys: Select) -> list[OutcomeCount]:
        rows = uow.session.execute(
            select(_OUTBOX.c.status, _OUTBOX.c.last_error, func.count())
            .where(_OUTBOX.c.idempotency_key.in_(keys))
            .group_by(_OUTBOX.c.status, _OUTBOX.c.last_error)
        ).all()
        counts = []
        for state, error, n in rows:
            if state == WorkStatus.DONE:
                counts.append(OutcomeCount(Outcome.SENT, "", n))
            elif state in OPEN:
                counts.append(OutcomeCount(Outcome.SENDING, "", n))
            else:
                counts.append(OutcomeCount(Outcome.FAILED, (error or state).strip(), n))
        return counts

    def failures(self, uow: UnitOfWork, keys: Select, limit: int) -> list[tuple[str, str]]:
        rows = uow.session.execute(
            select(_OUTBOX.c.idempotency_key, _OUTBOX.c.status, _OUTBOX.c.last_error)
            .where(_OUTBOX.c.idempotency_key.in_(keys), _OUTBOX.c.status.not_in((*OPEN, WorkStatus.DONE.value)))
            .order_by(_OUTBOX.c.id)
            .limit(limit)
        ).all()
        return [(key, (error or state).strip()) for key, state, error in rows]

    def senders(self, uow: UnitOfWork, hospital_id: int) -> list[SenderAccount]:
        rows = uow.session.execute(
            select(ZaloOA.oa_id, ZaloOA.hospital_id)
            .where(or_(ZaloOA.hospital_id == hospital_id, ZaloOA.hospital_id.is_(None)))
            .order_by(ZaloOA.id)
        ).all()
        return [SenderAccount(oa_id, owner) for oa_id, owner in rows]

    def withdraw(self, uow: UnitOfWork, keys: Select, reason: str) -> list[str]:
        return list(
            uow.session.scalars(
                update(_OUTBOX)
                .where(
                    _OUTBOX.c.idempotency_key.in_(keys),
                    _OUTBOX.c.status == WorkStatus.PENDING.value,
                    _OUTBOX.c.attempts == 0,
                )
                .values(status=WorkStatus.FAILED.value, last_error=reason)
                .returning(_OUTBOX.c.idempotency_key)
            ).all()
        )
