"""Caps on what one API client and one of its accounts may hold, so that a client cannot fill a hospital's slots
with invented people: patient profiles per account and per client, live (booked or checked-in) appointments per
account and per client. The limits come from the settings; the entry point passes them to the services.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from core.errors import DomainError
from core.uow import UnitOfWork

from .models import ACCOUNTS, APPOINTMENTS, PATIENTS
from .rules import LIVE


@dataclass(frozen=True)
class Caps:
    provider: str  # the accounts of the client: accounts.provider (e.g. "api:mini-app")
    profiles_per_account: int
    profiles_per_client: int | None  # None: no cap for the client as a whole (the chat: Zalo users are real)
    live_bookings_per_account: int
    live_bookings_per_client: int | None


class CapReached(DomainError):
    """A cap of the client or of the account is reached (409): nothing was stored."""

    def __init__(self, code: str, message: str, message_vi: str, limit: int) -> None:
        super().__init__(message, message_vi, limit=limit)
        self.code = code


def check_new_profile(uow: UnitOfWork, caps: Caps, account_id: int) -> None:
    _lock_account(uow, account_id)
    if uow.session.scalar(_PROFILES_OF_ACCOUNT, {"account_id": account_id}) >= caps.profiles_per_account:
        raise CapReached(
            "too_many_profiles",
            f"this account already has {caps.profiles_per_account} patient profiles",
            f"Dạ, mỗi tài khoản chỉ tạo được tối đa {caps.profiles_per_account} hồ sơ người khám ạ.",
            caps.profiles_per_account,
        )
    if (
        caps.profiles_per_client is not None
        and uow.session.scalar(_PROFILES_OF_CLIENT, {"provider": caps.provider}) >= caps.profiles_per_client
    ):
        raise CapReached(
            "client_profile_limit",
            f"this API client already holds {caps.profiles_per_client} patient profiles",
            "Dạ, ứng dụng đã đạt giới hạn số hồ sơ người khám. Anh/chị vui lòng liên hệ bệnh viện ạ.",
            caps.profiles_per_client,
        )


def check_new_booking(uow: UnitOfWork, caps: Caps, account_id: int) -> None:
    _lock_account(uow, account_id)
    if uow.session.scalar(_LIVE_OF_ACCOUNT, {"account_id": account_id}) >= caps.live_bookings_per_account:
        raise CapReached(
            "too_many_bookings",
            f"this account already has {caps.live_bookings_per_account} live appointments",
            f"Dạ, mỗi tài khoản chỉ giữ được tối đa {caps.live_bookings_per_account} lịch hẹn chưa khám ạ.",
            caps.live_bookings_per_account,
        )
    if (
        caps.live_bookings_per_client is not None
        and uow.session.scalar(_LIVE_OF_CLIENT, {"provider": caps.provider}) >= caps.live_bookings_per_client
    ):
        raise CapReached(
            "client_booking_limit",
            f"this API client already holds {caps.live_bookings_per_client} live appointments",
            "Dạ, ứng dụng đã đạt giới hạn số lịch hẹn. Anh/chị vui lòng liên hệ bệnh viện ạ.",
            caps.live_bookings_per_client,
        )


def _lock_account(uow: UnitOfWork, account_id: int) -> None:
    """Concurrent requests of one account queue here, so its caps are exact (the client's are best effort)."""
    uow.session.execute(_LOCK_ACCOUNT, {"account_id": account_id})


_LOCK_ACCOUNT = select(ACCOUNTS.c.id).where(ACCOUNTS.c.id == bindparam("account_id")).with_for_update()
_PROFILES_OF_ACCOUNT = select(func.count()).where(PATIENTS.c.account_id == bindparam("account_id"))
_PROFILES_OF_CLIENT = (
    select(func.count())
    .select_from(PATIENTS.join(ACCOUNTS, ACCOUNTS.c.id == PATIENTS.c.account_id))
    .where(ACCOUNTS.c.provider == bindparam("provider"))
)
_LIVE = APPOINTMENTS.c.status.in_(LIVE)
_LIVE_OF_ACCOUNT = (
    select(func.count())
    .select_from(APPOINTMENTS.join(PATIENTS, PATIENTS.c.id == APPOINTMENTS.c.patient_id))
    .where(PATIENTS.c.account_id == bindparam("account_id"), _LIVE)
)
_LIVE_OF_CLIENT = (
    select(func.count())
    .select_from(
        APPOINTMENTS.join(PATIENTS, PATIENTS.c.id == APPOINTMENTS.c.patient_id).join(
            ACCOUNTS, ACCOUNTS.c.id == PATIENTS.c.account_id
        )
    )
    .where(ACCOUNTS.c.provider == bindparam("provider"), _LIVE)
)
