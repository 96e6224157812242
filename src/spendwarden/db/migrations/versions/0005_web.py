"""web tables (sessions).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Owned by the web part of the design (src/spendwarden/db/tables/web.py). Until that part
adds tables this revision changes nothing; replace the bodies with its create/drop calls.
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
