"""Admin endpoints for agents: create, list, get, patch, keys, halt, resume, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from spendwarden.api.deps import AdminDep, LedgerDep, ViewerDep
from spendwarden.api.schemas import (
    AgentCreate,
    AgentCreated,
    AgentUpdate,
    ErrorResponse,
    KeyCreate,
    KeyRevoke,
    ReasonBody,
)
from spendwarden.clock import to_us
from spendwarden.db import hot
from spendwarden.db import queries as q
from spendwarden.ledger.agents import AgentSpec, key_public
from spendwarden.ledger.render import agent_public
from spendwarden.ledger.types import Agent
from spendwarden.ledger.views import money_now
from spendwarden.ledger.windows import window_keys_us

router = APIRouter(prefix="/v1/agents", tags=["agents"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 422)
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AgentCreated, responses=ERRORS)
def create_agent(body: AgentCreate, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    """Create an agent from a tier preset plus overrides; the API key is shown only here."""
    spec = AgentSpec(
        **body.model_dump(exclude={"policy", "active_hours"}),
        policy=body.policy.model_dump(exclude_none=True),
        active_hours=body.active_hours.model_dump() if body.active_hours else None,
    )
    agent, api_key = ledger.create_agent(spec, admin.actor)
    return {"agent": agent, "api_key": api_key}


@router.get("", responses=ERRORS)
def list_agents(
    viewer: ViewerDep,
    ledger: LedgerDep,
    owner: str | None = None,
    status: str | None = None,
    after: Annotated[str | None, Query(description="Cursor: the last id of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Agents with their live spend and headroom, paginated by id (three statements a page)."""
    now_us = to_us(ledger.clock.now())
    store = ledger.store
    with store.read() as conn:
        rows = q.list_agents(conn, owner=owner, status=status, after=after, limit=limit)
        money = hot.read_agents_with_counters(
            conn, store.is_postgres, [row["id"] for row in rows], window_keys_us(now_us)
        )
    items = []
    for row in rows:
        agent = Agent.from_row(row)
        state, _row, found = money.get(agent.id, ({"held": 0}, row, {}))
        items.append({**agent_public(agent), **money_now(agent, found, int(state["held"]))})
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}


@router.get("/{agent_id}", responses=ERRORS)
def get_agent(agent_id: str, viewer: ViewerDep, ledger: LedgerDep) -> dict[str, Any]:
    """One agent with live spend per cap window, open holds and headroom."""
    return ledger.view(agent_id)


@router.patch("/{agent_id}", responses=ERRORS)
def update_agent(agent_id: str, body: AgentUpdate, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    """Change caps (``null`` removes one), policy, halt rules, signal thresholds and more."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if body.policy is not None:
        changes["policy"] = body.policy.model_dump(exclude_none=True)
    return ledger.update_agent(agent_id, changes, admin.actor, body.reason)


@router.get("/{agent_id}/keys", responses=ERRORS)
def list_keys(agent_id: str, viewer: ViewerDep, ledger: LedgerDep) -> dict[str, Any]:
    ledger.view(agent_id)
    with ledger.store.read() as conn:
        return {"items": [key_public(r) for r in q.list_keys(conn, agent_id)]}


@router.post("/{agent_id}/keys", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def issue_key(
    agent_id: str, admin: AdminDep, ledger: LedgerDep, body: KeyCreate | None = None
) -> dict[str, Any]:
    """Issue another key (rotation); shown only in this response."""
    key, secret = ledger.issue_key(agent_id, admin.actor, body.label if body else None)
    return {"key": key, "api_key": secret}


@router.post("/{agent_id}/keys/{key_id}/revoke", responses=ERRORS)
def revoke_key(
    agent_id: str, key_id: str, admin: AdminDep, ledger: LedgerDep, body: KeyRevoke | None = None
) -> dict[str, Any]:
    return ledger.revoke_key(agent_id, key_id, admin.actor, body.reason if body else None)


@router.post("/{agent_id}/halt", responses=ERRORS)
def halt(agent_id: str, body: ReasonBody, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    """Stop new authorizations at once (423) until a person resumes the agent."""
    return ledger.halt(agent_id, admin.actor, body.reason)


@router.post("/{agent_id}/resume", responses=ERRORS)
def resume(agent_id: str, body: ReasonBody, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    return ledger.resume(agent_id, admin.actor, body.reason)


@router.post("/{agent_id}/revoke", responses=ERRORS)
def revoke(agent_id: str, body: ReasonBody, admin: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    """Revoke the agent and all its keys; the very next request with any of them gets 401."""
    return ledger.revoke(agent_id, admin.actor, body.reason)
