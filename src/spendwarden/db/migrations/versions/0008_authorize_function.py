"""authorize function: one authorization in one round trip on PostgreSQL.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Owned by the ledger's write path (src/spendwarden/ledger/authorize_pg.py calls it through
src/spendwarden/db/pg_authorize.py). Python's path takes four round trips per
authorization (lock and read, hold insert, state update with commit, plus the key lookup
before it), and each costs ~100 µs of driver CPU on top of the wait. This function does the
lock, the counter reads, the cap check and the writes of one authorization server-side, in
the caller's autocommit transaction.

It decides nothing about the agent's configuration: the caller passes the ``caps`` and
``policy`` texts it parsed and checked, with the limits it parsed from them, and the
function answers ``stale`` (writing nothing) unless the locked agent row still holds
exactly those texts and is active, so a change made by any process is never missed. The
HTTP route also passes the hash of the request's key, which it looked up on an earlier
request: unless that key is still the agent's and not revoked, the answer is ``key`` and
nothing is written (so the key lookup needs no round trip of its own, and a revocation
still refuses the very next request). The
cap check is ``ledger.caps.first_denial`` over the same numbers ``holds.committed_spend``
builds: settled spend in each window plus the agent's open holds, the task's settled spend
plus its open holds, in ``CAP_NAMES`` order. SQLite has no functions: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

AUTHORIZE = r"""
CREATE OR REPLACE FUNCTION spendwarden_authorize(
    p_agent_id text, p_caps text, p_policy text, p_limits bigint[], p_periods text[],
    p_hold_id text, p_amount bigint, p_vendor text, p_rail text, p_tool text, p_model text,
    p_endpoint text, p_task_id text, p_user_id text, p_kind text, p_metadata text,
    p_created_at bigint, p_expires_at bigint, p_key_hash text,
    OUT outcome text, OUT denied_cap int, OUT committed bigint[]
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_held bigint;
    v_current boolean;
    v_hourly bigint;
    v_daily bigint;
    v_weekly bigint;
    v_monthly bigint;
    v_total bigint;
    v_task_spent bigint := 0;
    v_task_held bigint := 0;
    i int;
BEGIN
    -- The lock first, in a statement of its own: under READ COMMITTED each later statement
    -- takes a new snapshot, so it sees whatever the transaction we waited for committed.
    SELECT s.held INTO v_held FROM agent_state s WHERE s.agent_id = p_agent_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'missing';
        RETURN;
    END IF;
    -- A caller that knows the request's key from an earlier lookup passes its hash: the
    -- key must still be this agent's and not revoked, or nothing is decided ('key').
    IF p_key_hash IS NOT NULL THEN
        PERFORM 1 FROM agent_keys k
        WHERE k.key_hash = p_key_hash AND k.agent_id = p_agent_id AND k.revoked_at IS NULL;
        IF NOT FOUND THEN
            outcome := 'key';
            RETURN;
        END IF;
    END IF;
    SELECT a.status = 'active' AND a.caps = p_caps AND a.policy = p_policy INTO v_current
    FROM agents a WHERE a.id = p_agent_id;
    IF v_current IS NOT TRUE THEN
        outcome := 'stale';
        RETURN;
    END IF;
    -- One primary-key probe per window (an OR over scopes would walk every counter row).
    SELECT
        coalesce((SELECT c.amount FROM spend_counters c WHERE c.agent_id = p_agent_id
                  AND c.scope = 'hourly' AND c.period = p_periods[1]), 0),
        coalesce((SELECT c.amount FROM spend_counters c WHERE c.agent_id = p_agent_id
                  AND c.scope = 'daily' AND c.period = p_periods[2]), 0),
        coalesce((SELECT c.amount FROM spend_counters c WHERE c.agent_id = p_agent_id
                  AND c.scope = 'weekly' AND c.period = p_periods[3]), 0),
        coalesce((SELECT c.amount FROM spend_counters c WHERE c.agent_id = p_agent_id
                  AND c.scope = 'monthly' AND c.period = p_periods[4]), 0),
        coalesce((SELECT c.amount FROM spend_counters c WHERE c.agent_id = p_agent_id
                  AND c.scope = 'total' AND c.period = 'all'), 0)
    INTO v_hourly, v_daily, v_weekly, v_monthly, v_total;
    IF p_task_id IS NOT NULL THEN
        SELECT c.amount, c.held INTO v_task_spent, v_task_held FROM spend_counters c
        WHERE c.agent_id = p_agent_id AND c.scope = 'per_task' AND c.period = p_task_id;
        IF NOT FOUND THEN
            v_task_spent := 0;
            v_task_held := 0;
        END IF;
    END IF;
    -- CAP_NAMES order: per_transaction, per_task, hourly, daily, weekly, monthly, total.
    committed := ARRAY[0, v_task_spent + v_task_held, v_hourly + v_held, v_daily + v_held,
                       v_weekly + v_held, v_monthly + v_held, v_total + v_held];
    FOR i IN 1..7 LOOP
        IF p_limits[i] IS NOT NULL AND committed[i] + p_amount > p_limits[i] THEN
            outcome := 'denied';
            denied_cap := i;
            RETURN;
        END IF;
    END LOOP;
    INSERT INTO holds (id, agent_id, amount, status, vendor, rail, tool, model, endpoint, task_id,
                       user_id, kind, metadata, created_at, expires_at)
    VALUES (p_hold_id, p_agent_id, p_amount, 'open', p_vendor, p_rail, p_tool, p_model, p_endpoint,
            p_task_id, p_user_id, p_kind, p_metadata, p_created_at, p_expires_at);
    UPDATE agent_state SET held = v_held + p_amount, updated_at = p_created_at
    WHERE agent_id = p_agent_id;
    IF p_task_id IS NOT NULL THEN
        INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)
        VALUES (p_agent_id, 'per_task', p_task_id, 0, p_amount, 0)
        ON CONFLICT (agent_id, scope, period) DO UPDATE SET held = spend_counters.held + excluded.held;
    END IF;
    outcome := 'approved';
END
$fn$
"""

SIGNATURE = (
    "spendwarden_authorize(text, text, text, bigint[], text[], text, bigint, text, text, text, text,"
    " text, text, text, text, text, bigint, bigint, text)"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(AUTHORIZE)  # verbatim: no bind-parameter parsing of the body


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
