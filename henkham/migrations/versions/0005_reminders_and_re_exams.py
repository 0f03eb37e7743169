"""reminders, re-exam dates, appointment confirmation and the outbox's useful-until time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "re_exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_re_exams_department_id_departments")
        ),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"], name=op.f("fk_re_exams_hospital_id_hospitals")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_re_exams_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_re_exams")),
    )
    with op.batch_alter_table("re_exams", schema=None) as batch_op:
        batch_op.create_index("ix_re_exams_due_date", ["due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_re_exams_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("re_exam_id", sa.Integer(), nullable=True),
        sa.Column("target_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=14), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("message_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_reminders_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"], name=op.f("fk_reminders_hospital_id_hospitals")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f("fk_reminders_patient_id_patients")),
        sa.ForeignKeyConstraint(["re_exam_id"], ["re_exams.id"], name=op.f("fk_reminders_re_exam_id_re_exams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("key", name=op.f("uq_reminders_key")),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index("ix_reminders_appointment_kind", ["appointment_id", "kind", "target_at"], unique=False)

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("zalo_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("useful_until", core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zalo_outbox", schema=None) as batch_op:
        batch_op.drop_column("useful_until")

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("confirmed_at")

    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_appointment_kind")

    op.drop_table("reminders")
    with op.batch_alter_table("re_exams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_re_exams_patient_id"))
        batch_op.drop_index("ix_re_exams_due_date")

    op.drop_table("re_exams")
