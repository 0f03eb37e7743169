"""Reminders (one row per reminder, unique by its key: sent at most once) and re-exam dates."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.timeutil import utcnow


class ReminderOutcome(enum.StrEnum):
    QUEUED = "queued"  # handed to the channel (its outbox says whether it was delivered)
    UNDELIVERABLE = "undeliverable"  # no way to reach the patient (reason says why)
    SKIPPED = "skipped"  # no longer useful (reason says why)


class Reminder(Base):
    """A reminder planned for an appointment or a re-exam date. ``key`` is unique: for an appointment
    ``appt:<id>:<kind>:<start>`` (a rescheduled appointment has a new start, so new reminders), for a re-exam
    ``reexam:<id>:<kind>``, after a missed visit ``no_show:<id>``."""

    __tablename__ = "reminders"
    # Planning asks "has this appointment had this kind of reminder for its current start?".
    __table_args__ = (Index("ix_reminders_appointment_kind", "appointment_id", "kind", "target_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # before_24h, before_2h, reexam_3d, no_show, ...
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    re_exam_id: Mapped[int | None] = mapped_column(ForeignKey("re_exams.id"))
    target_at: Mapped[dt.datetime] = mapped_column()  # the visit's start (re-exam: the date's midnight, UTC)
    due_at: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(14))
    reason: Mapped[str] = mapped_column(String(200), default="")
    message_key: Mapped[str | None] = mapped_column(String(200))  # the channel's idempotency key, when queued


class ReExam(Base):
    """A follow-up visit the doctor asked for (from the EMR once it lands; entered through the API now)."""

    __tablename__ = "re_exams"
    __table_args__ = (Index("ix_re_exams_due_date", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    due_date: Mapped[dt.date] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="api")
    # The record it comes from, when imported ("emr:<facility>:<MA_LK>"): a corrected slip moves this row and
    # a cancelled visit cancels it.
    source_ref: Mapped[str | None] = mapped_column(String(160), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()


REMINDERS = Reminder.__table__
