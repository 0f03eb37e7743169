"""API clients (kiosk, mini app, HIS) and their keys with scopes.

Keys are 32 random bytes, so a fast SHA-256 digest is a safe stored form (a slow password hash such as
argon2 protects low-entropy secrets and would cost milliseconds on every API request for nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.booking.catalogue import find_hospital
from core.db import Base
from core.errors import Conflict, InvalidInput
from core.timeutil import utcnow
from core.uow import UnitOfWork

SCOPES = {
    "book": "create patient profiles and book, cancel, reschedule their appointments (acting for an account)",
    "read": "read any appointment of the hospital",
    "checkin": "check patients in at the desk or a kiosk",
    "staff": "act for the hospital: any appointment, cancel by hospital, mark complete",
}
DEFAULT_SCOPES = {
    "mini_app": ["book"],
    "kiosk": ["checkin", "read"],
    "his": ["read", "checkin", "staff"],
    "admin": sorted(SCOPES),
}
KEY_PREFIX = "hk_"


class ApiKey(Base):
    """A key of one API client; only a digest of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    client_kind: Mapped[str] = mapped_column(String(20))
    key_prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class ApiClient(BaseModel):
    """The authenticated caller of an API request."""

    id: int
    name: str
    kind: str
    scopes: list[str]
    hospital_id: int | None

    @property
    def account_provider(self) -> str:
        return f"api:{self.name}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    uow: UnitOfWork,
    *,
    name: str,
    kind: str,
    scopes: list[str] | None = None,
    hospital_slug: str | None = None,
) -> str:
    """Create a client key and return it; it is shown once and cannot be recovered."""
    if kind not in DEFAULT_SCOPES:
        raise InvalidInput(f"kind must be one of {', '.join(DEFAULT_SCOPES)}", "Loại ứng dụng không hợp lệ.")
    chosen = sorted(set(scopes or DEFAULT_SCOPES[kind]))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise InvalidInput(f"unknown scope(s): {', '.join(unknown)}", "Quyền truy cập không hợp lệ.")
    if uow.session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API client named {name!r} already exists", "Tên ứng dụng đã tồn tại.")
    hospital_id = find_hospital(uow, hospital_slug).id if hospital_slug else None
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    uow.session.add(
        ApiKey(
            name=name,
            client_kind=kind,
            key_prefix=key[:10],
            key_hash=_digest(key),
            scopes=" ".join(chosen),
            hospital_id=hospital_id,
        )
    )
    uow.commit()
    return key


def authenticate(uow: UnitOfWork, key: str) -> ApiClient | None:
    row = uow.session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(key), ApiKey.revoked_at.is_(None)))
    if row is None:
        return None
    return ApiClient(
        id=row.id, name=row.name, kind=row.client_kind, scopes=row.scopes.split(), hospital_id=row.hospital_id
    )
