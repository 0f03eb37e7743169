"""The figures page: a hospital admin's hospital, or a province admin's province (or any one hospital), over a
date range by day, week or month; charts (static/figures.js draws the series the page carries in a data-*
attribute; /staff/figures/data gives the same as JSON), a table, a CSV download.
Everything is read from the daily roll-ups (core/figures/report.py), never from the source tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import Response, abort, current_app, jsonify, render_template, request, url_for
from sqlalchemy import select

from core.booking.models import Hospital
from core.errors import DomainError
from core.figures import report
from core.staff import actions, roles
from core.timeutil import local_today
from core.uow import UnitOfWork

from . import console
from .access import actor_without_confinement, current_staff, hospital_id, nav, requires, staff_reader

nav("figures", "staff.figures", "Số liệu", order=70)
DEFAULT_DAYS = 30
GROUPING_NAMES_VI = {"day": "Theo ngày", "week": "Theo tuần", "month": "Theo tháng"}
PROVINCE = "province"


@dataclasses.dataclass(frozen=True)
class Query:
    first: dt.date
    last: dt.date
    grouping: str
    scope: str  # "province" or a hospital id

    @property
    def hospital_ids(self) -> list[int] | None:
        return None if self.scope == PROVINCE else [int(self.scope)]

    def args(self) -> dict[str, str]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "group": self.grouping,
            "scope": self.scope,
        }


class BadQuery(Exception):
    def __init__(self, message_vi: str) -> None:
        self.message_vi = message_vi


def _province_wide() -> bool:
    return roles.allowed(current_staff().role, "province")


def _date(name: str, default: dt.date) -> dt.date:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    try:
        day = dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise BadQuery("Ngày không hợp lệ (định dạng năm-tháng-ngày).") from None
    if not 2000 <= day.year <= 2100:  # far dates are typos (and overflow the date arithmetic)
        raise BadQuery("Ngày nằm ngoài khoảng cho phép (năm 2000 đến 2100).")
    return day


def _query() -> Query:
    """The range, grouping and scope asked for. A hospital admin's scope is their hospital (another one: 403);
    a province admin's is the province unless they pick a hospital (an unknown one: 404)."""
    today = local_today()
    last = _date("to", today)
    first = _date("from", max(last - dt.timedelta(days=DEFAULT_DAYS - 1), dt.date(2000, 1, 1)))
    grouping = request.args.get("group") or "day"
    if grouping not in report.GROUPINGS:
        raise BadQuery("Cách nhóm số liệu không hợp lệ.")
    raw = (request.args.get("scope") or "").strip()
    if _province_wide():
        scope = raw or PROVINCE
        if scope != PROVINCE and (not scope.isdigit() or len(scope) > 10 or not _hospital_exists(int(scope))):
            abort(404)
    else:
        own = str(hospital_id())
        if raw and raw != own:
            abort(403)
        scope = own
    return Query(first, last, grouping, scope)


def _hospital_exists(hospital: int) -> bool:
    with current_app.extensions["henkham.db"].reader() as uow:
        return uow.session.scalar(select(Hospital.id).where(Hospital.id == hospital)) is not None


def _reader() -> UnitOfWork:
    """A province admin reads any hospital (the province permission); everyone else is confined to their own."""
    if _province_wide():
        unit = current_app.extensions["henkham.db"].reader()
        unit.actor = actor_without_confinement()
        return unit
    return staff_reader()


def _figures(query: Query) -> report.Figures:
    with _reader() as uow:
        return report.figures(uow, query.hospital_ids, query.first, query.last, query.grouping)


def _scopes() -> list[tuple[str, str]]:
    if not _province_wide():
        return []
    with current_app.extensions["henkham.db"].reader() as uow:
        hospitals = uow.session.execute(select(Hospital.id, Hospital.name).order_by(Hospital.id)).all()
    return [(PROVINCE, "Toàn tỉnh"), *((str(h), name) for h, name in hospitals)]


def _scope_name(query: Query, scopes: list[tuple[str, str]]) -> str:
    if query.scope == PROVINCE:
        return "Toàn tỉnh"
    for value, name in scopes:
        if value == query.scope:
            return name
    with current_app.extensions["henkham.db"].reader() as uow:
        return uow.session.scalar(select(Hospital.name).where(Hospital.id == int(query.scope))) or ""


def _record(action: str, query: Query) -> None:
    """The staff action log: who viewed or exported which figures. The hospital is the one shown (none for the
    province), not the hospital in force that access.audit records."""
    staff = current_staff()
    hospital = None if query.scope == PROVINCE else int(query.scope)
    detail = f"{query.first}..{query.last} {query.grouping}"
    with current_app.extensions["henkham.db"].uow() as uow:
        actions.record_action(uow, staff.id, hospital, action, "figures", query.scope, detail)
        uow.commit()


@console.get("/figures")
@requires("figures")
def figures():
    scopes = _scopes()
    try:
        query = _query()
        result = _figures(query)
    except (BadQuery, DomainError) as error:
        fallback = Query(local_today() - dt.timedelta(days=DEFAULT_DAYS - 1), local_today(), "day", "")
        return _page(fallback, None, scopes, getattr(error, "message_vi", "") or "Thông tin chưa hợp lệ.", 422)
    _record("figures_view", query)
    return _page(query, result, scopes)


def _page(query: Query, result: report.Figures | None, scopes: list, error: str = "", status: int = 200):
    return (
        render_template(
            "console/figures.html",
            query=query,
            result=result,
            scopes=scopes,
            scope_name=_scope_name(query, scopes) if query.scope else "",
            groupings=GROUPING_NAMES_VI,
            error=error,
            chart=chart_data(result) if result else {},
            csv_url=url_for("staff.figures_csv", **query.args()) if result else "",
            percent=report.percent,
            duration=report.duration,
            days=report.days,
            channel_name=report.channel_name,
            reminder_channels=report.REMINDER_CHANNELS_VI,
            no_show_groups=report.NO_SHOW_GROUPS_VI,
        ),
        status,
    )


@console.get("/figures/data")
@requires("figures")
def figures_data():
    try:
        query = _query()
        result = _figures(query)
    except (BadQuery, DomainError):
        return jsonify({"error": "Thông tin chưa hợp lệ."}), 422
    _record("figures_data", query)
    return jsonify(chart_data(result))


def chart_data(result: report.Figures) -> dict[str, Any]:
    """The series the charts draw, one value per period (percentages and seconds; None where nothing happened)."""
    periods = result.periods
    channels = sorted({c for p in periods for c in p.bookings_by_channel})

    def pct(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 1)

    return {
        "labels": [p.label for p in periods],
        "online_share": [pct(p.online_share) for p in periods],
        "reception_median": [p.reception.median for p in periods],
        "reception_p90": [p.reception.p90 for p in periods],
        "no_show_rate": [pct(p.no_show_rate) for p in periods],
        "bookings": [
            {"label": report.channel_name(c), "values": [p.bookings_by_channel.get(c, 0) for p in periods]}
            for c in channels
        ],
    }


@console.get("/figures.csv")
@requires("figures")
def figures_csv():
    try:
        query = _query()
        result = _figures(query)
    except (BadQuery, DomainError) as error:
        return _page(
            Query(local_today(), local_today(), "day", ""), None, _scopes(), getattr(error, "message_vi", ""), 422
        )
    _record("figures_export", query)
    name = f"so-lieu-{'toan-tinh' if query.scope == PROVINCE else 'bv-' + query.scope}-{query.first}-{query.last}.csv"
    return Response(
        report.to_csv(result),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
