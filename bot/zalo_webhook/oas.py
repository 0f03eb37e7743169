"""The OAs this deployment serves: their secrets from the settings, their rows (and tokens) in the database."""

from __future__ import annotations

from sqlalchemy import select

from core.booking.models import Hospital
from core.config import Settings, ZaloOASettings
from core.db import insert_ignoring_conflicts
from core.uow import UnitOfWork

from .models import ZaloOA


class OARegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._by_oa_id = {oa.oa_id: oa for oa in settings.zalo_oas}

    def get(self, oa_id: str) -> ZaloOASettings | None:
        return self._by_oa_id.get(oa_id)

    def serves(self, app_id: str, oa_id: str) -> bool:
        """Whether ``oa_id`` is an OA served here, linked to the Zalo app ``app_id``."""
        oa = self._by_oa_id.get(oa_id)
        return oa is not None and oa.app_id == app_id

    def of_app(self, app_id: str) -> list[ZaloOASettings]:
        """The OAs served here through the Zalo app ``app_id`` (none: not our app)."""
        return [oa for oa in self._by_oa_id.values() if oa.app_id == app_id]

    def __iter__(self):
        return iter(self._by_oa_id.values())

    def sync(self, uow: UnitOfWork) -> int:
        """Create the database row of every configured OA that has none (with its first refresh token) and
        keep app id and hospital in step with the settings. Returns how many rows were created."""
        created = 0
        session = uow.session
        add_if_missing = insert_ignoring_conflicts(session.get_bind().dialect.name, ZaloOA.__table__, ["oa_id"])
        for oa in self:
            hospital_id = session.scalar(select(Hospital.id).where(Hospital.slug == oa.hospital))
            # Processes starting together all sync: the unique oa_id, not a prior SELECT, decides who adds it.
            created += (
                session.execute(
                    add_if_missing.returning(ZaloOA.__table__.c.id),
                    {
                        "oa_id": oa.oa_id,
                        "app_id": oa.app_id,
                        "refresh_token": oa.refresh_token or None,
                        "buttons_refused": False,
                    },
                ).first()
                is not None
            )
            row = session.scalars(select(ZaloOA).where(ZaloOA.oa_id == oa.oa_id).with_for_update()).one()
            row.app_id = oa.app_id
            row.hospital_id = hospital_id
            if not row.refresh_token and oa.refresh_token:
                row.refresh_token = oa.refresh_token
        uow.commit()
        return created


def hospital_of(uow: UnitOfWork, oa_id: str) -> str | None:
    """The slug of the hospital the OA ``oa_id`` speaks for; None when it serves every hospital here (or is
    unknown)."""
    return uow.session.scalar(
        select(Hospital.slug).join(ZaloOA, ZaloOA.hospital_id == Hospital.id).where(ZaloOA.oa_id == oa_id)
    )


def hospital_id_of(uow: UnitOfWork, oa_id: str) -> int | None:
    """The id of the hospital the OA ``oa_id`` speaks for (None: every hospital, or unknown)."""
    return uow.session.scalar(select(ZaloOA.hospital_id).where(ZaloOA.oa_id == oa_id))
