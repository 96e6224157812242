"""analytics tables (rollups, fleet journal, billing archive).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Owned by the analytics part of the design (src/spendwarden/db/tables/analytics.py); written by
hand to mirror those tables exactly (frozen here: a migration never imports application code).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _measures() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("retry_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), server_default="0", nullable=False),
    ]


def _dims() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("rail", sa.String(length=40), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("granularity", sa.String(length=1), nullable=False),
        sa.Column("bucket_start_us", sa.BigInteger(), autoincrement=False, nullable=False),
        *_dims(),
        *_measures(),
        sa.PrimaryKeyConstraint(
            "agent_id",
            "granularity",
            "bucket_start_us",
            "owner",
            "model",
            "vendor",
            "rail",
            "tool",
            "kind",
            "status",
            name=op.f("pk_rollups"),
        ),
    )
    op.create_index(
        "ix_rollups_owner_granularity_bucket",
        "rollups",
        ["owner", "granularity", "bucket_start_us"],
        unique=False,
    )
    op.create_table(
        "rollups_users",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("granularity", sa.String(length=1), nullable=False),
        sa.Column("bucket_start_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "agent_id", "granularity", "bucket_start_us", "user_id", "owner", name=op.f("pk_rollups_users")
        ),
    )
    op.create_index(
        "ix_rollups_users_owner_granularity_bucket",
        "rollups_users",
        ["owner", "granularity", "bucket_start_us"],
        unique=False,
    )
    op.create_table(
        "rollups_tasks",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "day_us", "task_id", name=op.f("pk_rollups_tasks")),
    )
    op.create_table(
        "rollup_journal",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("bucket_start_us", sa.BigInteger(), nullable=False),
        *_dims(),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        *_measures(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_journal")),
    )
    op.create_table(
        "fleet_rollups",
        sa.Column("granularity", sa.String(length=1), nullable=False),
        sa.Column("dim", sa.String(length=10), nullable=False),
        sa.Column("bucket_start_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        *_measures(),
        sa.PrimaryKeyConstraint(
            "granularity", "dim", "bucket_start_us", "key", name=op.f("pk_fleet_rollups")
        ),
    )
    op.create_table(
        "billing_archive",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("day_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("rail", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("settled_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("first_id", sa.String(length=40), nullable=False),
        sa.Column("last_id", sa.String(length=40), nullable=False),
        sa.Column("pruned_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "agent_id", "day_us", "vendor", "model", "rail", name=op.f("pk_billing_archive")
        ),
    )


def downgrade() -> None:
    op.drop_table("billing_archive")
    op.drop_table("fleet_rollups")
    op.drop_table("rollup_journal")
    op.drop_table("rollups_tasks")
    op.drop_index("ix_rollups_users_owner_granularity_bucket", table_name="rollups_users")
    op.drop_table("rollups_users")
    op.drop_index("ix_rollups_owner_granularity_bucket", table_name="rollups")
    op.drop_table("rollups")
