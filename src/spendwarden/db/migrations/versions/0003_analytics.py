"""analytics tables (rollups).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Owned by the analytics part of the design (src/spendwarden/db/tables/analytics.py). Until that part
adds tables this revision changes nothing; replace the bodies with its create/drop calls.
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
