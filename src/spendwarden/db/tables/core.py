"""Core tables: agents, keys, admin tokens, per-agent state, holds, the ledger, audit."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from spendwarden.db.tables.meta import json_text, metadata, micros, timestamp

agents = Table(
    "agents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False, server_default=""),
    Column("tier", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("status_reason", Text),
    json_text("caps", nullable=False),
    json_text("halt_rules", nullable=False),
    json_text("policy", nullable=False),
    json_text("active_hours"),
    json_text("task_scope"),
    Column("silence_minutes", Integer, nullable=False, server_default="15"),
    json_text("labels", nullable=False),
    json_text("signals", nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
)
Index("ix_agents_owner", agents.c.owner)

agent_keys = Table(
    "agent_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    Column("label", String(200)),
    timestamp("created_at"),
    timestamp("revoked_at", nullable=True),
)
Index("ix_agent_keys_agent_id", agent_keys.c.agent_id)

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("label", String(200)),
    timestamp("created_at"),
    timestamp("revoked_at", nullable=True),
)

# One row per agent: the lock every write for that agent takes, plus its chain head,
# open-hold total and streaming detector state (DESIGN.md §1.4).
agent_state = Table(
    "agent_state",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("head_id", String(40)),
    Column("head_hash", String(64), nullable=False),
    micros("held"),
    json_text("signal_state"),
    timestamp("updated_at"),
    # Until when the signals tick evaluates the agent every round (signals.engine.watch_until).
    timestamp("signal_watch_until", nullable=True),
)

# Settled spend per agent per window (hour/day/week/month/total) and per task; ``held``
# carries open holds for task scopes. Caps read these few rows, never the ledger.
spend_counters = Table(
    "spend_counters",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("scope", String(10), primary_key=True),
    Column("period", String(200), primary_key=True),  # a task id (migration 0012)
    micros("amount"),
    micros("held"),
    Column("count", BigInteger, nullable=False, server_default="0"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    micros("amount", default=None),
    Column("status", String(10), nullable=False),
    Column("vendor", String(200)),
    Column("rail", String(40)),
    Column("tool", String(200)),
    Column("model", String(200)),
    Column("endpoint", String(500)),
    Column("task_id", String(200)),
    Column("user_id", String(200)),
    Column("kind", String(20)),
    json_text("metadata"),
    timestamp("created_at"),
    timestamp("expires_at"),
    timestamp("closed_at", nullable=True),
    Column("transaction_id", String(40)),
)
Index("ix_holds_status_expires", holds.c.status, holds.c.expires_at)
Index("ix_holds_agent_id", holds.c.agent_id)

transactions = Table(
    "transactions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    micros("amount", default=None),
    Column("original_amount", String(60)),
    Column("original_currency", String(10)),
    Column("rail", String(40), nullable=False),
    Column("vendor", String(200)),
    Column("tool", String(200)),
    Column("endpoint", String(500)),
    Column("model", String(200)),
    Column("input_tokens", BigInteger),
    Column("output_tokens", BigInteger),
    Column("cache_read_tokens", BigInteger),
    Column("cache_write_tokens", BigInteger),
    Column("kind", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("task_id", String(200)),
    Column("user_id", String(200)),
    Column("counterparty_agent_id", String(64)),
    Column("description", Text),
    json_text("metadata"),
    Column("source", String(40), nullable=False),
    Column("external_id", String(300)),
    timestamp("occurred_at"),
    timestamp("recorded_at"),
    Column("price_version", String(80)),
    Column("hold_id", String(40)),
    Column("prev_id", String(40)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("source", "external_id", name="uq_transactions_source_external_id"),
)
Index("ix_transactions_agent_seq", transactions.c.agent_id, transactions.c.seq)
Index("ix_transactions_occurred_at", transactions.c.occurred_at)
Index("ix_transactions_agent_occurred", transactions.c.agent_id, transactions.c.occurred_at)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    json_text("response", nullable=False),
    timestamp("created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target_type", String(40), nullable=False),
    Column("target_id", String(300)),
    Column("reason", Text),
    json_text("before"),
    json_text("after"),
    timestamp("at"),
    Column("prev_id", String(40)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_seq", audit_log.c.seq)
Index("ix_audit_log_target", audit_log.c.target_type, audit_log.c.target_id)

# Heads of chains that are not per agent (the audit log), and other single-row facts.
chain_heads = Table(
    "chain_heads",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("head_id", String(40)),
    Column("head_hash", String(64), nullable=False),
    # Raw rows pruned up to here are proven by this checkpoint (DESIGN.md §5).
)

# Where each agent's chain was cut by retention: verify starts from here.
chain_checkpoints = Table(
    "chain_checkpoints",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("head_id", String(40)),
    Column("head_hash", String(64), nullable=False),
    timestamp("cut_at"),
)

# Alerts live here because the ledger itself raises two of them (cap_breach, auto_halt);
# the detectors in signals/ raise the rest. Dedupe: one open alert per dedupe_key.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("agent_id", String(64)),
    Column("rule", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("status", String(15), nullable=False),
    Column("dedupe_key", String(300), nullable=False),
    Column("title", Text, nullable=False),
    Column("message", Text),
    json_text("figures"),
    Column("occurrences", Integer, nullable=False, server_default="1"),
    timestamp("first_seen_at"),
    timestamp("last_seen_at"),
    timestamp("acknowledged_at", nullable=True),
    Column("acknowledged_by", String(200)),
    timestamp("resolved_at", nullable=True),
    Column("resolved_by", String(200)),
)
Index("ix_alerts_dedupe_status", alerts.c.dedupe_key, alerts.c.status)
Index("ix_alerts_status_seen", alerts.c.status, alerts.c.last_seen_at)
Index("ix_alerts_agent_id", alerts.c.agent_id)
