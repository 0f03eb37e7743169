"""A department's week, rooms and upcoming closures, worded from its schedules and the hospital's closures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import or_, select

from core.uow import UnitOfWork
from core.wording import WEEKDAYS_IN_SENTENCE_VI, part_of_day_vi

from ..models import Closure, Department, Hospital, Schedule
from .phrasing import clock, date_vi

CLOSURE_NOTICE_DAYS = 30


def active_schedules(uow: UnitOfWork, department: Department) -> list[Schedule]:
    return list(
        uow.session.scalars(
            select(Schedule)
            .where(Schedule.department_id == department.id, Schedule.active.is_(True))
            .order_by(Schedule.weekday, Schedule.start_time, Schedule.id)
        )
    )


def weekly_sessions(uow: UnitOfWork, department: Department) -> str:
    """The department's week, e.g. "thứ Hai–thứ Sáu sáng 7:00–11:00, chiều 13:30–16:30; thứ Bảy sáng 7:00–11:00;
    Chủ nhật nghỉ".

    Sessions of one part of a day that touch or overlap (several doctors, split rooms) read as one; weekdays
    with the same sessions are grouped; "" when the department has no active session."""
    by_day: dict[int, dict[str, list[tuple[dt.time, dt.time]]]] = {}
    for schedule in active_schedules(uow, department):
        by_day.setdefault(schedule.weekday, {}).setdefault(schedule.part_of_day, []).append(
            (schedule.start_time, schedule.end_time)
        )
    if not by_day:
        return ""
    groups: dict[str, list[int]] = {}
    for weekday in sorted(by_day):
        sessions = sorted(
            ((start, end, part) for part, spans in by_day[weekday].items() for start, end in merge_spans(spans)),
        )
        phrase = ", ".join(f"{part_of_day_vi(part)} {clock(start)}–{clock(end)}" for start, end, part in sessions)
        groups.setdefault(phrase, []).append(weekday)
    parts = [f"{weekday_ranges(days)} {phrase}" for phrase, days in groups.items()]
    closed = [weekday for weekday in range(7) if weekday not in by_day]
    if closed:
        parts.append(f"{weekday_ranges(closed)} nghỉ")
    return "; ".join(parts)


def merge_spans(spans: list[tuple[dt.time, dt.time]]) -> list[tuple[dt.time, dt.time]]:
    merged: list[tuple[dt.time, dt.time]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def weekday_ranges(weekdays: Iterable[int]) -> str:
    """[0, 1, 2, 3, 4] → "thứ Hai–thứ Sáu"; [5, 6] → "thứ Bảy, Chủ nhật"; [0, 2, 4] → "thứ Hai, thứ Tư, thứ Sáu"."""
    runs: list[list[int]] = []
    for weekday in sorted(weekdays):
        if runs and weekday == runs[-1][-1] + 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    phrases: list[str] = []
    for run in runs:
        if len(run) >= 3:
            phrases.append(f"{WEEKDAYS_IN_SENTENCE_VI[run[0]]}–{WEEKDAYS_IN_SENTENCE_VI[run[-1]]}")
        else:
            phrases.extend(WEEKDAYS_IN_SENTENCE_VI[weekday] for weekday in run)
    return ", ".join(phrases)


def department_rooms(uow: UnitOfWork, department: Department) -> str:
    rooms: list[str] = []
    for schedule in active_schedules(uow, department):
        room = schedule.room.strip()
        if room and room not in rooms:
            rooms.append(room)
    return ", ".join(rooms)


def upcoming_closures(uow: UnitOfWork, hospital: Hospital, department: Department | None, today: dt.date) -> str:
    """Closures of the hospital (and of the department) in the next CLOSURE_NOTICE_DAYS days; a doctor's absence
    does not close the department."""
    department_match = Closure.department_id.is_(None)
    if department is not None:
        department_match = or_(department_match, Closure.department_id == department.id)
    closures = uow.session.scalars(
        select(Closure)
        .where(
            Closure.hospital_id == hospital.id,
            Closure.doctor_id.is_(None),
            department_match,
            Closure.end_date >= today,
            Closure.start_date <= today + dt.timedelta(days=CLOSURE_NOTICE_DAYS),
        )
        .order_by(Closure.start_date, Closure.id)
    ).all()
    phrases = []
    for closure in closures:
        days = (
            f"ngày {date_vi(closure.start_date)}"
            if closure.start_date == closure.end_date
            else f"từ {date_vi(closure.start_date)} đến {date_vi(closure.end_date)}"
        )
        reason = closure.reason.strip()
        phrases.append(f"{days} ({reason})" if reason else days)
    return "; ".join(phrases)
