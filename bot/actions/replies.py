"""How the assistant words dates, slots and appointments for patients (Vietnamese, polite register)."""

from __future__ import annotations

import json
from typing import Any

from core.booking.views import AppointmentView, SlotView
from core.wording import part_of_day_vi, short_day_vi, when_vi

MAIN_MENU = [
    {"title": "Đặt lịch khám", "payload": "/book_appointment"},
    {"title": "Lịch hẹn của tôi", "payload": "/check_appointment"},
    {"title": "Giờ làm việc, địa chỉ", "payload": "/ask_opening_hours"},
    {"title": "Gặp nhân viên", "payload": "/request_human"},
]
STAFF_BUTTON = {"title": "Gặp nhân viên", "payload": "/request_human"}
MAX_BUTTONS = 5  # what one Zalo message shows


def payload(intent: str, **entities: Any) -> str:
    """A button's payload: the intent and entities Rasa receives when the user taps it."""
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


def button(title: str, intent: str, **entities: Any) -> dict[str, str]:
    return {"title": title[:100], "payload": payload(intent, **entities)}


def slot_title(slot: SlotView) -> str:
    """A short button title: "Thứ Hai 30/11 – 07:15"."""
    return f"{short_day_vi(slot.day)} – {slot.start:%H:%M}"


def appointment_title(a: AppointmentView) -> str:
    """A short button title: "K7M2QX – 07:30 07/12"."""
    return f"{a.code} – {a.start:%H:%M} {a.day:%d/%m}"


def appointment_line(a: AppointmentView) -> str:
    """One line per appointment in a list."""
    return f"{a.code}: {a.department_name}, {when_vi(a.start)} ({a.patient_name})"


def appointment_details(a: AppointmentView) -> str:
    """Everything the patient needs on the day: code, queue number, time, place, what to bring."""
    place = ", ".join(part for part in (a.location, a.room) if part)
    lines = [
        f"Mã lịch hẹn: {a.code}",
        f"Người khám: {a.patient_name}",
        f"Nơi khám: khoa {a.department_name}, {a.hospital_name}",
        f"Thời gian: {when_vi(a.start)} (buổi {part_of_day_vi(a.part_of_day)})",
        f"Số thứ tự: {a.queue_number}",
    ]
    if place:
        lines.append(f"Địa điểm: {place}")
    if a.doctor:
        lines.append(f"Bác sĩ: {a.doctor}")
    if a.visit_type:
        lines.append("Hình thức: " + ("khám BHYT" if a.visit_type == "bhyt" else "khám dịch vụ"))
    if a.what_to_bring:
        lines.append(f"Mang theo: {a.what_to_bring}")
    return "\n".join(lines)


def confirm_buttons(yes: str, no: str) -> list[dict[str, str]]:
    """Yes, another time, or no: the choices under every summary that asks for confirmation."""
    return [button(yes, "affirm"), button("Chọn giờ khác", "inform", change="slot"), button(no, "deny")]
