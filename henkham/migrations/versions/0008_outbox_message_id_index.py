"""index of the outbox by Zalo message id: an oa_send_* echo is ours when its msg_id is one we were given

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_zalo_outbox_message_id", "zalo_outbox", ["oa_id", "zalo_message_id"])


def downgrade() -> None:
    op.drop_index("ix_zalo_outbox_message_id", table_name="zalo_outbox")
