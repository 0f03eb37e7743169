"""news campaigns, recipients and the follower-tag mirror

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "news_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("link_url", sa.String(length=500), nullable=True),
        sa.Column("target_kind", sa.String(length=12), nullable=False),
        sa.Column("target_oa_id", sa.String(length=40), nullable=True),
        sa.Column("target_topic", sa.String(length=40), nullable=True),
        sa.Column("send_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recipients_total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_news_campaigns_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_campaigns")),
    )
    with op.batch_alter_table("news_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_news_campaigns_status_send_at", ["status", "send_at"], unique=False)

    op.create_table(
        "news_campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("oa_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("message_key", sa.String(length=200), nullable=True),
        sa.Column("queued_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_news_campaign_recipients_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["news_campaigns.id"], name=op.f("fk_news_campaign_recipients_campaign_id_news_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "oa_id", "user_id", name=op.f("uq_news_campaign_recipients_campaign_id_oa_id_user_id")
        ),
    )
    with op.batch_alter_table("news_campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_news_campaign_recipients_campaign_status", ["campaign_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_news_campaign_recipients_user_queued", ["oa_id", "user_id", "queued_at"], unique=False
        )

    op.create_table(
        "news_tag_mirror",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("oa_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("tagged", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("next_attempt_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("synced_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["news_subscriptions.id"],
            name=op.f("fk_news_tag_mirror_subscription_id_news_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_tag_mirror")),
        sa.UniqueConstraint("subscription_id", name=op.f("uq_news_tag_mirror_subscription_id")),
    )


def downgrade() -> None:
    op.drop_table("news_tag_mirror")
    with op.batch_alter_table("news_campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_news_campaign_recipients_user_queued")
        batch_op.drop_index("ix_news_campaign_recipients_campaign_status")

    op.drop_table("news_campaign_recipients")
    with op.batch_alter_table("news_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_news_campaigns_status_send_at")

    op.drop_table("news_campaigns")
