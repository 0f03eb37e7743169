"""A hospital admin's schedules: the weekly sessions (add, edit, stop) and the closures (a holiday, a department
closed, a doctor away). Adding a closure shows first the bookings it would cancel; on confirmation they are
cancelled by the hospital and each patient gets one Zalo message offering the nearest free slots
(core/booking/closures.py with the channel's bot/zalo_webhook/closure_notices.py).

The views only parse forms and render: the rules live in core (core/booking/schedule_admin.py, closures.py).
"""

from __future__ import annotations

import datetime as dt

from flask import redirect, render_template, request, url_for

from bot.zalo_webhook.closure_notices import ZaloClosureNotifier
from core.booking import closures, schedule_admin
from core.booking.closures import REASONS_VI, ClosureRequest
from core.booking.schedule_admin import SessionInput
from core.errors import InvalidInput
from core.wording import WEEKDAYS_VI, part_of_day_vi

from . import console
from .access import audit, hospital_id, nav, requires, staff_reader, staff_uow

nav("schedules", "staff.schedules", "Lịch khám", order=40)
PARTS = ("morning", "afternoon", "evening")
SESSION_FIELDS = (
    "department_id",
    "doctor_id",
    "weekday",
    "part_of_day",
    "start_time",
    "end_time",
    "slot_minutes",
    "capacity_per_slot",
    "room",
)
CLOSURE_FIELDS = ("start", "end", "reason", "note", "department_id", "doctor_id")


def _labels() -> dict:
    return {
        "weekdays": WEEKDAYS_VI,
        "parts": [(p, part_of_day_vi(p).capitalize()) for p in PARTS],
        "part_vi": part_of_day_vi,
        "reasons": list(REASONS_VI.items()),
    }


def _overview(error: str = "", session_form: dict | None = None, closure_form: dict | None = None, status: int = 200):
    hospital = hospital_id()  # before any unit of work: on SQLite a reader inside a reader waits for itself
    with staff_reader() as uow:
        sessions = schedule_admin.list_sessions(uow, hospital)
        listed = closures.list_closures(uow, hospital)
        choices = schedule_admin.choices(uow, hospital)
    return (
        render_template(
            "console/schedules.html",
            sessions=sessions,
            closures=listed,
            choices=choices,
            error=error,
            session_form=session_form or {},
            closure_form=closure_form or {},
            saved=request.args.get("saved", ""),
            **_labels(),
        ),
        status,
    )


@console.get("/schedules")
@requires("schedules")
def schedules():
    return _overview()


@console.post("/schedules/sessions")
@requires("schedules")
def create_session():
    form = _form(SESSION_FIELDS)
    try:
        data = _session_input(form)
        hospital = hospital_id()
        with staff_uow() as uow:
            view, changes = schedule_admin.create_session(uow, hospital, data)
            audit(uow, "schedule_create", "schedule", view.id, _describe(view, changes))
            uow.commit()
    except InvalidInput as error:
        return _overview(error.message_vi, session_form=form, status=422)
    return redirect(url_for("staff.schedules", saved=view.id))


@console.get("/schedules/sessions/<id:schedule_id>")
@requires("schedules")
def edit_session(schedule_id: int):
    return _edit_page(schedule_id)


def _edit_page(schedule_id: int, error: str = "", form: dict | None = None, status: int = 200):
    hospital = hospital_id()
    with staff_reader() as uow:
        view = schedule_admin.get_session(uow, hospital, schedule_id)  # another hospital's: 404
        choices = schedule_admin.choices(uow, hospital)
    values = form or {
        "department_id": str(view.department_id),
        "doctor_id": str(view.doctor_id or ""),
        "weekday": str(view.weekday),
        "part_of_day": view.part_of_day,
        "start_time": f"{view.start_time:%H:%M}",
        "end_time": f"{view.end_time:%H:%M}",
        "slot_minutes": str(view.slot_minutes),
        "capacity_per_slot": str(view.capacity_per_slot),
        "room": view.room,
    }
    return (
        render_template(
            "console/schedule_edit.html", session=view, form=values, choices=choices, error=error, **_labels()
        ),
        status,
    )


@console.post("/schedules/sessions/<id:schedule_id>")
@requires("schedules")
def update_session(schedule_id: int):
    form = _form(SESSION_FIELDS)
    try:
        data = _session_input(form)
        hospital = hospital_id()
        with staff_uow() as uow:
            view, changes = schedule_admin.update_session(uow, hospital, schedule_id, data)
            audit(uow, "schedule_update", "schedule", view.id, _describe(view, changes))
            uow.commit()
    except InvalidInput as error:
        return _edit_page(schedule_id, error.message_vi, form, 422)
    return redirect(url_for("staff.schedules", saved=view.id))


@console.post("/schedules/sessions/<id:schedule_id>/deactivate")
@requires("schedules")
def deactivate_session(schedule_id: int):
    hospital = hospital_id()
    with staff_uow() as uow:
        view, changes = schedule_admin.deactivate_session(uow, hospital, schedule_id)
        audit(uow, "schedule_deactivate", "schedule", view.id, _describe(view, changes))
        uow.commit()
    return redirect(url_for("staff.schedules", saved=view.id))


def _impact(hospital: int, wanted: ClosureRequest) -> list:
    with staff_uow() as uow:  # writes only the audit of the bookings read
        hit = closures.closure_impact(uow, hospital, wanted)
        uow.commit()
    return hit


