"""The Zalo channel's side of ``core.news.campaigns`` (its ``CampaignChannel``): the OAs a campaign may be sent
from, and what became of the broadcast messages in the Zalo outbox."""

from __future__ import annotations

from sqlalchemy import Select, func, select, update

from core.news.delivery import Outcome, OutcomeCount, SenderAccount
from core.uow import UnitOfWork

from .models import OPEN, OutboundMessage, WorkStatus, ZaloOA

_OUTBOX = OutboundMessage.__table__


class ZaloCampaignChannel:
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
