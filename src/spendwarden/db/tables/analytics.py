"""Analytics tables: rollups that answer cost questions without reading raw ledger rows.

Two families, split by who may write them on the hot path (DESIGN.md §1.4, one agent,
one lock):

* Agent-scoped, kept current inside the agent's ledger transaction by the rollup
  observer: ``rollups`` (the per-agent cube: granularity x bucket x every dimension),
  ``rollups_users`` and ``rollups_tasks``. Their keys start with ``agent_id``, so two
  agents never touch the same row (and Citus can distribute them by ``agent_id``).
* Fleet-wide, shared between agents: ``fleet_rollups`` (granularity x dimension x key).
  Updating shared rows inside every agent's transaction would serialise all agents on a
  handful of hot rows, so the observer only *inserts* its batch into ``rollup_journal``;
  a fold (``analytics/fold.py``) moves journal rows into ``fleet_rollups`` and deletes
  them in one transaction. Fleet queries read ``fleet_rollups`` plus the (small) journal
  in one snapshot, so they are exact at every moment. The fold also keeps
  ``fleet_spans``: the same cells in coarser aligned buckets (4 h, 12 h, 2 … 64 days), so
  any window is a handful of signed blocks (``analytics/windows.fleet_blocks``) however
  many hours it spans; its key carries the measures on both backends, so a block is one
  range read of the index.

``billing_archive`` keeps, per agent, day and billing line, what retention deleted from
the ledger, with the chain sequence range it covered, so reports on pruned periods still
reconcile and trace to the chain checkpoint.

Dimensions that are NULL on the ledger row are stored as ``''`` (primary keys cannot
hold NULL). Granularity is ``m`` (minute), ``h`` (hour) or ``d`` (day); buckets are epoch
microseconds UTC of the bucket start.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table

from spendwarden.db.tables.meta import metadata, micros, timestamp

DIMENSIONS = ("owner", "model", "vendor", "rail", "tool", "kind", "status")


def _measures() -> list[Column[int]]:
    """What every rollup row adds up: net spend, rows, failures, retry spend, tokens."""
    return [
        micros("amount"),
        Column("count", BigInteger, nullable=False, server_default="0"),
        Column("failed_count", BigInteger, nullable=False, server_default="0"),
        micros("retry_amount"),
        Column("input_tokens", BigInteger, nullable=False, server_default="0"),
        Column("output_tokens", BigInteger, nullable=False, server_default="0"),
    ]


rollups = Table(
    "rollups",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("granularity", String(1), primary_key=True),
    Column("bucket_start_us", BigInteger, primary_key=True, autoincrement=False),
    Column("owner", String(200), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("vendor", String(200), primary_key=True),
    Column("rail", String(40), primary_key=True),
    Column("tool", String(200), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("status", String(10), primary_key=True),
    *_measures(),
)
Index(
    "ix_rollups_owner_granularity_bucket", rollups.c.owner, rollups.c.granularity, rollups.c.bucket_start_us
)

rollups_users = Table(
    "rollups_users",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("granularity", String(1), primary_key=True),
    Column("bucket_start_us", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", String(200), primary_key=True),
    Column("owner", String(200), primary_key=True),
    micros("amount"),
    Column("count", BigInteger, nullable=False, server_default="0"),
)
Index(
    "ix_rollups_users_owner_granularity_bucket",
    rollups_users.c.owner,
    rollups_users.c.granularity,
    rollups_users.c.bucket_start_us,
)

rollups_tasks = Table(
    "rollups_tasks",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("day_us", BigInteger, primary_key=True, autoincrement=False),
    Column("task_id", String(200), primary_key=True),
    micros("amount"),
    Column("count", BigInteger, nullable=False, server_default="0"),
)

# Insert-only on the hot path; drained by the fold. BIGINT on PostgreSQL (billions of
# rows over a lifetime), INTEGER on SQLite so the id is the rowid.
rollup_journal = Table(
    "rollup_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("agent_id", String(64), nullable=False),
    Column("bucket_start_us", BigInteger, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("vendor", String(200), nullable=False),
    Column("rail", String(40), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("user_id", String(200), nullable=False),
    *_measures(),
)

fleet_rollups = Table(
    "fleet_rollups",
    metadata,
    Column("granularity", String(1), primary_key=True),
    Column("dim", String(10), primary_key=True),
    Column("bucket_start_us", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(200), primary_key=True),
    *_measures(),
)

fleet_spans = Table(
    "fleet_spans",
    metadata,
    Column("span", String(3), nullable=False),
    Column("dim", String(10), nullable=False),
    Column("bucket_start_us", BigInteger, nullable=False, autoincrement=False),
    Column("key", String(200), nullable=False),
    *_measures(),
    # The key holds the measures too (WITHOUT ROWID on SQLite, INCLUDE on PostgreSQL): a
    # block's rows are read from the index alone, not fetched one heap page each.
    PrimaryKeyConstraint(
        "span",
        "dim",
        "bucket_start_us",
        "key",
        postgresql_include=[
            "amount",
            "count",
            "failed_count",
            "retry_amount",
            "input_tokens",
            "output_tokens",
        ],
    ),
    sqlite_with_rowid=False,
)

billing_archive = Table(
    "billing_archive",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("day_us", BigInteger, primary_key=True, autoincrement=False),
    Column("vendor", String(200), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("rail", String(40), primary_key=True),
    micros("amount"),
    micros("settled_amount"),
    micros("refunded_amount"),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("first_id", String(40), nullable=False),
    Column("last_id", String(40), nullable=False),
    timestamp("pruned_at"),
)
