"""How an FAQ answer writes a department, a place, a phone, a time, a date and a sentence."""

from __future__ import annotations

import datetime as dt

from core.identifiers import national_phone

from ..models import Department, Hospital


def department_label(department: Department) -> str:
    """How to call a department in a sentence: "Nhi" → "khoa Nhi", "Khám tổng quát" → "phòng Khám tổng quát";
    names that already say what they are ("Khoa …", "Phòng khám …") as they are."""
    name = department.name.strip()
    lowered = name.lower()
    if lowered.startswith(("khoa ", "phòng ", "trung tâm ", "đơn vị ", "viện ")):
        return name
    if lowered.startswith("khám "):
        return f"phòng {name}"
    return f"khoa {name}"


def hospital_place(hospital: Hospital, department: Department | None) -> str:
    return f"{department_label(department)} của {hospital.name}" if department else hospital.name


def lower_first(value: str) -> str:
    """Lower-case the first letter ("Giấy khai sinh…" → "giấy khai sinh…") unless it starts an acronym (CCCD)."""
    return value[0].lower() + value[1:] if len(value) > 1 and value[1].islower() else value


def phone_vi(phone: str) -> str:
    return national_phone(phone) if phone.startswith("+84") else phone


def clock(moment: dt.time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def date_vi(day: dt.date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def sentence(value: str) -> str:
    """Trimmed, ending with a full stop (or the punctuation it already has)."""
    value = value.strip()
    return value if not value or value.rstrip(")\"'”»").endswith((".", "!", "?", "…")) else value + "."
