"""The reception desk (the 20-second path): scan or type the booking code, Enter shows the booking with the
check-in button focused, Enter checks in and shows the printable exam slip; the code field is then focused for
the next patient. The phone + date fallback, today's list, and the desk's name (kept in the session).

Routes are thin: core/booking/desk.py does the work. Every form also works without JavaScript (a full page);
with htmx the answer is the panel alone (no reload), and static/desk.js moves the focus.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import segno
from flask import current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup
from sqlalchemy import select

from core.booking import desk as service
from core.booking.codes import normalise_booking_code
from core.booking.models import Department
from core.errors import DomainError
from core.timeutil import local_today
from henkham.web.errors import status_of

from . import console
from .access import audit, current_staff, hospital_id, nav, requires, staff_reader, staff_uow

nav("desk", "staff.desk", "Tiếp đón", order=10)
DESK_NAME = "desk_name"
REFUSED_STATUSES = frozenset({404, 409, 422})


@functools.lru_cache(maxsize=1024)
def qr_svg(code: str) -> Markup:
    """The booking code as a QR code (inline SVG, no style attributes: the CSP allows none). ``code`` is a
    normalised booking code (letters and digits of codes.ALPHABET), never patient text. Six such characters
    always fit version 1 at level M; a fixed mask spares the search for the best one (most of segno's time:
    the desk's path is timed), and any mask reads the same."""
    if normalise_booking_code(code) != code:
        raise ValueError("not a booking code")
    qr = segno.make_qr(code, error="m", version=1, mask=0, boost_error=False)
    return Markup(qr.svg_inline(scale=4, svgclass="qr", lineclass="qr-line", omitsize=True))


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _departments() -> list[tuple[str, str]]:
    with staff_reader() as uow:
        rows = uow.session.execute(
            select(Department.slug, Department.name)
            .where(Department.hospital_id == hospital_id())
            .order_by(Department.id)
        ).all()
    return [(row.slug, row.name) for row in rows]


def _list_filters() -> dict[str, str]:
    args = request.args if request.method == "GET" else request.form
    department = (args.get("department") or "")[:40]
    status = args.get("status") or ""
    return {
        "department": department,
        "status": status if status in service.STATES else "",
        # A search names a patient or a phone: only a posted one counts, so none ends up in a URL or a log.
        "q": (request.form.get("q") or "")[:60] if request.method == "POST" else "",
    }


def _today(filters: dict[str, str]) -> service.TodayList:
    with staff_reader() as uow:
        return service.todays_list(
            uow,
            hospital_id(),
            local_today(),
            department=filters["department"] or None,
            status=filters["status"] or None,
            query=filters["q"],
        )


def _partial(name: str, **context: Any) -> str:
    """A panel alone, for htmx. Rendered without the console's page context (the menu, the hospital's name: a
    database round trip per answer) that a panel does not show: the desk's path is timed."""
    return current_app.jinja_env.get_template(f"console/{name}.html").render(**context)


def _render(panel: str = "", status: int = 200, **context: Any):
    """The panel alone for htmx, else the whole desk page around it."""
    context.setdefault("error", "")
    context.setdefault("states", service.STATE_NAMES_VI)
    if _is_htmx() and panel:
        return _partial(panel, **context), status
    filters = _list_filters()
    page = render_template(
        "console/desk.html",
        panel=panel,
        desk_name=session.get(DESK_NAME, ""),
        today=_today(filters),
        filters=filters,
        departments=_departments(),
        day=local_today(),
        **context,
    )
    return page, status


def _refused(error: DomainError, panel: str = "desk_error", **context: Any):
    status = status_of(error)
    return _render(panel, status if status in REFUSED_STATUSES else 409, error=error.message_vi, **context)


@console.get("/desk")
@requires("desk")
def desk():
    return _render()


@console.post("/desk/lookup")
@requires("desk")
def desk_lookup():
    code = (request.form.get("code") or "")[:40]
    kind = service.PHONE if request.form.get("kind") == service.PHONE else service.CODE
    with staff_uow() as uow:
        try:
            found = service.desk_lookup(
                uow,
                hospital_id(),
                code,
                staff_id=current_staff().id,
                desk=session.get(DESK_NAME, ""),
                kind=kind,
            )
        except DomainError as error:
            uow.rollback()
            audit(uow, "desk_lookup_refused", "", "", error.code)
            uow.commit()
            return _refused(error)
        audit(uow, "desk_lookup", "appointment", found.booking.appointment_id, kind)
        uow.commit()
    return _render("desk_booking", found=found, booking=found.booking)


@console.post("/desk/phone")
@requires("desk")
def desk_phone():
    phone = (request.form.get("phone") or "")[:30]
    raw_day = (request.form.get("day") or "")[:10]
    try:
        day = dt.date.fromisoformat(raw_day) if raw_day else local_today()
    except ValueError:
        return _render("desk_error", 422, error="Ngày không hợp lệ.")
    with staff_uow() as uow:
        try:
            found = service.desk_lookup_by_phone(uow, hospital_id(), phone, day)
        except DomainError as error:
            audit(uow, "desk_phone_refused", "", "", error.code)
            uow.commit()
            return _refused(error)
        audit(uow, "desk_phone_search", "appointment", found[0].appointment_id, f"{len(found)} found")
        uow.commit()
    return _render("desk_phone", bookings=found, phone_day=day, today_day=local_today())


@console.post("/desk/check-in")
@requires("desk")
def desk_check_in():
    appointment_id = _form_id("appointment_id")
    if appointment_id is None:
        return _render("desk_error", 422, error="Thiếu lịch hẹn cần tiếp đón. Quét lại mã đặt lịch.")
    with staff_uow() as uow:
        try:
            done = service.desk_check_in(
                uow, hospital_id(), appointment_id, timing_id=_form_id("timing_id"), staff_id=current_staff().id
            )
        except DomainError as error:
            uow.rollback()
            audit(uow, "desk_check_in_refused", "appointment", appointment_id, error.code)
            uow.commit()
            return _refused(error)
        audit(uow, "desk_check_in", "appointment", appointment_id, "again" if done.already_checked_in else "")
        uow.commit()
    body, status = _render("desk_slip", done=done, booking=done.booking, qr=qr_svg(done.booking.code))
    return body, status, {"HX-Trigger": "desk-checked-in"}


@console.route("/desk/today", methods=["GET", "POST"])
@requires("desk")
def desk_today():
    """Today's list, filtered. The page posts its search (a name or a phone stays out of URLs and access logs)."""
    filters = _list_filters()
    if not _is_htmx():
        return _render()
    return _partial("desk_today", today=_today(filters), filters=filters, states=service.STATE_NAMES_VI)


@console.post("/desk/name")
@requires("desk")
def desk_name():
    name = " ".join((request.form.get("desk_name") or "").split())[:40]
    session[DESK_NAME] = name
    with staff_uow() as uow:
        audit(uow, "desk_name", "desk", "", name)
        uow.commit()
    return redirect(url_for("staff.desk"))


def _form_id(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    if not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number < 2**31 else None
