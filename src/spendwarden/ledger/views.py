"""Live views of one agent: status, spend per cap window, open holds and headroom."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from spendwarden.clock import Clock, to_us
from spendwarden.db import hot
from spendwarden.db import queries as q
from spendwarden.errors import AgentNotFound
from spendwarden.ledger.caps import headroom, utilization
from spendwarden.ledger.render import agent_public, money_map
from spendwarden.ledger.types import Agent
from spendwarden.ledger.windows import WINDOW_CAPS, window_keys_us


def spend_now(
    conn: Connection, agent: Agent, now_us: int, held: int, task_id: str | None = None
) -> dict[str, Any]:
    found = hot.counters(conn, conn.dialect.name == "postgresql", agent.id, window_keys_us(now_us), task_id)
    return money_now(agent, found, held)


def money_now(agent: Agent, found: dict[str, tuple[int, int]], held: int) -> dict[str, Any]:
    """Spend, open holds, headroom and utilization per cap from the agent's window counters
    as ``db.hot`` reads them ((settled, held) per scope)."""
    settled = {scope: amount for scope, (amount, _held) in found.items()}
    committed = {cap: settled.get(cap, 0) + held for cap in WINDOW_CAPS}
    return {
        "spend": money_map({cap: settled.get(cap, 0) for cap in WINDOW_CAPS}),
        "held": money_map({"open_holds": held})["open_holds"],
        "headroom": money_map(headroom(agent.caps, committed)),
        "utilization": {k: round(v, 6) for k, v in utilization(agent.caps, committed).items()},
    }


def agent_view(conn: Connection, agent_id: str, clock: Clock) -> dict[str, Any]:
    """The agent with its live money: what ``GET /v1/agents/{id}`` and ``GET /v1/me`` show."""
    row = q.get_agent(conn, agent_id)
    state = q.get_state(conn, agent_id)
    if row is None or state is None:
        raise AgentNotFound(agent_id=agent_id)
    agent = Agent.from_row(row)
    view = agent_public(agent)
    view.update(spend_now(conn, agent, to_us(clock.now()), int(state["held"])))
    view["ledger"] = {"rows": int(state["seq"]), "head_hash": state["head_hash"]}
    return view
