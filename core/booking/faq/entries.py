"""The hospital's own FAQ answers (the ``hospital_faq`` table), hospital-wide or for one department."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, or_, select, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.timeutil import utcnow
from core.uow import UnitOfWork

from ..models import Department, Hospital
from .phrasing import department_label, lower_first, sentence

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


def written_entries(uow: UnitOfWork, hospital: Hospital, topic: str, department: Department | None) -> list[str]:
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
        sentence(
            row.answer.strip()
            if row.department_id is None
            else f"Riêng {department_label(department)}: {lower_first(row.answer.strip())}"
        )
        for row in rows
        if row.answer.strip()
    ]
