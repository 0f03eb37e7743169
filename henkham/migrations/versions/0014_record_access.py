"""Record access in chat: reader links, one-time codes, consent decisions, result notices; the audit outcome;
an index on emr_persons.phone (the chat phone check)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emr_reader_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=10), nullable=False),
        sa.Column("verified_by", sa.String(length=10), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("removed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_emr_reader_links_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_emr_reader_links_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["emr_persons.id"], name=op.f("fk_emr_reader_links_person_id_emr_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emr_reader_links")),
    )
    with op.batch_alter_table("emr_reader_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emr_reader_links_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_emr_reader_links_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "uq_emr_reader_links_live",
            ["account_id", "person_id"],
            unique=True,
            postgresql_where=sa.text("removed_at IS NULL"),
            sqlite_where=sa.text("removed_at IS NULL"),
        )

    op.create_table(
        "emr_code_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_emr_code_challenges_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emr_code_challenges")),
    )
    with op.batch_alter_table("emr_code_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emr_code_challenges_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_emr_code_challenges_digest"), ["digest"], unique=False)

    op.create_table(
        "emr_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("text_version", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_emr_consents_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emr_consents")),
    )
    with op.batch_alter_table("emr_consents", schema=None) as batch_op:
        batch_op.create_index("ix_emr_consents_account_purpose", ["account_id", "purpose", "id"], unique=False)

    op.create_table(
        "emr_result_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_emr_result_notices_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["emr_visits.id"], name=op.f("fk_emr_result_notices_visit_id_emr_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emr_result_notices")),
        sa.UniqueConstraint("visit_id", "account_id", name=op.f("uq_emr_result_notices_visit_id_account_id")),
    )
    with op.batch_alter_table("emr_result_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emr_result_notices_account_id"), ["account_id"], unique=False)

    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=10), server_default="read", nullable=False))

    with op.batch_alter_table("emr_persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emr_persons_phone"), ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("emr_persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emr_persons_phone"))

    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.drop_column("outcome")

    with op.batch_alter_table("emr_result_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emr_result_notices_account_id"))
    op.drop_table("emr_result_notices")

    with op.batch_alter_table("emr_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_emr_consents_account_purpose")
    op.drop_table("emr_consents")

    with op.batch_alter_table("emr_code_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emr_code_challenges_digest"))
        batch_op.drop_index(batch_op.f("ix_emr_code_challenges_account_id"))
    op.drop_table("emr_code_challenges")

    with op.batch_alter_table("emr_reader_links", schema=None) as batch_op:
        batch_op.drop_index("uq_emr_reader_links_live")
        batch_op.drop_index(batch_op.f("ix_emr_reader_links_person_id"))
        batch_op.drop_index(batch_op.f("ix_emr_reader_links_account_id"))
    op.drop_table("emr_reader_links")
