"""feeds: partial index of claimable feeds by next_check_at (the scheduler's claim order)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMABLE = "status IN ('active', 'error')"


def upgrade() -> None:
    op.create_index(
        "ix_feeds_claimable",
        "feeds",
        ["next_check_at"],
        postgresql_where=sa.text(CLAIMABLE),
        sqlite_where=sa.text(CLAIMABLE),
    )


def downgrade() -> None:
    op.drop_index("ix_feeds_claimable", table_name="feeds")
