"""The staff action log: one appended row per action a staff member takes in the console."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from core.timeutil import utcnow
from core.uow import UnitOfWork

from .models import StaffAction

_INSERT = insert(StaffAction.__table__)


def record_action(
    uow: UnitOfWork,
    staff_id: int | None,
    hospital_id: int | None,
    action: str,
    target_kind: str = "",
    target_id: str | int = "",
    detail: str = "",
    *,
    now: dt.datetime | None = None,
) -> None:
    """Append the row of one action (joins the unit of work's transaction; a reader writes it aside)."""
    uow.write_aside(
        _INSERT,
        [
            {
                "at": now or utcnow(),
                "staff_id": staff_id,
                "hospital_id": hospital_id,
                "action": action[:40],
                "target_kind": target_kind[:30],
                "target_id": str(target_id)[:40],
                "detail": detail or None,
            }
        ],
    )


def recent_actions(uow: UnitOfWork, hospital_id: int | None, limit: int = 100) -> list[StaffAction]:
    """The newest actions taken in a hospital (every hospital with None), newest first."""
    statement = select(StaffAction).order_by(StaffAction.at.desc(), StaffAction.id.desc()).limit(limit)
    if hospital_id is not None:
        statement = statement.where(StaffAction.hospital_id == hospital_id)
    return list(uow.session.scalars(statement))
