"""SQL for counters of closed windows: rebuild pruned ones from rollups, read, prune.

See ``ledger/horizon.py`` for why. The rollups of an agent are written in the same
transaction as its counters, under its lock, and never pruned, so for a closed window
they hold the same sums: a counter that is gone is rebuilt or read from them.

A late spend must never add to a counter that a prune deletes at the same moment (it would
come back holding that spend alone). So the prune works under the agents' locks, as every
writer does, and takes only the agents it can lock at once (``SKIP LOCKED``): it never
waits for a writer, a writer waits at most for one short slice of the prune, and an agent
busy right then is pruned on the next pass. Statements run on the raw driver connection
inside the store's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Connection

from spendwarden.db import joined
from spendwarden.db.hot import _sql, fetch_all, raw

# (agent_id, scope, period, rollup granularity, window start µs, window end µs)
WindowKey = tuple[str, str, str, str, int, int]

_KEYS_PG = """unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::bigint[])
     AS k(a, s, p, g, lo, hi)"""
_KEYS_SQLITE = """(SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS s,
             json_extract(value, '$[2]') AS p, json_extract(value, '$[3]') AS g,
             json_extract(value, '$[4]') AS lo, json_extract(value, '$[5]') AS hi
      FROM json_each(?)) AS k"""

# Only keys with no counter are rebuilt (one that exists is whole: the prune cannot be
# deleting it, this transaction holds the agent), from the rollup cells inside the window
# (settled adds, refunded gives back, every row counts once: the counters' own rule). A
# window with no cell had no spend, and stays without a counter.
_REBUILD = """
INSERT INTO spend_counters (agent_id, scope, period, amount, held, count)
SELECT k.a, k.s, k.p, SUM(r.amount), 0, SUM(r.count)
FROM {keys}
JOIN rollups r ON r.agent_id = k.a AND r.granularity = k.g
 AND r.bucket_start_us >= k.lo AND r.bucket_start_us < k.hi
WHERE NOT EXISTS (
    SELECT 1 FROM spend_counters c WHERE c.agent_id = k.a AND c.scope = k.s AND c.period = k.p)
GROUP BY k.a, k.s, k.p
ON CONFLICT (agent_id, scope, period) DO NOTHING"""
_REBUILD_PG = _REBUILD.format(keys=_KEYS_PG)
_REBUILD_SQLITE = _REBUILD.format(keys=_KEYS_SQLITE)


def _run(conn: Connection, postgres: bool, pg: str, sqlite: str, keys: list[WindowKey]) -> Any:
    cur = raw(conn).cursor()
    if postgres:
        joined.execute(cur, pg, [list(column) for column in zip(*keys, strict=True)])
    else:
        cur.execute(sqlite, (orjson.dumps(keys).decode(),))
    return cur


def rebuild_missing(conn: Connection, postgres: bool, wanted: Iterable[WindowKey]) -> int:
    """Before a late spend is added to the counters of ``wanted`` closed windows (under the
    agents' locks): rebuild those that were pruned from the rollups (which get the new
    spend after, from the same transaction's observer). Returns how many were rebuilt."""
    keys = sorted(set(wanted))
    if not keys:
        return 0
    return max(int(_run(conn, postgres, _REBUILD_PG, _REBUILD_SQLITE, keys).rowcount), 0)


_READ = """
SELECT k.p, COALESCE(
    (SELECT c.amount FROM spend_counters c WHERE c.agent_id = k.a AND c.scope = k.s AND c.period = k.p),
    (SELECT SUM(r.amount) FROM rollups r WHERE r.agent_id = k.a AND r.granularity = k.g
      AND r.bucket_start_us >= k.lo AND r.bucket_start_us < k.hi),
    0)
FROM {keys}"""
_READ_PG = _READ.format(keys=_KEYS_PG)
_READ_SQLITE = _READ.format(keys=_KEYS_SQLITE)


def read_amounts(conn: Connection, postgres: bool, wanted: list[WindowKey]) -> dict[str, int]:
    """Net spend per period of ``wanted`` closed windows (one agent's): the counter where
    there is one, the rollups where it was pruned."""
    if not wanted:
        return {}
    cur = _run(conn, postgres, _READ_PG, _READ_SQLITE, wanted)
    return {period: int(amount) for period, amount in cur.fetchall()}


_NEXT_AGENTS_SQLITE = """
SELECT agent_id FROM agent_state WHERE agent_id > :after ORDER BY agent_id LIMIT :limit"""
_NEXT_AGENTS_PG = _sql(_NEXT_AGENTS_SQLITE + " FOR UPDATE SKIP LOCKED", True)
# Closed windows past the retention; and a task's counter that holds nothing (its holds
# were voided or expired, nothing was spent: the same as no row, which reads as zero).
_OLD = """(
    (scope = 'hourly' AND period < :hourly) OR (scope = 'daily' AND period < :daily)
    OR (scope = 'weekly' AND period < :weekly) OR (scope = 'monthly' AND period < :monthly)
    OR (scope = 'per_task' AND amount = 0 AND held = 0 AND count = 0))"""
_PRUNE = "DELETE FROM spend_counters WHERE agent_id > :after AND agent_id <= :upto AND " + _OLD
_PRUNE_PG = _sql("DELETE FROM spend_counters WHERE agent_id = ANY(:ids) AND " + _OLD, True)


def prune_after(
    conn: Connection, postgres: bool, after: str, limit: int, first_kept: dict[str, str]
) -> tuple[str | None, int]:
    """Delete the closed-window counters older than ``first_kept`` (per scope), and the empty
    task counters, of the next ``limit`` agents after ``after``; returns the last agent
    covered (None at the end) and how many counters went. On PostgreSQL only the agents
    whose state row it could lock."""
    params: dict[str, Any] = {"after": after, "limit": limit}
    if postgres:
        ids = [row[0] for row in raw(conn).execute(_NEXT_AGENTS_PG, params).fetchall()]
    else:
        ids = [row[0] for row in fetch_all(conn, postgres, _NEXT_AGENTS_SQLITE, params)]
    if not ids:
        return None, 0
    if postgres:
        cur = raw(conn).execute(_PRUNE_PG, {"ids": ids, **first_kept})
    else:
        cur = raw(conn).execute(_PRUNE, {"after": after, "upto": ids[-1], **first_kept})
    return ids[-1], max(int(cur.rowcount), 0)
