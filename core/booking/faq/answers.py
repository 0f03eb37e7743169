"""The answer on each topic, put together from the hospital's data and its own entries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.errors import InvalidInput
from core.timeutil import local_today
from core.uow import UnitOfWork
from core.wording import vnd

from ..catalogue import find_department, find_hospital
from ..models import Department, Hospital, VisitKind, VisitType
from .entries import TOPICS, written_entries
from .phrasing import department_label, hospital_place, lower_first, phone_vi, sentence
from .schedule import department_rooms, upcoming_closures, weekly_sessions

TOPIC_NAMES = {
    "hours": "giờ khám",
    "address": "địa chỉ",
    "cost": "chi phí khám",
    "insurance": "bảo hiểm y tế (BHYT)",
    "documents": "giấy tờ cần mang khi đi khám",
}


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
    notes = written_entries(uow, hospital, topic, department)
    if topic == "hours":
        return _hours(uow, hospital, department, notes, today or local_today())
    if topic == "address":
        return _address(uow, hospital, department, notes)
    if topic == "cost":
        return _cost(uow, hospital, department, notes)
    return _from_entries(hospital, topic, department, notes)


def _hours(uow: UnitOfWork, hospital: Hospital, department: Department | None, notes: list[str], today: dt.date) -> str:
    if department is None and hospital.opening_hours.strip():
        lines = [f"Dạ, giờ khám của {hospital.name}: {sentence(hospital.opening_hours)}"]
    elif department is None:
        lines = [
            f"Dạ, {hospital.name} chưa cập nhật giờ khám. "
            f"Anh/chị vui lòng gọi {phone_vi(hospital.phone)} để được hướng dẫn ạ."
        ]
    else:
        week = weekly_sessions(uow, department)
        who = hospital_place(hospital, department)
        if week:
            lines = [f"Dạ, {who} khám: {week}."]
        else:
            lines = [
                f"Dạ, {who} hiện chưa có lịch khám cố định hằng tuần. "
                f"Anh/chị vui lòng gọi {phone_vi(hospital.phone)} để được hướng dẫn ạ."
            ]
    closures = upcoming_closures(uow, hospital, department, today)
    if closures:
        lines.append(f"Lưu ý lịch nghỉ sắp tới: {closures}.")
    lines.extend(notes)
    lines.append(f"Trường hợp cấp cứu, anh/chị gọi ngay 115 hoặc số cấp cứu {phone_vi(hospital.emergency_phone)}.")
    return "\n".join(lines)


def _address(uow: UnitOfWork, hospital: Hospital, department: Department | None, notes: list[str]) -> str:
    if department is None:
        lines = [f"Dạ, {hospital.name} ở địa chỉ: {sentence(hospital.address)}"]
    else:
        location, rooms = department.location.strip(), department_rooms(uow, department)
        place = f"{location} ({rooms})" if location and rooms else location or rooms
        where = f"ở {place}, tại" if place else "thuộc"
        lines = [f"Dạ, {department_label(department)} {where} {hospital.name}, địa chỉ: {sentence(hospital.address)}"]
    lines.extend(notes)
    lines.append(f"Điện thoại liên hệ: {phone_vi(hospital.phone)}.")
    return "\n".join(lines)


def _cost(uow: UnitOfWork, hospital: Hospital, department: Department | None, notes: list[str]) -> str:
    visit_types = uow.session.scalars(
        select(VisitType).where(VisitType.hospital_id == hospital.id).order_by(VisitType.id)
    ).all()
    where = hospital_place(hospital, department)
    if not visit_types:
        return "\n".join(
            [
                f"Dạ, {where} chưa công bố giá khám trên hệ thống.",
                *notes,
                f"Anh/chị vui lòng gọi {phone_vi(hospital.phone)} để được báo giá ạ.",
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
            f"chi tiết anh/chị vui lòng gọi {phone_vi(hospital.phone)} ạ."
        )
    return "\n".join(lines)


def _from_entries(hospital: Hospital, topic: str, department: Department | None, notes: list[str]) -> str:
    """insurance and documents: the hospital's entries (documents with a department: what to bring too)."""
    subject = TOPIC_NAMES[topic]
    bring = department.what_to_bring.strip() if department is not None and topic == "documents" else ""
    if not notes and not bring:
        for_department = f" cho {department_label(department)}" if department else ""
        return (
            f"Dạ, {hospital.name} chưa cập nhật thông tin về {subject}{for_department}. "
            f"Anh/chị vui lòng gọi {phone_vi(hospital.phone)} để được nhân viên hướng dẫn ạ."
        )
    where = hospital_place(hospital, department)
    header = "về bảo hiểm y tế (BHYT)" if topic == "insurance" else "giấy tờ cần mang khi đi khám"
    lines = [f"Dạ, {header} tại {where}:", *notes]
    if bring:
        lines.append(f"Khi khám {department_label(department)}, anh/chị mang theo: {sentence(lower_first(bring))}")
    return "\n".join(lines)
