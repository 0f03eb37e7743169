"""Who may use a console page, written once: every view declares its permission, one check runs before it.

- ``@requires(permission)`` marks a view; :func:`guard` (the blueprint's before_request) refuses every view
  without the mark (403: fail closed), sends a visitor without a session to the login page (an htmx request
  gets 401 with ``HX-Redirect``), ends a session idle for ``HENKHAM_STAFF_IDLE_MINUTES`` (a request marked as
  polling, ``X-Henkham-Poll: 1``, is checked but does not count as activity), ``HENKHAM_STAFF_SESSION_HOURS``
  after its login however busy, or of an account deactivated since, refuses a role without the permission
  (403), and checks the CSRF token of every unsafe method (Flask-WTF).
- The hospital in force is the staff member's own; a province admin chooses one (kept in the session).
- :func:`staff_uow` / :func:`staff_reader` put the staff member on the unit of work as its actor, confined to
  the hospital in force: core.tenancy then refuses another hospital's records and core.audit audits every read
  of patient data, exactly as for an API key bound to a hospital.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import NotFound

from core.audit import Actor
from core.staff import actions, roles
from core.staff.accounts import StaffView, get_staff
from core.uow import UnitOfWork

LOGGED_IN = "logged_in"  # any staff member with a live session: the home page, the hospital choice, logout
PUBLIC_ENDPOINTS = frozenset({"staff.login", "staff.asset", "staff.static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
POLL_HEADER = "X-Henkham-Poll"  # "1" on a page's own live refresh (htmx polling): not the staff member's activity
_PERMISSION = "_henkham_staff_permission"
F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "staff.login"
login_manager.session_protection = "strong"
csrf = CSRFProtect()


class StaffUser(UserMixin):
    """The Flask-Login user of a staff account (reloaded from the database on every request)."""

    def __init__(self, view: StaffView) -> None:
        self.view = view

    def get_id(self) -> str:
        return str(self.view.id)


@login_manager.user_loader
def _load(user_id: str) -> StaffUser | None:
    if not user_id.isdigit() or len(user_id) > 10:
        return None
    with current_app.extensions["henkham.db"].reader() as uow:
        view = get_staff(uow, int(user_id))
    return StaffUser(view) if view is not None else None


def requires(permission: str) -> Callable[[F], F]:
    """Mark a view as needing ``permission`` (core.staff.roles.PERMISSIONS)."""
    if permission not in roles.PERMISSIONS and permission != LOGGED_IN:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(view: F) -> F:
        setattr(view, _PERMISSION, permission)
        return view

    return mark


@dataclasses.dataclass(frozen=True)
class NavItem:
    permission: str
    endpoint: str
    label: str
    order: int


NAV: list[NavItem] = []


def nav(permission: str, endpoint: str, label: str, order: int = 50) -> None:
    """Show ``endpoint`` in the console's menu to the roles holding ``permission``."""
    if all(item.endpoint != endpoint for item in NAV):
        NAV.append(NavItem(permission, endpoint, label, order))
        NAV.sort(key=lambda item: (item.order, item.label))


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if roles.allowed(role, item.permission)]


def permission_of(endpoint: str) -> str | None:
    view = current_app.view_functions.get(endpoint)
    return getattr(view, _PERMISSION, None)


def _safe_next(target: str) -> str | None:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or "\\" in target:
        return None
    return target


def _to_login() -> Any:
    nxt = _safe_next(request.full_path.rstrip("?")) if request.method in SAFE_METHODS else None
    target = url_for("staff.login", next=nxt) if nxt else url_for("staff.login")
    if request.headers.get("HX-Request"):
        return current_app.response_class(status=401, headers={"HX-Redirect": target})
    return redirect(target)


def guard() -> Any:
    """The blueprint's before_request (see the module docstring)."""
    endpoint = request.endpoint or ""
    if request.method not in SAFE_METHODS:
        csrf.protect()
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    permission = permission_of(endpoint)
    if permission is None:
        abort(403)  # a view that declares nothing is nobody's
    if not current_user.is_authenticated:
        return _to_login()
    settings = current_app.extensions["henkham.settings"]
    now = time.time()
    seen = session.get("seen", 0)
    logged_in_at = session.get("login_at", 0)
    too_old = now - logged_in_at > settings.staff_session_hours * 3600  # busy or not: a cookie is re-signed
    if now - seen > settings.staff_idle_minutes * 60 or too_old or session.get("staff_id") != current_user.view.id:
        end_session("idle")
        session["notice"] = "idle"
        return _to_login()
    if request.headers.get(POLL_HEADER) != "1":
        session["seen"] = now  # live polling (the inbox's list) checks the session but never keeps it alive
    if permission != LOGGED_IN and not roles.allowed(current_user.view.role, permission):
        abort(403)
    g.staff = current_user.view
    if current_user.view.hospital_id is None and "hospital_id" not in session:
        with contextlib.suppress(NotFound):  # no hospital yet: only the pages that need one say so
            hospital_id()  # settled now, outside any unit of work (a province admin's default is read once)
    return None


def end_session(reason: str) -> None:
    """Log out (the action recorded) and forget the session."""
    if current_user.is_authenticated:
        view = current_user.view
        with current_app.extensions["henkham.db"].uow() as uow:
            actions.record_action(uow, view.id, view.hospital_id, "logout", "staff", view.id, reason)
            uow.commit()
    logout_user()
    session.clear()


def current_staff() -> StaffView:
    return g.staff


def hospital_id() -> int:
    """The hospital in force: the staff member's own; a province admin's choice (else the first hospital)."""
    staff = current_staff()
    if staff.hospital_id is not None:
        return staff.hospital_id
    chosen = session.get("hospital_id")
    if isinstance(chosen, int):
        return chosen
    if "first_hospital_id" in g:
        return g.first_hospital_id
    from sqlalchemy import select

    from core.booking.models import Hospital

    with current_app.extensions["henkham.db"].reader() as uow:
        first = uow.session.scalar(select(Hospital.id).order_by(Hospital.id).limit(1))
    if first is None:
        abort(404)
    g.first_hospital_id = first
    return first


def _acting(unit: UnitOfWork) -> UnitOfWork:
    staff = current_staff()
    unit.actor = Actor(
        kind="staff",
        client_id=staff.id,
        client_name=staff.username,
        hospital_id=hospital_id(),
        purpose=f"console:{request.endpoint}",
    )
    return unit


def staff_uow() -> UnitOfWork:
    """A writing unit of work acting as the staff member, confined to the hospital in force."""
    return _acting(current_app.extensions["henkham.db"].uow())


def staff_reader() -> UnitOfWork:
    """A reading unit of work acting as the staff member, confined to the hospital in force."""
    return _acting(current_app.extensions["henkham.db"].reader())


def actor_without_confinement() -> Actor:
    """The staff member as an actor of any hospital (a province admin's province-wide figures only)."""
    staff = current_staff()
    return dataclasses.replace(
        Actor(kind="staff", client_id=staff.id, client_name=staff.username, purpose=f"console:{request.endpoint}"),
        hospital_id=None,
    )


def audit(uow: UnitOfWork, action: str, target_kind: str = "", target_id: str | int = "", detail: str = "") -> None:
    """Record a staff action in ``uow`` (before its commit): who, in which hospital, did what to what."""
    staff = current_staff()
    actions.record_action(uow, staff.id, hospital_id(), action, target_kind, target_id, detail)
