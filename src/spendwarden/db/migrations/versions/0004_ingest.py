"""ingest tables (prices_webhooks_ingest_tokens).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Owned by the ingest part of the design (src/spendwarden/db/tables/ingest.py). Until that part
adds tables this revision changes nothing; replace the bodies with its create/drop calls.
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
