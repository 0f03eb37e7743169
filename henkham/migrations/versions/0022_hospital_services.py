"""The services each hospital does, by name, and the department that does them

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hospital_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("folded_name", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("source IN ('catalogue', 'his')", name=op.f("ck_hospital_services_source")),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_hospital_services_department_id_departments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_hospital_services_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_services")),
        sa.UniqueConstraint("hospital_id", "folded_name", name=op.f("uq_hospital_services_hospital_id_folded_name")),
    )
    with op.batch_alter_table("hospital_services") as batch:
        batch.create_index("ix_hospital_services_hospital_id", ["hospital_id"], unique=False)
        batch.create_index("ix_hospital_services_department_id", ["department_id"], unique=False)


def downgrade() -> None:
    op.drop_table("hospital_services")
