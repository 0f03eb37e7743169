"""Access audit: the channel a read came through and what was read (clinical records)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), server_default="", nullable=False))
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.drop_column("detail")
        batch_op.drop_column("channel")
