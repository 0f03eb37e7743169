"""A hospital admin's staff accounts: list, create, deactivate and reactivate."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from core.errors import DomainError
from core.staff import accounts, roles

from . import console
from .access import audit, current_staff, hospital_id, nav, requires, staff_reader, staff_uow

nav("staff", "staff.staff_accounts", "Tài khoản nhân viên", order=80)
CREATABLE = tuple(r for r in roles.ROLES if r != roles.PROVINCE_ADMIN)


def _page(error: str = "", form: dict | None = None, status: int = 200):
    with staff_reader() as uow:
        people = accounts.list_staff(uow, hospital_id())
    return (
        render_template(
            "console/staff.html",
            people=people,
            roles=[(r, roles.ROLE_NAMES_VI[r]) for r in CREATABLE],
            role_names=roles.ROLE_NAMES_VI,
            error=error,
            form=form or {},
        ),
        status,
    )


@console.get("/staff-accounts")
@requires("staff")
def staff_accounts():
    return _page()


@console.post("/staff-accounts")
@requires("staff")
def create_staff_account():
    form = {k: (request.form.get(k) or "")[:200] for k in ("username", "full_name", "role")}
    if form["role"] not in CREATABLE:
        return _page("Vai trò không hợp lệ.", form, 422)
    with staff_uow() as uow:
        slug = uow.session.get(accounts.Hospital, hospital_id()).slug
        try:
            audit(uow, "staff_create", "staff", form["username"][:40], form["role"])
            view = accounts.create_staff(
                uow,
                username=form["username"],
                password=request.form.get("password") or "",
                role=form["role"],
                full_name=form["full_name"],
                hospital_slug=slug,
            )
        except DomainError as error:
            return _page(error.message_vi or "Thông tin chưa hợp lệ.", form, 422)
    return redirect(url_for("staff.staff_accounts", created=view.username))


@console.post("/staff-accounts/<id:staff_id>/active")
@requires("staff")
def set_staff_active(staff_id: int):
    active = request.form.get("active") == "1"
    if staff_id == current_staff().id and not active:
        return _page("Bạn không thể tự khóa tài khoản của mình.", status=409)
    with staff_uow() as uow:
        audit(uow, "staff_activate" if active else "staff_deactivate", "staff", staff_id)
        accounts.set_active(uow, staff_id, active, hospital_id=hospital_id())
    return redirect(url_for("staff.staff_accounts"))
