"""Ingest tables: custom LLM prices, rail-to-agent mappings, Stripe event log, file import
progress, socket cursors and outbound webhook subscriptions with their delivery outbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from spendwarden.db.tables.meta import json_text, metadata, timestamp

# Operator prices in USD per million tokens, kept as decimal text (exact). provider "" = any.
prices = Table(
    "prices",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("input", String(40), nullable=False),
    Column("output", String(40), nullable=False),
    Column("cache_read", String(40)),
    Column("cache_write", String(40)),
    Column("version", String(40), nullable=False),
    timestamp("updated_at"),
)

# Cheap change counters ("prices", "webhooks"): replicas compare one integer, not a table.
ingest_versions = Table(
    "ingest_versions",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="0"),
)

# Stripe customer (cus_…) or Issuing cardholder (ich_…) ids of agents without metadata.
stripe_agent_map = Table(
    "stripe_agent_map",
    metadata,
    Column("stripe_id", String(200), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("label", String(200)),
    timestamp("created_at"),
)

# Every verified Stripe event id, with a digest of what it said: replays are recognised
# and a replay of an old id carrying different content is refused.
stripe_events = Table(
    "stripe_events",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("entries", Integer, nullable=False, server_default="0"),
    timestamp("received_at"),
)

# x402 payer/payTo addresses (EVM lowercased) and Lightning payer ids that belong to agents.
agent_addresses = Table(
    "agent_addresses",
    metadata,
    Column("address", String(128), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("rail", String(40), nullable=False),
    Column("label", String(200)),
    timestamp("created_at"),
)
Index("ix_agent_addresses_agent_id", agent_addresses.c.agent_id)

# Resumable imports: one row per file identity (path, size, digest of its first 64 KB).
import_progress = Table(
    "import_progress",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("head_sha256", String(64), nullable=False),
    Column("offset", BigInteger, nullable=False, server_default="0"),
    Column("line", BigInteger, nullable=False, server_default="0"),
    Column("accepted", BigInteger, nullable=False, server_default="0"),
    Column("duplicates", BigInteger, nullable=False, server_default="0"),
    Column("rejected", BigInteger, nullable=False, server_default="0"),
    timestamp("updated_at"),
)

# Where ``spendwarden watch`` stopped reading a socket (last committed cursor per URL).
watch_cursors = Table(
    "watch_cursors",
    metadata,
    Column("url", String(1000), primary_key=True),
    Column("cursor", String(200), nullable=False),
    timestamp("updated_at"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    json_text("events", nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("description", String(500)),
    timestamp("created_at"),
    timestamp("updated_at"),
)

# The durable outbox: one row per (subscription, event); the sender leases rows to send.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subscription_id", String(40), nullable=False),
    Column("event", String(60), nullable=False),
    json_text("payload", nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    timestamp("next_attempt_at"),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    timestamp("created_at"),
    timestamp("updated_at"),
    timestamp("delivered_at", nullable=True),
)
Index("ix_webhook_deliveries_status_next", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at)
Index("ix_webhook_deliveries_subscription", webhook_deliveries.c.subscription_id, webhook_deliveries.c.id)
