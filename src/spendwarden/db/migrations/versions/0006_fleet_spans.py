"""fleet spans: fleet rollups in coarser aligned buckets (4 h, 12 h, 2 to 64 days).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Owned by the analytics part of the design (src/spendwarden/db/tables/analytics.py). The
table is filled from the hourly fleet rollups already folded (every span is a sum of whole
hours), so fleet totals stay exact across the upgrade; journal rows not yet folded reach
the spans with their next fold. The key carries the measures (WITHOUT ROWID on SQLite,
INCLUDE on PostgreSQL) so a block is read from the index alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000
SPANS = {"4h": 4 * HOUR_US, "12h": 12 * HOUR_US, **{f"{n}d": n * DAY_US for n in (2, 4, 8, 16, 32, 64)}}
MEASURES = ("amount", "count", "failed_count", "retry_amount", "input_tokens", "output_tokens")


def upgrade() -> None:
    op.create_table(
        "fleet_spans",
        sa.Column("span", sa.String(length=3), nullable=False),
        sa.Column("dim", sa.String(length=10), nullable=False),
        sa.Column("bucket_start_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        *[sa.Column(m, sa.BigInteger(), server_default="0", nullable=False) for m in MEASURES],
        sa.PrimaryKeyConstraint(
            "span",
            "dim",
            "bucket_start_us",
            "key",
            name=op.f("pk_fleet_spans"),
            postgresql_include=list(MEASURES),
        ),
        sqlite_with_rowid=False,
    )
    cols = ", ".join(f'"{m}"' for m in MEASURES)
    sums = ", ".join(f'SUM("{m}")' for m in MEASURES)
    for span, size in SPANS.items():
        op.execute(
            f"INSERT INTO fleet_spans (span, dim, bucket_start_us, key, {cols}) "
            f"SELECT '{span}', dim, bucket_start_us - bucket_start_us % {size}, key, {sums} "
            f"FROM fleet_rollups WHERE granularity = 'h' "
            f"GROUP BY dim, bucket_start_us - bucket_start_us % {size}, key"
        )


def downgrade() -> None:
    op.drop_table("fleet_spans")
