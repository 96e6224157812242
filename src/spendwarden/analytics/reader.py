"""Reading rollups for a scope (fleet, owner, agent) and a window, as plain numbers.

The fleet scope reads ``fleet_rollups`` and ``fleet_spans`` (totals as signed blocks,
``windows.fleet_blocks``; series per bucket) plus the not-yet-folded journal (all in one
read transaction, so the same snapshot); an owner or agent scope reads the per-agent rollups,
which are exact at commit. Results are ``{dim: {key: measures}}`` where measures follow
``queries_analytics.MEASURES`` (amount, count, failed_count, retry_amount, input and
output tokens); user rows carry amount and count only.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from spendwarden.analytics.rollup import FLEET_DIMS, N_MEASURES, SIZES, Cells, add_into
from spendwarden.analytics.windows import Segment, Window, bucket_floor, fleet_blocks
from spendwarden.db import queries_analytics as qa
from spendwarden.errors import ValidationFailed

DIMS = tuple(FLEET_DIMS)
Breakdown = dict[str, dict[str, list[int]]]
Series = dict[str, dict[int, list[int]]]


@dataclass(frozen=True)
class Scope:
    agent_id: str | None = None
    owner: str | None = None

    @property
    def fleet(self) -> bool:
        return self.agent_id is None and self.owner is None


def check_dims(dims: Sequence[str]) -> list[str]:
    bad = [d for d in dims if d not in DIMS]
    if bad:
        raise ValidationFailed(f"Unknown dimension {bad[0]!r}; use {', '.join(DIMS)}.", dimension=bad[0])
    return list(dict.fromkeys(dims))


def _values(row: dict[str, Any], names: Sequence[str] = qa.MEASURES) -> list[int]:
    values = [int(row[m] or 0) for m in names]
    return values + [0] * (N_MEASURES - len(values))


def breakdown(
    conn: Connection,
    scope: Scope,
    window: Window,
    segs: list[Segment],
    dims: Sequence[str],
    oldest_minute_us: int | None = None,
    n_measures: int = N_MEASURES,
) -> Breakdown:
    """Totals per key of each dimension (``total`` has the single key ``''``). The fleet
    scope reads signed blocks (``windows.fleet_blocks``; no minute block before
    ``oldest_minute_us``, by default the window's start), the others the per-agent rollups
    over ``segs``. Fleet reads fetch the first ``n_measures`` measures only (the rest stay 0)."""
    out: Breakdown = {d: {} for d in dims}
    if scope.fleet:
        oldest = window.start_us if oldest_minute_us is None else oldest_minute_us
        names = qa.MEASURES[:n_measures]
        pad = [0] * (N_MEASURES - n_measures)
        rows = qa.fleet_block_sums(conn, fleet_blocks(window, oldest), dims, names)
        for r in rows:  # one row per (dim, key)
            out[r[0]][r[1]] = list(r[2:]) + pad
        for j in qa.journal_in(conn, window.start_us, window.end_us):
            for d in dims:
                col = FLEET_DIMS[d]
                _add(out[d], "" if col is None else j[col], _values(j, names))
        return out
    cube_dims = [d for d in dims if d != "user"]
    if cube_dims:
        group = sorted({FLEET_DIMS[d] or "agent_id" for d in cube_dims})
        for r in qa.cube_grouped(conn, segs, agent_id=scope.agent_id, owner=scope.owner, group=group):
            if r["count"] is None:
                continue
            for d in cube_dims:
                col = FLEET_DIMS[d]
                _add(out[d], "" if col is None else r[col], _values(r))
    if "user" in dims:
        for r in qa.users_grouped(conn, segs, agent_id=scope.agent_id, owner=scope.owner):
            _add(out["user"], r["user_id"], _values(r, qa.USER_MEASURES))
    return out


@dataclass(frozen=True)
class Ranked:
    """One dimension of a window as a summary shows it: the largest keys, how many keys
    there are, and the sums over all of them (measures: amount, count, failed count)."""

    top: list[tuple[str, list[int]]]  # by amount, ties by key
    by_count: list[tuple[str, list[int]]]  # by count, ties by key (only when asked)
    present: int  # keys with any amount or count
    sums: list[int]  # amount, count and (fleet: for "total" only) failed_count


def ranked(
    conn: Connection,
    postgres: bool,
    scope: Scope,
    window: Window,
    segs: list[Segment],
    dims: Sequence[str],
    top: int,
    by_count: dict[str, int],
    oldest_minute_us: int | None = None,
) -> dict[str, Ranked]:
    """``top`` keys by amount of each dimension (and ``by_count[dim]`` keys by count), the
    number of keys and their sums. The fleet scope ranks in the database (thousands of
    agents and users never become Python rows); the others rank ``breakdown``'s totals.
    Keys with neither amount nor count, and calls without a user, are left out."""
    if scope.fleet:
        oldest = window.start_us if oldest_minute_us is None else oldest_minute_us
        blocks = fleet_blocks(window, oldest)
        out = {}
        for d in dims:
            # A breakdown shows amount and count; only the total's failed calls are shown.
            names = qa.RANKED_MEASURES if d == "total" else qa.RANKED_MEASURES[:2]
            amount, count, present, sums = qa.fleet_ranked(
                conn, postgres, blocks, (window.start_us, window.end_us), d, top, by_count.get(d, 0), names
            )
            out[d] = Ranked(amount, count, present, sums)
        return out
    data = breakdown(conn, scope, window, segs, dims)
    return {d: rank(data[d], top, by_count.get(d, 0), skip_empty_key=d == "user") for d in dims}


def rank(values: dict[str, list[int]], top: int, by_count: int, *, skip_empty_key: bool = False) -> Ranked:
    """``ranked`` for totals already in Python."""
    present = [(k, v[:3]) for k, v in values.items() if (v[1] or v[0]) and (k or not skip_empty_key)]
    return Ranked(
        top=_largest(present, 0, top),
        by_count=_largest(present, 1, by_count) if by_count else [],
        present=len(present),
        sums=[sum(v[i] for _k, v in present) for i in range(3)],
    )


def _largest(items: list[tuple[str, list[int]]], measure: int, n: int) -> list[tuple[str, list[int]]]:
    """The ``n`` largest by ``measure`` (ties by key), as a full sort would give them, without
    a Python key call per item: the n-th largest value is found first, then only the items
    at or above it are sorted."""
    if len(items) > n:
        floor = heapq.nlargest(n, [v[measure] for _k, v in items])[-1]
        items = [i for i in items if i[1][measure] >= floor]
    return sorted(items, key=lambda i: (-i[1][measure], i[0]))[:n]


def series(
    conn: Connection,
    scope: Scope,
    window: Window,
    segs: list[Segment],
    dim: str,
    bucket: str,
    n_measures: int = N_MEASURES,
) -> Series:
    """Measures per key of ``dim`` per bucket start (segments must be no coarser than the
    bucket). Fleet reads fetch the first ``n_measures`` measures only (the rest stay 0)."""
    cells: Cells = {}
    col = FLEET_DIMS[dim]
    if scope.fleet:
        names = qa.MEASURES[:n_measures]
        pad = [0] * (N_MEASURES - n_measures)
        for key, t, *values in qa.fleet_series(conn, segs, dim, SIZES[bucket], names):
            cells[(key, t)] = [*values, *pad]  # one row per (key, bucket)
        for j in qa.journal_in(conn, window.start_us, window.end_us):
            key = "" if col is None else j[col]
            add_into(cells, (key, bucket_floor(int(j["bucket_start_us"]), bucket)), _values(j, names))
    elif dim == "user":
        rows = qa.users_grouped(conn, segs, agent_id=scope.agent_id, owner=scope.owner, with_bucket=True)
        for r in rows:
            add_into(
                cells,
                (r["user_id"], bucket_floor(int(r["bucket_start_us"]), bucket)),
                _values(r, qa.USER_MEASURES),
            )
    else:
        group = [col or "agent_id"]
        rows = qa.cube_grouped(
            conn, segs, agent_id=scope.agent_id, owner=scope.owner, group=group, with_bucket=True
        )
        for r in rows:
            key = "" if col is None else r[col]
            add_into(cells, (key, bucket_floor(int(r["bucket_start_us"]), bucket)), _values(r))
    out: Series = {}
    for (key, t), values in cells.items():
        out.setdefault(key, {})[t] = values
    return out


def _add(target: dict[str, list[int]], key: str, values: list[int]) -> None:
    acc = target.get(key)
    if acc is None:
        target[key] = values
    else:
        for i, v in enumerate(values):
            acc[i] += v
