"""partial index for slot search: bookable slots of a department in time order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slots") as batch_op:
        batch_op.create_index(
            "ix_slots_free_by_department",
            ["department_id", "start_at", "id"],
            unique=False,
            postgresql_where=sa.text("closed IS false AND booked < capacity"),
            sqlite_where=sa.text("closed IS 0 AND booked < capacity"),
        )


def downgrade() -> None:
    with op.batch_alter_table("slots") as batch_op:
        batch_op.drop_index("ix_slots_free_by_department")
