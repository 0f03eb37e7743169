"""Records staff's pages (/staff/records/...): person-match conflicts to confirm or reject, import reports, the
record access audit and data-subject requests with their 2-working-day deadline.

Thin views over core services (core.emr.matches, import_reports, record_reads, subject_requests), every one
read or written through ``staff_reader()`` / ``staff_uow()`` so the hospital in force confines it; every action
is recorded with ``audit``.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, redirect, render_template, request, url_for

from core.emr import import_reports, matches, record_reads, subject_requests
from core.errors import Conflict, InvalidInput, NotFound
from core.tenancy import OtherHospital
from core.timeutil import to_local, utcnow

from . import console
from .access import audit, current_staff, hospital_id, nav, requires, staff_reader, staff_uow

nav("records", "staff.records_matches", "Hồ sơ bệnh án", order=60)

FIELD_VI = {
    "name": "Họ tên",
    "birth_date": "Ngày sinh",
    "sex": "Giới tính",
    "cccd": "CCCD",
    "social_insurance_number": "Mã số BHXH",
}
MATCH_KIND_VI = {
    "candidate": "Trùng họ tên, ngày sinh, giới tính",
    "cccd_conflict": "Cùng CCCD, khác ngày sinh hoặc giới tính",
    "card_conflict": "Cùng thẻ BHYT, khác họ tên hoặc ngày sinh",
}
SEX_VI = {"male": "Nam", "female": "Nữ"}
STATUS_VI = {"open": "Đang chờ", "done": "Đã xử lý", "refused": "Đã từ chối"}


@console.app_template_filter("records_time")
def records_time(moment) -> str:
    """A UTC time as staff read it: local (Asia/Ho_Chi_Minh) day and time."""
    return to_local(moment).strftime("%d/%m/%Y %H:%M") if moment else ""


@console.app_template_filter("records_due")
def records_due(moment) -> str:
    """A deadline at 24:00 local, as staff read it: "hết ngày 09/12/2026"."""
    return (to_local(moment) - dt.timedelta(seconds=1)).strftime("hết ngày %d/%m/%Y") if moment else ""


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def _render(template: str, status: int = 200, **context):
    return render_template(
        template,
        field_vi=FIELD_VI,
        match_kind_vi=MATCH_KIND_VI,
        sex_vi=SEX_VI,
        status_vi=STATUS_VI,
        **context,
    ), status


@console.get("/records")
@requires("records")
def records_home():
    return redirect(url_for("staff.records_matches"))


# --- person-match conflicts ------------------------------------------------------------------------------------


def _matches_page(error: str = "", status: int = 200):
    with staff_reader() as uow:
        views = matches.list_matches(uow, hospital_id=hospital_id())
    done = request.args.get("done", "")
    return _render("console/records_matches.html", status, matches=views, error=error, done=done)


@console.get("/records/matches")
@requires("records")
def records_matches():
    return _matches_page()


@console.post("/records/matches/<id:match_id>/confirm")
@requires("records")
def confirm_record_match(match_id: int):
    keep = request.form.get("keep", "person")
    if keep not in matches.KEEP:
        return _matches_page("Cần chọn giữ thông tin của hồ sơ nào.", 422)
    refused = ""
    with staff_uow() as uow:
        audit(uow, "match_confirm", "emr_person_match", match_id, f"keep={keep}")
        try:
            matches.confirm_match(uow, match_id, by=f"staff:{current_staff().username}", now=utcnow(), keep=keep)
        except (Conflict, InvalidInput) as error:
            refused = error.message_vi or "Không thực hiện được."
    if refused:  # the page is read after the writer closed (SQLite: one writer, and it was ours)
        return _matches_page(refused, 409)
    return redirect(url_for("staff.records_matches", done="confirmed"))


@console.post("/records/matches/<id:match_id>/reject")
@requires("records")
def reject_record_match(match_id: int):
    refused = ""
    with staff_uow() as uow:
        audit(uow, "match_reject", "emr_person_match", match_id)
        try:
            matches.reject_match(uow, match_id, by=f"staff:{current_staff().username}", now=utcnow())
        except Conflict as error:
            refused = error.message_vi or "Không thực hiện được."
    if refused:
        return _matches_page(refused, 409)
    return redirect(url_for("staff.records_matches", done="rejected"))


# --- import reports --------------------------------------------------------------------------------------------


@console.get("/records/imports")
@requires("records")
def records_imports():
    with staff_reader() as uow:
        lines, page = import_reports.list_imports(uow, hospital_id(), page=_page_number())
    return _render("console/records_imports.html", imports=lines, page=page)


@console.get("/records/imports/<id:import_id>")
@requires("records")
def records_import(import_id: int):
    problems_only = request.args.get("problems") == "1"
    with staff_reader() as uow:
        line, items, page = import_reports.import_items(
            uow, hospital_id(), import_id, page=_page_number(), problems_only=problems_only
        )
    return _render("console/records_import.html", line=line, items=items, page=page, problems_only=problems_only)


# --- the record access audit -----------------------------------------------------------------------------------


@console.get("/records/access")
@requires("records")
def records_access():
    """The latest reads, or one person's (``?person=<id>``: a person number is no identifier)."""
    person = request.args.get("person", "")
    return _access_page("", person if person.isdigit() and len(person) < 12 else "")


