"""signals tables (alerts_channels_deliveries_tasks).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Owned by the signals part of the design (src/spendwarden/db/tables/signals.py). Until that part
adds tables this revision changes nothing; replace the bodies with its create/drop calls.
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
