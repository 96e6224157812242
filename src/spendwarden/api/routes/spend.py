"""Agent-key endpoints: authorize, settle, void, record, and ``/v1/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from spendwarden.api.convert import authorize_request, settle_event, transaction_event
from spendwarden.api.deps import AgentDep, IdempotencyHeader, LedgerDep
from spendwarden.api.responses import FastJSON
from spendwarden.api.schemas import (
    AuthorizeBody,
    AuthorizeResponse,
    ErrorResponse,
    SettleBody,
    TransactionBody,
)
from spendwarden.ledger.on_loop import run_db

router = APIRouter(prefix="/v1", tags=["spend"])

DENIALS: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorResponse, "description": "A cap or the policy denies the spend."},
    423: {"model": ErrorResponse, "description": "The agent is halted."},
    401: {"model": ErrorResponse, "description": "Unknown or revoked key."},
    403: {"model": ErrorResponse, "description": "Not an agent key."},
    409: {"model": ErrorResponse, "description": "Idempotency key reused with a different body."},
    422: {"model": ErrorResponse, "description": "Invalid input."},
}


@router.post("/authorize", response_model=AuthorizeResponse, responses=DENIALS)
async def authorize(
    body: AuthorizeBody, agent: AgentDep, ledger: LedgerDep, key: IdempotencyHeader
) -> FastJSON:
    """Check every cap and the policy, and hold the expected cost — one atomic step."""
    agent_id, request = agent.agent_id, authorize_request(body)
    assert agent_id is not None
    result = await run_db(ledger, lambda: ledger.authorize(agent_id, request, key or body.idempotency_key))
    # Sent as built: the ledger renders exactly AuthorizeResponse (the schema tests hold it
    # to that), and re-validating it on the hot path would cost more than the SQL.
    return FastJSON(result)


@router.post("/authorizations/{authorization_id}/settle", responses=DENIALS)
def settle(
    authorization_id: str, body: SettleBody, agent: AgentDep, ledger: LedgerDep, key: IdempotencyHeader
) -> dict[str, Any]:
    """Record the actual amount (or price it from token usage); it may exceed the hold."""
    assert agent.agent_id is not None
    event, provider = settle_event(agent.agent_id, body)
    return ledger.settle(agent.agent_id, authorization_id, event, key or body.idempotency_key, provider)


@router.post("/authorizations/{authorization_id}/void", responses=DENIALS)
def void(authorization_id: str, agent: AgentDep, ledger: LedgerDep) -> dict[str, Any]:
    """Release the hold without spending."""
    assert agent.agent_id is not None
    return ledger.void(agent.agent_id, authorization_id)


@router.post("/transactions", status_code=status.HTTP_201_CREATED, responses=DENIALS)
def record(body: TransactionBody, agent: AgentDep, ledger: LedgerDep, response: Response) -> dict[str, Any]:
    """Record a spend that already happened; ``(source, external_id)`` dedupes (200 on repeat)."""
    assert agent.agent_id is not None
    recorded = ledger.record(transaction_event(ledger.core, agent.agent_id, body))
    if recorded.duplicate:
        response.status_code = status.HTTP_200_OK
    return {"transaction": recorded.transaction, "duplicate": recorded.duplicate}


@router.get("/me", responses=DENIALS)
def me(agent: AgentDep, ledger: LedgerDep) -> dict[str, Any]:
    """The calling agent's status, spend per cap window and headroom."""
    assert agent.agent_id is not None
    return ledger.view(agent.agent_id)
