"""Answers to patients' common questions (hours, address, cost, insurance, documents), built from the hospital's
own data: its record, its departments and weekly schedules, its visit types, and the FAQ entries it writes.

Nothing here states a fact about a hospital that is not in its data; when the data has no answer, the answer
says so and gives the hospital's phone number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, or_, select, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.errors import InvalidInput
from core.identifiers import national_phone
from core.timeutil import local_today, utcnow
from core.uow import UnitOfWork
from core.wording import WEEKDAYS_IN_SENTENCE_VI, part_of_day_vi, vnd

from .catalogue import find_department, find_hospital
from .models import Closure, Department, Hospital, Schedule, VisitKind, VisitType

TOPICS = ("hours", "address", "cost", "insurance", "documents")


class HospitalFaq(Base):
    """A hospital's own answer on a topic, for the whole hospital (``department_id`` NULL) or one department.

    insurance and documents answers come from here; on the other topics an entry adds the hospital's notes to
    the answer built from data (parking, fees not included in the visit price…).
    """

    __tablename__ = "hospital_faq"
    __table_args__ = (
        UniqueConstraint("hospital_id", "topic", "department_id"),
        # NULLs are distinct in a unique constraint: one hospital-wide entry per topic needs its own index.
        Index(
            "uq_hospital_faq_hospital_wide",
            "hospital_id",
            "topic",
            unique=True,
            postgresql_where=text("department_id IS NULL"),
            sqlite_where=text("department_id IS NULL"),
        ),
        CheckConstraint(f"topic IN ({', '.join(repr(t) for t in TOPICS)})", name="topic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    topic: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    answer: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


TOPIC_NAMES = {
    "hours": "giờ khám",
    "address": "địa chỉ",
    "cost": "chi phí khám",
    "insurance": "bảo hiểm y tế (BHYT)",
    "documents": "giấy tờ cần mang khi đi khám",
}
CLOSURE_NOTICE_DAYS = 30


def answer(
    uow: UnitOfWork,
    hospital_slug: str,
    topic: str,
    department_slug: str | None = None,
    *,
    today: dt.date | None = None,
) -> str:
    """The hospital's answer on ``topic`` (one of TOPICS), for one department when ``department_slug`` is given.

    Vietnamese, starting with "Dạ," and naming the hospital (and the department). ``today`` (local date, default
    now) only decides which upcoming closures an hours answer mentions.
    Raises InvalidInput for an unknown topic, NotFound for an unknown hospital or department.
    """
    if topic not in TOPICS:
        raise InvalidInput(
            f"unknown FAQ topic {topic!r}; expected one of {', '.join(TOPICS)}",
            "Dạ, em chưa rõ anh/chị muốn hỏi thông tin gì. Anh/chị hỏi giúp em về giờ khám, địa chỉ, chi phí, "
            "BHYT hoặc giấy tờ cần mang nhé ạ.",
            topic=topic,
        )
    hospital = find_hospital(uow, hospital_slug)
    department = find_department(uow, hospital, department_slug) if department_slug else None
    notes = _entries(uow, hospital, topic, department)
    if topic == "hours":
        return _hours(uow, hospital, department, notes, today or local_today())
    if topic == "address":
        return _address(uow, hospital, department, notes)
    if topic == "cost":
        return _cost(uow, hospital, department, notes)
    return _from_entries(hospital, topic, department, notes)


# --- topics -------------------------------------------------------------------------------------------------


def _hours(uow: UnitOfWork, hospital: Hospital, department: Department | None, notes: list[str], today: dt.date) -> str:
    if department is None and hospital.opening_hours.strip():
        lines = [f"Dạ, giờ khám của {hospital.name}: {_sentence(hospital.opening_hours)}"]
    elif department is None:
        lines = [
            f"Dạ, {hospital.name} chưa cập nhật giờ khám. "
            f"Anh/chị vui lòng gọi {_phone(hospital.phone)} để được hướng dẫn ạ."
        ]
    else:
        week = _weekly_sessions(uow, department)
        who = _where(hospital, department)
        if week:
            lines = [f"Dạ, {who} khám: {week}."]
        else:
            lines = [
                f"Dạ, {who} hiện chưa có lịch khám cố định hằng tuần. "
                f"Anh/chị vui lòng gọi {_phone(hospital.phone)} để được hướng dẫn ạ."
            ]
    closures = _upcoming_closures(uow, hospital, department, today)
    if closures:
        lines.append(f"Lưu ý lịch nghỉ sắp tới: {closures}.")
    lines.extend(notes)
    lines.append(f"Trường hợp cấp cứu, anh/chị gọi ngay 115 hoặc số cấp cứu {_phone(hospital.emergency_phone)}.")
    return "\n".join(lines)


def _address(uow: UnitOfWork, hospital: Hospital, department: Department | None, notes: list[str]) -> str:
    if department is None:
        lines = [f"Dạ, {hospital.name} ở địa chỉ: {_sentence(hospital.address)}"]
    else:
        location, rooms = department.location.strip(), _rooms(uow, department)
        place = f"{location} ({rooms})" if location and rooms else location or rooms
        where = f"ở {place}, tại" if place else "thuộc"
        lines = [f"Dạ, {_department_label(department)} {where} {hospital.name}, địa chỉ: {_sentence(hospital.address)}"]
    lines.extend(notes)
    lines.append(f"Điện thoại liên hệ: {_phone(hospital.phone)}.")
    return "\n".join(lines)


def _cost(uow: UnitOfWork, hospital: Hospital, department: Department | None, notes: list[str]) -> str:
    visit_types = uow.session.scalars(
        select(VisitType).where(VisitType.hospital_id == hospital.id).order_by(VisitType.id)
    ).all()
    where = _where(hospital, department)
    if not visit_types:
        return "\n".join(
            [
                f"Dạ, {where} chưa công bố giá khám trên hệ thống.",
                *notes,
                f"Anh/chị vui lòng gọi {_phone(hospital.phone)} để được báo giá ạ.",
            ]
        )
    lines = [f"Dạ, giá khám tại {where}:"]
    covered = False
    for visit_type in visit_types:
        if visit_type.kind == VisitKind.INSURANCE.value:
            covered = True
            if visit_type.price_vnd == 0:
                price = "được quỹ BHYT chi trả theo quy định (theo mức hưởng ghi trên thẻ)"
            else:
                price = (
                    f"{vnd(visit_type.price_vnd)}, quỹ BHYT chi trả theo mức hưởng ghi trên thẻ; "
                    "anh/chị chỉ trả phần cùng chi trả (nếu có)"
                )
        else:
            price = vnd(visit_type.price_vnd) if visit_type.price_vnd else "miễn phí"
        lines.append(f"- {visit_type.name}: {price}")
    if notes:
        lines.extend(notes)
    elif covered:
        lines.append(
            "Phần cùng chi trả BHYT (nếu có) tùy đối tượng ghi trên thẻ và nơi đăng ký khám ban đầu; "
            f"chi tiết anh/chị vui lòng gọi {_phone(hospital.phone)} ạ."
        )
    return "\n".join(lines)


def _from_entries(hospital: Hospital, topic: str, department: Department | None, notes: list[str]) -> str:
    """insurance and documents: the hospital's entries (documents with a department: what to bring too)."""
    subject = TOPIC_NAMES[topic]
    bring = department.what_to_bring.strip() if department is not None and topic == "documents" else ""
    if not notes and not bring:
        for_department = f" cho {_department_label(department)}" if department else ""
        return (
            f"Dạ, {hospital.name} chưa cập nhật thông tin về {subject}{for_department}. "
            f"Anh/chị vui lòng gọi {_phone(hospital.phone)} để được nhân viên hướng dẫn ạ."
        )
    where = _where(hospital, department)
    header = "về bảo hiểm y tế (BHYT)" if topic == "insurance" else "giấy tờ cần mang khi đi khám"
    lines = [f"Dạ, {header} tại {where}:", *notes]
    if bring:
        lines.append(f"Khi khám {_department_label(department)}, anh/chị mang theo: {_sentence(_lower_first(bring))}")
    return "\n".join(lines)


