"""authorize first sight: one round trip for an agent the caller has not read yet.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24

Owned by the ledger's write path (src/spendwarden/ledger/authorize_pg.py). With 0008's
function, a process that had not yet read an agent (its first request after a start, after
a change another process made, or in a fleet bigger than what it keeps in mind) read the
agent's ``caps`` and ``policy`` first, in a round trip of its own: at 400,000 agents that
round trip was the whole of the in-process p99's excess over 100 agents (docs/SCALE.md).

The function is the same as 0008's for a caller that passes the texts it checked. A caller
that passes NULL texts knows nothing of the agent, and the function decides on the locked
row itself:

- not active: ``stale`` (the locked path words the refusal), as before;
- a policy other than the empty one (``{}``): ``policy``, writing nothing and answering
  the row's texts, so the caller checks the policy in Python (``ledger.policy`` is the one
  place policy rules live) and calls again with the texts;
- no policy: the limits come from the row's ``caps`` (a JSON object of integer
  micro-dollars, as ``ledger.types.parse_caps`` reads it) and the decision is the one a
  caller passing those texts would get, answered with the texts for the caller to remember
  and to word its approval's headroom.

The OUT columns ``caps`` and ``policy`` are new, so the function is dropped and created
again (a return type cannot be replaced). The arguments are unchanged, and callers select
the columns they know by name, so a process still running 0008's code works with 0009's
function during a rolling upgrade.
"""

from __future__ import annotations

from alembic import op

from spendwarden.db.migrate import revision_module

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SIGNATURE = (
    "spendwarden_authorize(text, text, text, bigint[], text[], text, bigint, text, text, text, text,"
    " text, text, text, text, text, bigint, bigint, text)"
)

AUTHORIZE = r"""
CREATE FUNCTION spendwarden_authorize(
    p_agent_id text, p_caps text, p_policy text, p_limits bigint[], p_periods text[],
    p_hold_id text, p_amount bigint, p_vendor text, p_rail text, p_tool text, p_model text,
    p_endpoint text, p_task_id text, p_user_id text, p_kind text, p_metadata text,
    p_created_at bigint, p_expires_at bigint, p_key_hash text,
    OUT outcome text, OUT denied_cap int, OUT committed bigint[], OUT caps text, OUT policy text
) LANGUAGE plpgsql AS $fn$
DECLARE
    v_held bigint;
    v_active boolean;
    v_caps text;
    v_policy text;
    v_parsed jsonb;
    v_limits bigint[];
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
    SELECT a.status = 'active', a.caps, a.policy INTO v_active, v_caps, v_policy
    FROM agents a WHERE a.id = p_agent_id;
    IF v_active IS NOT TRUE THEN
        outcome := 'stale';
        RETURN;
    END IF;
    IF p_caps IS NULL THEN
        -- The caller knows nothing of this agent: decide on the row as locked, and answer
        -- its texts for the caller to remember. Policies are checked by the caller.
        caps := v_caps;
        policy := v_policy;
        IF v_policy <> '{}' THEN
            outcome := 'policy';
            RETURN;
        END IF;
        v_parsed := v_caps::jsonb;
        v_limits := ARRAY[(v_parsed ->> 'per_transaction')::bigint, (v_parsed ->> 'per_task')::bigint,
                          (v_parsed ->> 'hourly')::bigint, (v_parsed ->> 'daily')::bigint,
                          (v_parsed ->> 'weekly')::bigint, (v_parsed ->> 'monthly')::bigint,
                          (v_parsed ->> 'total')::bigint];
    ELSIF v_caps = p_caps AND v_policy = p_policy THEN
        v_limits := p_limits;
    ELSE
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
        IF v_limits[i] IS NOT NULL AND committed[i] + p_amount > v_limits[i] THEN
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


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        bind.exec_driver_sql(AUTHORIZE)  # verbatim: no bind-parameter parsing of the body


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        bind.exec_driver_sql(revision_module("0008_authorize_function.py").AUTHORIZE)
