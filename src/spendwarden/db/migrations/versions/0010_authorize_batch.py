"""authorize batch: many authorizations in one round trip and one commit on PostgreSQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24

Owned by the ledger's write path (src/spendwarden/db/pg_batch.py gathers the calls,
src/spendwarden/db/pg_authorize.py makes them). Every ``spendwarden_authorize`` call is a
transaction of its own, and each commit waits for a WAL flush: one caller here commits
~3,000-5,000 of them a second and sixteen callers ~8,000, against ~18,000 authorizations
a second when sixteen at a time share one call (measured side by side with asyncpg).

``spendwarden_authorize_batch`` takes the arguments of N calls as arrays (``p_limits`` is
the N callers' seven limits end to end, NULL for a caller that passes no texts;
``p_periods`` their four counter keys end to end), locks the agents named that no other
transaction holds (``SKIP LOCKED``), then makes the N calls in order in its one
transaction, so a later call for the same agent sees the holds of the earlier ones. Each
row answers one call, by ``ordinal``, exactly as the call alone would have, except a call
for an agent another transaction holds (or an agent that does not exist): ``busy``,
nothing written, for the caller to make alone, where it waits for the lock as every
writer does. So a batch never waits for a lock: one busy agent does not hold up the
others, and a batch is never part of a deadlock. An error in any call rolls the whole
batch back; the caller then makes the calls one by one.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SIGNATURE = (
    "spendwarden_authorize_batch(text[], text[], text[], bigint[], text[], text[], bigint[], text[],"
    " text[], text[], text[], text[], text[], text[], text[], text[], bigint[], bigint[], text[])"
)

AUTHORIZE_BATCH = r"""
CREATE FUNCTION spendwarden_authorize_batch(
    p_agent_ids text[], p_caps text[], p_policies text[], p_limits bigint[], p_periods text[],
    p_hold_ids text[], p_amounts bigint[], p_vendors text[], p_rails text[], p_tools text[],
    p_models text[], p_endpoints text[], p_task_ids text[], p_user_ids text[], p_kinds text[],
    p_metadata text[], p_created_at bigint[], p_expires_at bigint[], p_key_hashes text[],
    OUT ordinal int, OUT outcome text, OUT denied_cap int, OUT committed bigint[], OUT caps text,
    OUT policy text
) RETURNS SETOF record LANGUAGE plpgsql AS $fn$
DECLARE
    i int;
    v_locked text[];
BEGIN
    SELECT array_agg(s.agent_id) INTO v_locked FROM (
        SELECT agent_id FROM agent_state WHERE agent_id = ANY (p_agent_ids) FOR UPDATE SKIP LOCKED
    ) s;
    FOR i IN 1..coalesce(cardinality(p_agent_ids), 0) LOOP
        ordinal := i;
        IF v_locked IS NULL OR NOT (p_agent_ids[i] = ANY (v_locked)) THEN
            outcome := 'busy';
            denied_cap := NULL;
            committed := NULL;
            caps := NULL;
            policy := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT a.outcome, a.denied_cap, a.committed, a.caps, a.policy
        INTO outcome, denied_cap, committed, caps, policy
        FROM spendwarden_authorize(
            p_agent_ids[i], p_caps[i], p_policies[i],
            CASE WHEN p_caps[i] IS NULL THEN NULL ELSE p_limits[7 * i - 6:7 * i] END,
            p_periods[4 * i - 3:4 * i], p_hold_ids[i], p_amounts[i], p_vendors[i], p_rails[i],
            p_tools[i], p_models[i], p_endpoints[i], p_task_ids[i], p_user_ids[i], p_kinds[i],
            p_metadata[i], p_created_at[i], p_expires_at[i], p_key_hashes[i]) a;
        RETURN NEXT;
    END LOOP;
END
$fn$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(AUTHORIZE_BATCH)  # verbatim: no bind-parameter parsing of the body


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