def _confirmation(form: dict[str, str], wanted: ClosureRequest, hit: list, *, changed: bool = False):
    with staff_reader() as uow:
        choices = schedule_admin.choices(uow, hospital_id())
    page = render_template(
        "console/closure_confirm.html",
        form=form,
        closure=wanted,
        scope=_scope_vi(wanted, choices),
        hit=hit,
        changed=changed,
        **_labels(),
    )
    return page, 409 if changed else 200


@console.post("/schedules/closures/preview")
@requires("schedules")
def preview_closure():
    """The confirmation page: the bookings the closure would cancel (masked), and the confirm button."""
    form = _form(CLOSURE_FIELDS)
    try:
        wanted = _closure_request(form)
        hit = _impact(hospital_id(), wanted)
    except InvalidInput as error:
        return _overview(error.message_vi, closure_form=form, status=422)
    return _confirmation(form, wanted, hit)


@console.post("/schedules/closures")
@requires("schedules")
def confirm_closure():
    form = _form(CLOSURE_FIELDS)
    seen = set(filter(None, (request.form.get("seen") or "").split(",")))
    try:
        wanted = _closure_request(form)
        hospital = hospital_id()
        hit = _impact(hospital, wanted)
        if {h.code for h in hit} - seen:  # booked since the admin saw the list: they must see it first
            return _confirmation(form, wanted, hit, changed=True)
        with staff_uow() as uow:
            result = closures.close(uow, hospital, wanted, ZaloClosureNotifier())
            audit(
                uow,
                "closure_add",
                "closure",
                result.closure_id,
                f"{wanted.start}..{wanted.end} {wanted.stored_reason}; cancelled {result.cancelled}, "
                f"notified {result.notified}, skipped {result.skipped}",
            )
            uow.commit()
    except InvalidInput as error:
        return _overview(error.message_vi, closure_form=form, status=422)
    return redirect(
        url_for(
            "staff.closure_result",
            closure_id=result.closure_id,
            cancelled=result.cancelled,
            notified=result.notified,
            skipped=result.skipped,
        )
    )


@console.get("/schedules/closures/<id:closure_id>")
@requires("schedules")
def closure_result(closure_id: int):
    hospital = hospital_id()
    with staff_reader() as uow:
        closure = closures.get_closure(uow, hospital, closure_id)  # another hospital's: 404
    counts = {k: request.args.get(k, type=int) for k in ("cancelled", "notified", "skipped")}
    return render_template("console/closure_result.html", closure=closure, counts=counts)


# --- form parsing ---------------------------------------------------------------------------------------------


def _form(fields: tuple[str, ...]) -> dict[str, str]:
    return {name: (request.form.get(name) or "").strip()[:200] for name in fields}


def _session_input(form: dict[str, str]) -> SessionInput:
    return SessionInput(
        department_id=_int(form["department_id"], "Chọn khoa."),
        doctor_id=_int(form["doctor_id"], "Bác sĩ không hợp lệ.") if form["doctor_id"] else None,
        weekday=_int(form["weekday"], "Chọn thứ trong tuần."),
        part_of_day=form["part_of_day"],
        start_time=_time(form["start_time"], "Giờ bắt đầu không hợp lệ (HH:MM)."),
        end_time=_time(form["end_time"], "Giờ kết thúc không hợp lệ (HH:MM)."),
        slot_minutes=_int(form["slot_minutes"], "Thời lượng mỗi lượt phải là số phút."),
        capacity_per_slot=_int(form["capacity_per_slot"], "Số người mỗi lượt phải là một số."),
        room=form["room"],
    )


def _closure_request(form: dict[str, str]) -> ClosureRequest:
    start = _date(form["start"], "Ngày bắt đầu không hợp lệ.")
    end = _date(form["end"], "Ngày kết thúc không hợp lệ.") if form["end"] else start
    return ClosureRequest(
        start=start,
        end=end,
        reason=form["reason"],
        note=form["note"],
        department_id=_int(form["department_id"], "Khoa không hợp lệ.") if form["department_id"] else None,
        doctor_id=_int(form["doctor_id"], "Bác sĩ không hợp lệ.") if form["doctor_id"] else None,
    )


def _int(raw: str, message_vi: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput("not a number", message_vi)
    return int(raw)


def _time(raw: str, message_vi: str) -> dt.time:
    """A wall-clock time as the form's time input sends it (HH:MM), never one with a UTC offset."""
    for form in ("%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(raw.strip(), form).time()
        except ValueError:
            continue
    raise InvalidInput("not a time", message_vi)


def _date(raw: str, message_vi: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise InvalidInput("not a date", message_vi) from None
    if not 2000 <= day.year <= 2100:  # far dates are typos (and overflow the date arithmetic)
        raise InvalidInput("date out of range", message_vi)
    return day


def _scope_vi(wanted: ClosureRequest, choices: schedule_admin.Choices) -> str:
    if wanted.doctor_id is not None:
        name = next((n for i, n, _ in choices.doctors if i == wanted.doctor_id), "")
        return f"Bác sĩ {name}"
    if wanted.department_id is not None:
        name = next((n for i, n in choices.departments if i == wanted.department_id), "")
        return f"Khoa {name}"
    return "Toàn bệnh viện"


def _describe(view: schedule_admin.SessionView, changes: schedule_admin.SlotChanges) -> str:
    return (
        f"{view.department_name} weekday {view.weekday} {view.start_time:%H:%M}-{view.end_time:%H:%M} "
        f"{view.slot_minutes}min x{view.capacity_per_slot} active={view.active}; slots +{changes.created} "
        f"~{changes.updated} -{changes.removed} kept {changes.kept_booked}"
    )
