"""``Ledger``: the write path as one object, used by the API, the CLI and the embedded SDK.

It only wires dependencies to the functions in this package; the logic lives in
``holds``, ``spend``, ``agents`` and ``record``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from spendwarden.clock import Clock, SystemClock
from spendwarden.config import Settings
from spendwarden.db.store import Store
from spendwarden.events import SpendEvent
from spendwarden.ledger import agents as agent_ops
from spendwarden.ledger import authorize_sqlite, holds
from spendwarden.ledger.admin import Principal
from spendwarden.ledger.auth import authenticate
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.spend import Recorded, record_spend
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.ledger.verify_store import verify_ledger
from spendwarden.ledger.views import agent_view


class Ledger:
    def __init__(self, store: Store, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.core = LedgerCore(store=store, clock=clock or SystemClock(), settings=settings or Settings())

    @property
    def store(self) -> Store:
        return self.core.store

    @property
    def clock(self) -> Clock:
        return self.core.clock

    def authenticate(self, token: str | None) -> Principal:
        return authenticate(self.core, token)

    def decide_lean(
        self, conn: Connection, requests: Sequence[authorize_sqlite.Lean]
    ) -> list[authorize_sqlite.Outcome]:
        """SQLite: a batch of authorizations decided on the writer in the caller's
        transaction (``db/loop_commit.py`` runs it for the event loop's requests)."""
        return authorize_sqlite.decide_batch(self.core, conn, requests)

    # agent-key operations
    def authorize(
        self,
        agent_id: str,
        req: AuthorizeRequest,
        idempotency_key: str | None = None,
        *,
        try_fast_path: bool = True,
        key_hash: str | None = None,
    ) -> dict[str, Any]:
        """``try_fast_path=False``: the locked path only (the caller already asked
        ``spendwarden_authorize``). ``key_hash``: see ``holds.authorize``."""
        return holds.authorize(
            self.core,
            agent_id,
            req,
            idempotency_key=idempotency_key,
            try_fast_path=try_fast_path,
            key_hash=key_hash,
        )

    def settle(
        self,
        agent_id: str,
        hold_id: str,
        event: SpendEvent,
        idempotency_key: str | None = None,
        price_provider: str | None = None,
    ) -> dict[str, Any]:
        return holds.settle(
            self.core,
            agent_id,
            hold_id,
            event,
            idempotency_key=idempotency_key,
            price_provider=price_provider,
        )

    def void(self, agent_id: str, hold_id: str) -> dict[str, Any]:
        return holds.void(self.core, agent_id, hold_id)

    def record(self, event: SpendEvent) -> Recorded:
        return record_spend(self.core, event)

    def view(self, agent_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return agent_view(conn, agent_id, self.clock)

    # admin operations
    def create_agent(self, spec: agent_ops.AgentSpec, actor: str) -> tuple[dict[str, Any], str]:
        return agent_ops.create_agent(self.core, spec, actor=actor)

    def update_agent(
        self, agent_id: str, changes: dict[str, Any], actor: str, reason: str | None = None
    ) -> dict[str, Any]:
        return agent_ops.update_agent(self.core, agent_id, changes, actor=actor, reason=reason)

    def issue_key(self, agent_id: str, actor: str, label: str | None = None) -> tuple[dict[str, Any], str]:
        return agent_ops.issue_key(self.core, agent_id, actor=actor, label=label)

    def revoke_key(self, agent_id: str, key_id: str, actor: str, reason: str | None = None) -> dict[str, Any]:
        return agent_ops.revoke_key(self.core, agent_id, key_id, actor=actor, reason=reason)

    def halt(self, agent_id: str, actor: str, reason: str) -> dict[str, Any]:
        return agent_ops.halt(self.core, agent_id, actor=actor, reason=reason)

    def resume(self, agent_id: str, actor: str, reason: str) -> dict[str, Any]:
        return agent_ops.resume(self.core, agent_id, actor=actor, reason=reason)

    def revoke(self, agent_id: str, actor: str, reason: str) -> dict[str, Any]:
        return agent_ops.revoke(self.core, agent_id, actor=actor, reason=reason)

    def expire_holds(self) -> int:
        return holds.expire_holds(self.core)

    def verify(self, agent_id: str | None = None) -> dict[str, Any]:
        return verify_ledger(self.store, agent_id)
