"""Reception timings: the desk's look-up and check-in times (the staff console's figures)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reception_timings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("desk", sa.String(length=40), nullable=False),
        sa.Column("lookup_kind", sa.String(length=10), nullable=False),
        sa.Column("looked_up_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_reception_timings_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_reception_timings_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_accounts.id"], name=op.f("fk_reception_timings_staff_id_staff_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reception_timings")),
    )
    with op.batch_alter_table("reception_timings") as batch:
        batch.create_index(batch.f("ix_reception_timings_appointment_id"), ["appointment_id"], unique=False)
        batch.create_index("ix_reception_timings_hospital_checked_in", ["hospital_id", "checked_in_at"], unique=False)


def downgrade() -> None:
    op.drop_table("reception_timings")
