"""After an import: the bookable services of its visits join their hospital's service names
(core.booking.services), so a patient who names a service the hospital did is booked into its department."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from core.booking.services import BOOKABLE_GROUPS, learn_his_services
from core.uow import Database

from .models import Service, Visit


def learn_from_import(db: Database, import_id: int) -> int:
    """The names added from the visits (current versions) that the import ``import_id`` stored."""
    query = (
        select(Visit.hospital_id, Service.name, Service.group, Service.department)
        .join(Visit, Visit.id == Service.visit_id)
        .where(
            Visit.import_id == import_id,
            Visit.hospital_id.is_not(None),
            Visit.superseded_at.is_(None),
            Service.group.in_(sorted(BOOKABLE_GROUPS)),
        )
        .distinct()
    )
    with db.uow() as uow:
        by_hospital: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for hospital_id, name, group, department in uow.session.execute(query):
            by_hospital[hospital_id].append((name, group, department))
        added = sum(learn_his_services(uow, hospital_id, rows) for hospital_id, rows in by_hospital.items())
        uow.commit()
    return added
