"""Daily figures: the roll-up table of the staff console's figures, and the index the roll-up reads bookings by

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("dim", sa.String(length=120), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"], name=op.f("fk_daily_figures_hospital_id_hospitals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_figures")),
        sa.UniqueConstraint(
            "hospital_id",
            "grain",
            "day",
            "metric",
            "dim",
            "bucket",
            name=op.f("uq_daily_figures_hospital_id_grain_day_metric_dim_bucket"),
        ),
    )
    with op.batch_alter_table("daily_figures") as batch:
        batch.create_index("ix_daily_figures_grain_day", ["grain", "day"], unique=False)
    with op.batch_alter_table("appointments") as batch:
        batch.create_index("ix_appointments_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.drop_index("ix_appointments_created_at")
    op.drop_table("daily_figures")
