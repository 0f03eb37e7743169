"""hospital FAQ entries and health-news subscriptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


HOSPITAL_WIDE = sa.text("department_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "hospital_faq",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "topic IN ('hours', 'address', 'cost', 'insurance', 'documents')", name=op.f("ck_hospital_faq_topic")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_hospital_faq_department_id_departments")
        ),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"], name=op.f("fk_hospital_faq_hospital_id_hospitals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospital_faq")),
        sa.UniqueConstraint(
            "hospital_id", "topic", "department_id", name=op.f("uq_hospital_faq_hospital_id_topic_department_id")
        ),
    )
    # NULLs are distinct in the unique constraint: one hospital-wide entry per topic needs a partial index.
    with op.batch_alter_table("hospital_faq") as batch_op:
        batch_op.create_index(
            "uq_hospital_faq_hospital_wide",
            ["hospital_id", "topic"],
            unique=True,
            postgresql_where=HOSPITAL_WIDE,
            sqlite_where=HOSPITAL_WIDE,
        )

    op.create_table(
        "news_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_news_subscriptions_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_news_subscriptions_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_subscriptions")),
        sa.UniqueConstraint(
            "account_id", "hospital_id", "topic", name=op.f("uq_news_subscriptions_account_id_hospital_id_topic")
        ),
    )
    with op.batch_alter_table("news_subscriptions") as batch_op:
        batch_op.create_index("ix_news_subscriptions_hospital_topic", ["hospital_id", "topic"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("news_subscriptions") as batch_op:
        batch_op.drop_index("ix_news_subscriptions_hospital_topic")
    op.drop_table("news_subscriptions")
    with op.batch_alter_table("hospital_faq") as batch_op:
        batch_op.drop_index("uq_hospital_faq_hospital_wide")
    op.drop_table("hospital_faq")
