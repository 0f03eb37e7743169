"""indexes of booking profiles by CCCD and insurance card, and of a person's identifiers by kind: the master
patient index links profiles to persons

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_patients_cccd", "patients", ["cccd"])
    op.create_index("ix_patients_insurance_number", "patients", ["insurance_number"])
    op.create_index("ix_patients_insurance_sin", "patients", [sa.text("substr(insurance_number, 6, 10)")])
    op.create_index("ix_emr_person_identifiers_person_kind", "emr_person_identifiers", ["person_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_emr_person_identifiers_person_kind", table_name="emr_person_identifiers")
    op.drop_index("ix_patients_insurance_sin", table_name="patients")
    op.drop_index("ix_patients_insurance_number", table_name="patients")
    op.drop_index("ix_patients_cccd", table_name="patients")