# --- data ---------------------------------------------------------------------------------------------------


def _entries(uow: UnitOfWork, hospital: Hospital, topic: str, department: Department | None) -> list[str]:
    """The hospital-wide entry, then the department's own (when a department is asked about)."""
    department_match = HospitalFaq.department_id.is_(None)
    if department is not None:
        department_match = or_(department_match, HospitalFaq.department_id == department.id)
    rows = uow.session.execute(
        select(HospitalFaq.department_id, HospitalFaq.answer).where(
            HospitalFaq.hospital_id == hospital.id, HospitalFaq.topic == topic, department_match
        )
    ).all()
    rows = sorted(rows, key=lambda row: row.department_id is not None)
    return [
        _sentence(
            row.answer.strip()
            if row.department_id is None
            else f"Riêng {_department_label(department)}: {_lower_first(row.answer.strip())}"
        )
        for row in rows
        if row.answer.strip()
    ]


def _active_schedules(uow: UnitOfWork, department: Department) -> list[Schedule]:
    return list(
        uow.session.scalars(
            select(Schedule)
            .where(Schedule.department_id == department.id, Schedule.active.is_(True))
            .order_by(Schedule.weekday, Schedule.start_time, Schedule.id)
        )
    )


def _weekly_sessions(uow: UnitOfWork, department: Department) -> str:
    """The department's week, e.g. "thứ Hai–thứ Sáu sáng 7:00–11:00, chiều 13:30–16:30; thứ Bảy sáng 7:00–11:00;
    Chủ nhật nghỉ".

    Sessions of one part of a day that touch or overlap (several doctors, split rooms) read as one; weekdays
    with the same sessions are grouped; "" when the department has no active session."""
    by_day: dict[int, dict[str, list[tuple[dt.time, dt.time]]]] = {}
    for schedule in _active_schedules(uow, department):
        by_day.setdefault(schedule.weekday, {}).setdefault(schedule.part_of_day, []).append(
            (schedule.start_time, schedule.end_time)
        )
    if not by_day:
        return ""
    groups: dict[str, list[int]] = {}
    for weekday in sorted(by_day):
        sessions = sorted(
            ((start, end, part) for part, spans in by_day[weekday].items() for start, end in _merge(spans)),
        )
        phrase = ", ".join(f"{part_of_day_vi(part)} {_clock(start)}–{_clock(end)}" for start, end, part in sessions)
        groups.setdefault(phrase, []).append(weekday)
    parts = [f"{_days(days)} {phrase}" for phrase, days in groups.items()]
    closed = [weekday for weekday in range(7) if weekday not in by_day]
    if closed:
        parts.append(f"{_days(closed)} nghỉ")
    return "; ".join(parts)


