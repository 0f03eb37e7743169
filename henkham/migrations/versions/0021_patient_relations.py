"""Patient relations as said: mother, father, son, daughter, wife, husband, grandparents, grandchild, sibling

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COARSE = ("self", "child", "parent", "spouse", "other")
AS_SAID = (
    "self", "child", "son", "daughter", "parent", "mother", "father", "spouse", "wife", "husband",
    "grandparent", "grandmother", "grandfather", "grandchild", "sibling", "other",
)  # fmt: skip
# What each relation as said was before this revision, for the downgrade.
COARSE_OF = {
    "son": "child", "daughter": "child", "mother": "parent", "father": "parent", "wife": "spouse",
    "husband": "spouse", "grandparent": "other", "grandmother": "other", "grandfather": "other",
    "grandchild": "other", "sibling": "other",
}  # fmt: skip


def _allowed(values: Sequence[str]) -> str:
    return f"relation IN ({', '.join(repr(v) for v in values)})"


def _rebuilt_keeps_the_card_index() -> None:
    """SQLite's batch mode rebuilds the table and cannot reflect the expression index of 0012: made again."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX IF NOT EXISTS ix_patients_insurance_sin ON patients (substr(insurance_number, 6, 10))")


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_constraint(batch.f("ck_patients_relation"), type_="check")
        batch.alter_column("relation", existing_type=sa.String(length=10), type_=sa.String(length=20))
        batch.create_check_constraint("relation", _allowed(AS_SAID))
    _rebuilt_keeps_the_card_index()


def downgrade() -> None:
    patients = sa.table("patients", sa.column("relation", sa.String()))
    for said, coarse in COARSE_OF.items():
        op.execute(patients.update().where(patients.c.relation == said).values(relation=coarse))
    with op.batch_alter_table("patients") as batch:
        batch.drop_constraint(batch.f("ck_patients_relation"), type_="check")
        batch.alter_column("relation", existing_type=sa.String(length=20), type_=sa.String(length=10))
        batch.create_check_constraint("relation", _allowed(COARSE))
    _rebuilt_keeps_the_card_index()
