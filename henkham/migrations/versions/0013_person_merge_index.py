"""EMR persons: an index on merged_into_id (a record read looks up the persons merged into it)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("emr_persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emr_persons_merged_into_id"), ["merged_into_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("emr_persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emr_persons_merged_into_id"))
