"""API keys: expiry, last use, trusted account header; the append-only access audit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("trusted_account_header", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "access_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=80), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("record_kind", sa.String(length=30), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit")),
    )
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_audit_at"), ["at"], unique=False)
        batch_op.create_index("ix_access_audit_record", ["record_kind", "record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_access_audit_record")
        batch_op.drop_index(batch_op.f("ix_access_audit_at"))
    op.drop_table("access_audit")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("trusted_account_header")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
