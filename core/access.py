"""API clients (kiosk, mini app, HIS) and their keys with scopes.

Keys are 32 random bytes, so a fast SHA-256 digest is a safe stored form (a slow password hash such as
argon2 protects low-entropy secrets and would cost milliseconds on every API request for nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, bindparam, false, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from core.booking.catalogue import find_hospital
from core.booking.models import Hospital
from core.db import Base
from core.errors import Conflict, InvalidInput, NotFound
from core.timeutil import utcnow
from core.uow import UnitOfWork

SCOPES = {
    "book": "create patient profiles and book, cancel, reschedule their appointments (acting for an account)",
    "read": "read any appointment of the hospital",
    "checkin": "check patients in at the desk or a kiosk",
    "staff": "act for the hospital: any appointment, cancel by hospital, mark complete",
    "his": "the hospital information system: import clinical records, read them as FHIR, review person matches",
}
DEFAULT_SCOPES = {
    "mini_app": ["book"],
    "kiosk": ["checkin", "read"],
    "his": ["checkin", "his", "read", "staff"],
    "admin": sorted(SCOPES),
}
KEY_PREFIX = "hk_"
MAX_NAME = 60
# Kinds that act for end users they cannot prove: a Mini App runs on the user's phone, so its key is no secret
# and its users are identified by their Zalo access token only (never by a bare X-Henkham-Account).
UNTRUSTED_KINDS = {"mini_app"}
LAST_USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most this often per key


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
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    # A server-to-server client allowed to name the end user it acts for in X-Henkham-Account (set at creation).
    trusted_account_header: Mapped[bool] = mapped_column(default=False, server_default=false())


class ApiClient(BaseModel):
    """The authenticated caller of an API request."""

    id: int
    name: str
    kind: str
    scopes: list[str]
    hospital_id: int | None
    trusted_account_header: bool = False

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
    expires_at: dt.datetime | None = None,
    trusted_account_header: bool = False,
    now: dt.datetime | None = None,
) -> str:
    """Create a client key and return it; it is shown once and cannot be recovered.

    A kiosk must name its hospital; only a server-to-server client (not a Mini App) may be trusted to name its
    end users in a header; an expiry must lie in the future.
    """
    if kind not in DEFAULT_SCOPES:
        raise InvalidInput(f"kind must be one of {', '.join(DEFAULT_SCOPES)}", "Loại ứng dụng không hợp lệ.")
    if not 1 <= len(name) <= MAX_NAME or name != name.strip() or not name.isprintable():
        # the name also names the client's end-user accounts ("api:<name>", accounts.provider is 80 characters)
        raise InvalidInput(f"the name must be 1 to {MAX_NAME} printable characters", "Dạ, tên ứng dụng không hợp lệ ạ.")
    if kind == "kiosk" and not hospital_slug:
        raise InvalidInput(
            "a kiosk key must name its hospital (--hospital)", "Dạ, ki-ốt cần được gắn với một bệnh viện ạ."
        )
    if trusted_account_header and kind in UNTRUSTED_KINDS:
        raise InvalidInput(
            f"a {kind} key cannot be trusted with the account header: its users are identified by their Zalo token",
            "Dạ, ứng dụng Mini App phải xác thực người dùng bằng Zalo ạ.",
        )
    if expires_at is not None and expires_at <= (now or utcnow()):
        raise InvalidInput("the expiry must be in the future", "Dạ, ngày hết hạn phải ở tương lai ạ.")
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
            expires_at=expires_at,
            trusted_account_header=trusted_account_header,
        )
    )
    uow.commit()
    return key


class ApiKeyView(BaseModel):
    """What `henkham apikey list` shows of a key: never the key, only its first characters."""

    name: str
    kind: str
    key_prefix: str
    scopes: list[str]
    hospital: str | None
    trusted_account_header: bool
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def state(self, now: dt.datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"


def list_api_keys(uow: UnitOfWork) -> list[ApiKeyView]:
    rows = uow.session.execute(
        select(ApiKey, Hospital.slug).outerjoin(Hospital, Hospital.id == ApiKey.hospital_id).order_by(ApiKey.name)
    ).all()
    return [
        ApiKeyView(
            name=key.name,
            kind=key.client_kind,
            key_prefix=key.key_prefix,
            scopes=key.scopes.split(),
            hospital=slug,
            trusted_account_header=key.trusted_account_header,
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )
        for key, slug in rows
    ]


def revoke_api_key(uow: UnitOfWork, name: str, now: dt.datetime | None = None) -> bool:
    """Revoke the key of the client ``name`` (effective on its next request: keys are not cached). Returns
    False when it was already revoked."""
    row = uow.session.scalar(select(ApiKey).where(ApiKey.name == name).with_for_update())
    if row is None:
        raise NotFound(f"no API client named {name!r}", "Dạ, không có ứng dụng với tên này ạ.")
    if row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    uow.commit()
    return True


def authenticate(uow: UnitOfWork, key: str, now: dt.datetime | None = None) -> ApiClient | None:
    """The client of a live key (not revoked, not expired), looked up afresh on every request: a revoke or an
    expiry takes effect at once. A kiosk key without a hospital (made before kiosks had to name one) is refused.
    """
    now = now or utcnow()
    row = uow.session.execute(_LIVE_KEY, {"hash": _digest(key), "now": now}).first()
    if row is None or (row.client_kind == "kiosk" and row.hospital_id is None):
        return None
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_EVERY:
        _touch(uow, row.id, now)
    return ApiClient(
        id=row.id,
        name=row.name,
        kind=row.client_kind,
        scopes=row.scopes.split(),
        hospital_id=row.hospital_id,
        trusted_account_header=row.trusted_account_header and row.client_kind not in UNTRUSTED_KINDS,
    )


def _touch(uow: UnitOfWork, key_id: int, now: dt.datetime) -> None:
    """Record the use, at most once a minute per key across processes (the UPDATE is conditional)."""
    uow.write_aside(_TOUCH, {"key_id": key_id, "now": now, "stale": now - LAST_USED_EVERY})


_KEYS = ApiKey.__table__
_LIVE_KEY = select(
    _KEYS.c.id,
    _KEYS.c.name,
    _KEYS.c.client_kind,
    _KEYS.c.scopes,
    _KEYS.c.hospital_id,
    _KEYS.c.trusted_account_header,
    _KEYS.c.last_used_at,
).where(
    _KEYS.c.key_hash == bindparam("hash"),
    _KEYS.c.revoked_at.is_(None),
    or_(_KEYS.c.expires_at.is_(None), _KEYS.c.expires_at > bindparam("now", type_=ApiKey.expires_at.type)),
)
_TOUCH = (
    update(_KEYS)
    .where(
        _KEYS.c.id == bindparam("key_id"),
        or_(_KEYS.c.last_used_at.is_(None), _KEYS.c.last_used_at <= bindparam("stale", type_=ApiKey.expires_at.type)),
    )
    .values(last_used_at=bindparam("now", type_=ApiKey.expires_at.type))
)