@console.post("/records/access")
@requires("records")
def search_records_access():
    """A search by CCCD / BHYT number is posted, never put in the URL (URLs end up in access logs)."""
    return _access_page((request.form.get("q") or "").strip()[:40], "")


def _access_page(query: str, person: str):
    hits: list = []
    chosen = None
    lines: list = []
    error = ""
    status = 200
    with staff_reader() as uow:
        try:
            if person:
                chosen, lines = record_reads.person_reads(uow, hospital_id(), int(person))
            elif query:
                hits = record_reads.find_persons(uow, hospital_id(), query)
                if len(hits) == 1:
                    chosen, lines = record_reads.person_reads(uow, hospital_id(), hits[0].id)
            else:
                lines = record_reads.latest_reads(uow, hospital_id())
        except InvalidInput as refused:
            error, status = refused.message_vi or "Thông tin tìm kiếm chưa hợp lệ.", 422
        except (NotFound, OtherHospital):
            error, status = "Không tìm thấy hồ sơ nào có lượt khám tại bệnh viện này.", 404
    return _render(
        "console/records_access.html", status, query=query, hits=hits, chosen=chosen, lines=lines, error=error
    )


# --- data-subject requests -------------------------------------------------------------------------------------


def _holidays() -> list:
    return list(current_app.extensions["henkham.settings"].records_holidays)


def _requests_page(error: str = "", status: int = 200):
    with staff_reader() as uow:
        open_ = subject_requests.list_requests(uow, hospital_id(), extra_holidays=_holidays())
        done = subject_requests.list_requests(uow, hospital_id(), status="done", extra_holidays=_holidays())
        refused = subject_requests.list_requests(uow, hospital_id(), status="refused", extra_holidays=_holidays())
    closed = sorted(done + refused, key=lambda v: v.decided_at or v.received_at, reverse=True)[:50]
    return _render(
        "console/records_requests.html", status, open_requests=open_, closed=closed, error=error, now=utcnow()
    )


@console.get("/records/requests")
@requires("records")
def records_requests():
    return _requests_page()


def _decide(request_id: int, *, done: bool):
    reason = (request.form.get("reason") or "").strip()[: subject_requests.REASON_MAX]
    refused: tuple[str, int] | None = None
    with staff_uow() as uow:
        try:
            subject_requests.decide_request(
                uow, request_id, hospital_id(), done=done, by=current_staff().username, reason=reason
            )
        except (InvalidInput, Conflict) as error:
            refused = (error.message_vi or "Không thực hiện được.", 422 if isinstance(error, InvalidInput) else 409)
        else:
            audit(uow, "request_done" if done else "request_refuse", "data_subject_request", request_id, reason)
            uow.commit()
    if refused:  # the page is read after the writer closed
        return _requests_page(*refused)
    return redirect(url_for("staff.records_requests"))


@console.post("/records/requests/<id:request_id>/done")
@requires("records")
def finish_data_request(request_id: int):
    return _decide(request_id, done=True)


@console.post("/records/requests/<id:request_id>/refuse")
@requires("records")
def refuse_data_request(request_id: int):
    return _decide(request_id, done=False)
