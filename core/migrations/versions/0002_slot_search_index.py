"""slot search index covers the ORDER BY (start_at, id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slots") as batch_op:
        batch_op.drop_index("ix_slots_department_start")
        batch_op.create_index("ix_slots_department_start_id", ["department_id", "start_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slots") as batch_op:
        batch_op.drop_index("ix_slots_department_start_id")
        batch_op.create_index("ix_slots_department_start", ["department_id", "start_at"], unique=False)
