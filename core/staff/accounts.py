"""Staff accounts: created by an admin (the first one by ``henkham staff create``), authenticated by password.

Passwords are hashed with argon2id (argon2-cffi's defaults, rehashed when those change); a login for an unknown
username spends the same time verifying a dummy hash, so response times do not tell which usernames exist.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy import select

from core.booking.catalogue import find_hospital
from core.booking.models import Hospital
from core.errors import Conflict, InvalidInput, NotFound
from core.timeutil import utcnow
from core.uow import UnitOfWork

from .models import StaffAccount
from .roles import HOSPITALLESS_ROLES, ROLES

MIN_PASSWORD = 10
MAX_PASSWORD = 200
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,59}")
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("henkham-no-such-staff-account")


class StaffView(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    hospital_id: int | None
    hospital_slug: str | None
    active: bool


def _view(account: StaffAccount, slug: str | None) -> StaffView:
    return StaffView(
        id=account.id,
        username=account.username,
        full_name=account.full_name,
        role=account.role,
        hospital_id=account.hospital_id,
        hospital_slug=slug,
        active=account.active,
    )


def normal_username(username: str) -> str:
    return username.strip().lower()


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            f"Mật khẩu cần từ {MIN_PASSWORD} đến {MAX_PASSWORD} ký tự.",
        )


def create_staff(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    role: str,
    full_name: str,
    hospital_slug: str | None = None,
    now: dt.datetime | None = None,
) -> StaffView:
    """A new active account (committed). A province admin has no hospital; every other role has one."""
    name = normal_username(username)
    if not USERNAME.fullmatch(name):
        raise InvalidInput(
            "the username must be 3-60 characters: letters a-z, digits, '.', '_' or '-'",
            "Tên đăng nhập gồm 3–60 ký tự: chữ a–z, số, dấu chấm, gạch dưới hoặc gạch ngang.",
        )
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role[:30]!r}; one of {', '.join(ROLES)}", "Vai trò không hợp lệ.")
    check_password(password)
    full_name = full_name.strip()
    if not 1 <= len(full_name) <= 120:
        raise InvalidInput("the full name must have 1-120 characters", "Họ tên cần từ 1 đến 120 ký tự.")
    hospital: Hospital | None = None
    if role in HOSPITALLESS_ROLES:
        if hospital_slug:
            raise InvalidInput("a province admin belongs to no hospital", "Quản trị Sở Y tế không thuộc bệnh viện nào.")
    else:
        if not hospital_slug:
            raise InvalidInput(f"a {role} belongs to a hospital: name it", "Vui lòng chọn bệnh viện của tài khoản.")
        hospital = find_hospital(uow, hospital_slug)
    if uow.session.scalar(select(StaffAccount.id).where(StaffAccount.username == name)) is not None:
        raise Conflict(f"the username {name!r} is taken", "Tên đăng nhập này đã có người dùng.")
    at = now or utcnow()
    account = StaffAccount(
        username=name,
        full_name=full_name,
        role=role,
        hospital_id=hospital.id if hospital else None,
        password_hash=_HASHER.hash(password),
        active=True,
        created_at=at,
        password_changed_at=at,
    )
    uow.session.add(account)
    uow.session.flush()
    view = _view(account, hospital.slug if hospital else None)
    uow.commit()
    return view


def _slug(uow: UnitOfWork, hospital_id: int | None) -> str | None:
    if hospital_id is None:
        return None
    return uow.session.scalar(select(Hospital.slug).where(Hospital.id == hospital_id))


def authenticate(uow: UnitOfWork, username: str, password: str, now: dt.datetime | None = None) -> StaffView | None:
    """The active account with this username and password (its last login stamped, committed), else None."""
    account = uow.session.scalar(select(StaffAccount).where(StaffAccount.username == normal_username(username)))
    if account is None or not account.active or len(password) > MAX_PASSWORD:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY_HASH, password[:MAX_PASSWORD] or "-")
        return None
    try:
        _HASHER.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = _HASHER.hash(password)
    account.last_login_at = now or utcnow()
    view = _view(account, _slug(uow, account.hospital_id))
    uow.commit()
    return view


def refused_login_target(uow: UnitOfWork, username: str) -> str:
    """What the action log keeps of a refused login: the account's username, or "?" when none has it (what
    was typed may be a password typed in the wrong field: it is never stored)."""
    name = normal_username(username)
    known = uow.session.scalar(select(StaffAccount.id).where(StaffAccount.username == name)) is not None
    return name[:40] if known else "?"


def get_staff(uow: UnitOfWork, staff_id: int) -> StaffView | None:
    """The active account ``staff_id`` (None when unknown or deactivated)."""
    account = uow.session.get(StaffAccount, staff_id)
    if account is None or not account.active:
        return None
    return _view(account, _slug(uow, account.hospital_id))


def list_staff(uow: UnitOfWork, hospital_id: int | None) -> list[StaffView]:
    """The accounts of a hospital (every account with None), by username."""
    statement = select(StaffAccount, Hospital.slug).outerjoin(Hospital, Hospital.id == StaffAccount.hospital_id)
    if hospital_id is not None:
        statement = statement.where(StaffAccount.hospital_id == hospital_id)
    return [_view(a, slug) for a, slug in uow.session.execute(statement.order_by(StaffAccount.username))]


def set_active(uow: UnitOfWork, staff_id: int, active: bool, *, hospital_id: int | None) -> StaffView:
    """(De)activate an account of ``hospital_id`` (any with None); committed. A deactivated account's sessions
    end at their next request (the console reloads the account on every request)."""
    account = uow.session.get(StaffAccount, staff_id)
    if account is None or (hospital_id is not None and account.hospital_id != hospital_id):
        raise NotFound(f"staff account {staff_id} not found", "Không tìm thấy tài khoản này.")
    account.active = active
    uow.session.flush()
    view = _view(account, _slug(uow, account.hospital_id))
    uow.commit()
    return view
