"""The Zalo channel's side of data-subject requests: a request made through Zalo (the ``user_withdraw`` event,
"rút lại đồng ý" in chat) is written into core's table (core/emr/subject_requests.py) with the OA's hospital,
so that the hospital's records staff see it with its 2-working-day deadline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.booking.patients import find_account
from core.emr import subject_requests
from core.uow import UnitOfWork

from .accounts import PROVIDER, account_key
from .models import ZaloOA


def record_zalo_request(
    uow: UnitOfWork, oa_id: str, user_id: str, kind: str, *, detail: str = "", now: dt.datetime | None = None
) -> subject_requests.DataSubjectRequest:
    """Add the request of the Zalo user (``oa_id``, ``user_id``) to ``uow``; the caller commits."""
    hospital_id = uow.session.scalar(select(ZaloOA.hospital_id).where(ZaloOA.oa_id == oa_id))
    return subject_requests.record_request(
        uow,
        kind=kind,
        oa_id=oa_id,
        user_id=user_id,
        hospital_id=hospital_id,
        account_id=find_account(uow, PROVIDER, account_key(oa_id, user_id)),
        channel="zalo",
        detail=detail,
        now=now,
    )
