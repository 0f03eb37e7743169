"""What reminders are about, as plain values (the API and the channel read these)."""

from __future__ import annotations

import datetime as dt

from core.booking.views import View


class ReExamView(View):
    id: int
    hospital: str  # slug
    hospital_name: str
    patient_id: int
    patient_name: str
    department: str | None  # slug; None: the doctor named no department
    department_name: str | None
    due_date: dt.date
    note: str
    source: str
    cancelled: bool
