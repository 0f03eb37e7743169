"""Visits the facility withdraws: the record keeps them, marked cancelled, and they remind nobody."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from core import tenancy
from core.booking.views import View
from core.errors import NotFound
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .models import Visit
from .reexam_sync import sync_visit

log = logging.getLogger(__name__)


class VisitCancellation(View):
    facility_code: str
    visit_key: str  # MA_LK
    version: int  # the current version, the one marked cancelled
    cancelled_at: dt.datetime
    re_exams_cancelled: int  # re-exam dates of the visit that no longer remind anyone (0 when cancelled before)


def cancel_visit(
    uow: UnitOfWork,
    facility_code: str,
    visit_key: str,
    *,
    hospital_id: int | None = None,
    now: dt.datetime | None = None,
) -> VisitCancellation:
    """Mark the current version of the visit cancelled and cancel its re-exam dates (no more reminders); a
    client confined to a hospital cancels only that hospital's visits. Cancelling twice is harmless."""
    now = now or utcnow()
    facility_code, visit_key = facility_code.strip(), visit_key.strip()
    visit = uow.session.scalar(
        select(Visit)
        .where(Visit.facility_code == facility_code, Visit.visit_key == visit_key, Visit.superseded_at.is_(None))
        .with_for_update()
    )
    if visit is None:
        raise NotFound(
            "no such visit", "Dạ, em không tìm thấy lượt khám này ạ.", facility_code=facility_code, visit_key=visit_key
        )
    tenancy.ensure_same_hospital(uow, visit.hospital_id, "visit", hospital_id)
    if visit.cancelled_at is None:
        visit.cancelled_at = now
    done = sync_visit(uow.session, visit.id, now)
    view = VisitCancellation(
        facility_code=visit.facility_code,
        visit_key=visit.visit_key,
        version=visit.version,
        cancelled_at=visit.cancelled_at,
        re_exams_cancelled=len(done.cancelled),
    )
    uow.commit()
    log.info("emr visit %s cancelled (%d re-exam dates cancelled)", visit.id, len(done.cancelled))
    return view
