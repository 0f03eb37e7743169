"""Data-subject requests move to core: the hospital that answers, the account, the channel, the decision

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("data_subject_requests") as batch:
        batch.add_column(sa.Column("hospital_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=20), server_default="zalo", nullable=False))
        batch.add_column(sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("decision_reason", sa.Text(), server_default="", nullable=False))
        batch.create_foreign_key(
            batch.f("fk_data_subject_requests_hospital_id_hospitals"), "hospitals", ["hospital_id"], ["id"]
        )
        batch.create_foreign_key(
            batch.f("fk_data_subject_requests_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
        batch.create_index("ix_data_subject_requests_hospital_status", ["hospital_id", "status"], unique=False)
    # Requests made before: the hospital of the OA they were made to (none: an OA serving every hospital).
    op.execute(
        "UPDATE data_subject_requests SET hospital_id = "
        "(SELECT zalo_oas.hospital_id FROM zalo_oas WHERE zalo_oas.oa_id = data_subject_requests.oa_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("data_subject_requests") as batch:
        batch.drop_index("ix_data_subject_requests_hospital_status")
        batch.drop_constraint(batch.f("fk_data_subject_requests_account_id_accounts"), type_="foreignkey")
        batch.drop_constraint(batch.f("fk_data_subject_requests_hospital_id_hospitals"), type_="foreignkey")
        for column in ("decision_reason", "decided_by", "decided_at", "channel", "account_id", "hospital_id"):
            batch.drop_column(column)
