"""Staff accounts and the append-only log of staff actions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.timeutil import utcnow


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)  # lower case
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"), index=True)  # None: province
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]


class StaffAction(Base):
    """One thing a staff member did (or tried: a refused login), with ids only: never names or phones."""

    __tablename__ = "staff_actions"
    __table_args__ = (Index("ix_staff_actions_hospital_at", "hospital_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    hospital_id: Mapped[int | None] = mapped_column(ForeignKey("hospitals.id"))
    action: Mapped[str] = mapped_column(String(40))
    target_kind: Mapped[str] = mapped_column(String(30), default="")
    target_id: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str | None] = mapped_column(Text)


class ReceptionTiming(Base):
    """One desk reception: when the receptionist looked the booking up and when they checked the patient in.

    The province's second measure (reception of a booked patient in about 20 seconds) is read from these rows:
    ``checked_in_at - looked_up_at`` per receptionist and desk. A look-up that never led to a check-in keeps
    ``checked_in_at`` empty. Ids only, no patient data.
    """

    __tablename__ = "reception_timings"
    __table_args__ = (Index("ix_reception_timings_hospital_checked_in", "hospital_id", "checked_in_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    desk: Mapped[str] = mapped_column(String(40), default="")  # the desk's name, as the receptionist set it
    lookup_kind: Mapped[str] = mapped_column(String(10), default="code")  # code | phone
    looked_up_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checked_in_at: Mapped[dt.datetime | None]