def _merge(spans: list[tuple[dt.time, dt.time]]) -> list[tuple[dt.time, dt.time]]:
    merged: list[tuple[dt.time, dt.time]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _days(weekdays: Iterable[int]) -> str:
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


def _rooms(uow: UnitOfWork, department: Department) -> str:
    rooms: list[str] = []
    for schedule in _active_schedules(uow, department):
        room = schedule.room.strip()
        if room and room not in rooms:
            rooms.append(room)
    return ", ".join(rooms)


def _upcoming_closures(uow: UnitOfWork, hospital: Hospital, department: Department | None, today: dt.date) -> str:
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
            f"ngày {_date(closure.start_date)}"
            if closure.start_date == closure.end_date
            else f"từ {_date(closure.start_date)} đến {_date(closure.end_date)}"
        )
        reason = closure.reason.strip()
        phrases.append(f"{days} ({reason})" if reason else days)
    return "; ".join(phrases)


# --- wording ------------------------------------------------------------------------------------------------


def _department_label(department: Department) -> str:
    """How to call a department in a sentence: "Nhi" → "khoa Nhi", "Khám tổng quát" → "phòng Khám tổng quát";
    names that already say what they are ("Khoa …", "Phòng khám …") as they are."""
    name = department.name.strip()
    lowered = name.lower()
    if lowered.startswith(("khoa ", "phòng ", "trung tâm ", "đơn vị ", "viện ")):
        return name
    if lowered.startswith("khám "):
        return f"phòng {name}"
    return f"khoa {name}"


def _where(hospital: Hospital, department: Department | None) -> str:
    return f"{_department_label(department)} của {hospital.name}" if department else hospital.name


def _lower_first(value: str) -> str:
    """Lower-case the first letter ("Giấy khai sinh…" → "giấy khai sinh…") unless it starts an acronym (CCCD)."""
    return value[0].lower() + value[1:] if len(value) > 1 and value[1].islower() else value


def _phone(phone: str) -> str:
    return national_phone(phone) if phone.startswith("+84") else phone


def _clock(moment: dt.time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def _date(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def _sentence(value: str) -> str:
    """Trimmed, ending with a full stop (or the punctuation it already has)."""
    value = value.strip()
    return value if not value or value.rstrip(")\"'”»").endswith((".", "!", "?", "…")) else value + "."
