"""What reminders are about, as plain values (the API and the channel read these)."""

from __future__ import annotations

import datetime as dt
from functools import cache

from sqlalchemy import Row, Select, select

from core.booking.models import DEPARTMENTS, HOSPITALS, PATIENTS
from core.booking.views import View

from .models import ReExam


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

    @staticmethod
    @cache  # built once: making a statement costs more CPU than running it
    def query() -> Select:
        """The columns of the view, one row per re-exam date, with what access checks use."""
        re_exams = ReExam.__table__
        return (
            select(
                re_exams.c.id,
                HOSPITALS.c.slug.label("hospital"),
                HOSPITALS.c.name.label("hospital_name"),
                re_exams.c.patient_id,
                PATIENTS.c.full_name.label("patient_name"),
                DEPARTMENTS.c.slug.label("department"),
                DEPARTMENTS.c.name.label("department_name"),
                re_exams.c.due_date,
                re_exams.c.note,
                re_exams.c.source,
                re_exams.c.cancelled_at,
                re_exams.c.hospital_id,
                re_exams.c.department_id,
            )
            .select_from(re_exams)
            .join(HOSPITALS, HOSPITALS.c.id == re_exams.c.hospital_id)
            .join(PATIENTS, PATIENTS.c.id == re_exams.c.patient_id)
            .outerjoin(DEPARTMENTS, DEPARTMENTS.c.id == re_exams.c.department_id)
        )

    @classmethod
    def from_row(cls, row: Row) -> ReExamView:
        data = {name: getattr(row, name) for name in cls.model_fields if name != "cancelled"}
        return cls(**data, cancelled=row.cancelled_at is not None)
