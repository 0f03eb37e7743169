"""The OAs this deployment serves: their secrets from the settings, their rows (and tokens) in the database."""

from __future__ import annotations

from sqlalchemy import select

from core.booking.models import Hospital
from core.config import Settings, ZaloOASettings
from core.uow import UnitOfWork

from .models import ZaloOA


class OARegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._by_oa_id = {oa.oa_id: oa for oa in settings.zalo_oas}

    def get(self, oa_id: str) -> ZaloOASettings | None:
        return self._by_oa_id.get(oa_id)

    def __iter__(self):
        return iter(self._by_oa_id.values())

    def sync(self, uow: UnitOfWork) -> int:
        """Create the database row of every configured OA that has none (with its first refresh token) and
        keep app id and hospital in step with the settings. Returns how many rows were created."""
        created = 0
        for oa in self:
            hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == oa.hospital))
            row = uow.session.scalar(select(ZaloOA).where(ZaloOA.oa_id == oa.oa_id))
            if row is None:
                row = ZaloOA(oa_id=oa.oa_id, app_id=oa.app_id, refresh_token=oa.refresh_token or None)
                uow.session.add(row)
                created += 1
            row.app_id = oa.app_id
            row.hospital_id = hospital_id
            if not row.refresh_token and oa.refresh_token:
                row.refresh_token = oa.refresh_token
        uow.commit()
        return created
