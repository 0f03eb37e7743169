"""The staff inbox: when a conversation joined the staff queue, who of the staff took it; indexes for the
waiting list and the transcripts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("needs_staff")


def upgrade() -> None:
    with op.batch_alter_table("zalo_conversations") as batch:
        batch.add_column(sa.Column("needs_staff_since", core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("taken_by_staff_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("taken_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_zalo_conversations_taken_by_staff_id_staff_accounts"),
            "staff_accounts",
            ["taken_by_staff_id"],
            ["id"],
        )
        batch.create_index(
            "ix_zalo_conversations_waiting",
            ["oa_id", "needs_staff_since"],
            unique=False,
            postgresql_where=WAITING,
            sqlite_where=WAITING,
        )
    # Conversations already waiting keep their place in the queue: since their last change.
    op.execute("UPDATE zalo_conversations SET needs_staff_since = updated_at WHERE needs_staff")
    op.create_index("ix_zalo_inbox_user", "zalo_inbox", ["oa_id", "user_id", "id"])
    op.create_index("ix_zalo_outbox_user", "zalo_outbox", ["oa_id", "user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_zalo_outbox_user", table_name="zalo_outbox")
    op.drop_index("ix_zalo_inbox_user", table_name="zalo_inbox")
    with op.batch_alter_table("zalo_conversations") as batch:
        batch.drop_index("ix_zalo_conversations_waiting")
        batch.drop_constraint("fk_zalo_conversations_taken_by_staff_id_staff_accounts", type_="foreignkey")
        batch.drop_column("taken_at")
        batch.drop_column("taken_by_staff_id")
        batch.drop_column("needs_staff_since")
