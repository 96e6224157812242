"""audit_log.target_id up to 300 characters, spend_counters.period up to 200.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25

A custom price's audit row names its target ``<provider>/<model>``: up to 64 + 1 + 200
characters, which the column's 200 could not hold. SQLite ignores a VARCHAR's length and
stored it. PostgreSQL refused it, so ``POST /v1/prices`` with a long model name was a 500
there (found by fuzzing the API on PostgreSQL). A task's counter keeps the task id as its
``period``: task ids are up to 200 characters, the column held 80, so on PostgreSQL a spend
with a longer task id was a 500 too. Widening a VARCHAR rewrites nothing on
PostgreSQL. On SQLite the batch copies the table, because its declared type is part of the
table's text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("target_id", type_=sa.String(300), existing_type=sa.String(200))
    with op.batch_alter_table("spend_counters") as batch:
        batch.alter_column("period", type_=sa.String(200), existing_type=sa.String(80))


def downgrade() -> None:
    with op.batch_alter_table("spend_counters") as batch:
        batch.alter_column("period", type_=sa.String(80), existing_type=sa.String(200))
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("target_id", type_=sa.String(200), existing_type=sa.String(300))
