"""What every write-path function receives: the open transaction and the locked agent.

``Emitted`` events are collected during the transaction and published only after it
commits, so a subscriber never sees something that was rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection

from spendwarden.clock import Clock, to_us
from spendwarden.config import Settings
from spendwarden.db.pg_authorize import Decide, blocking_decider
from spendwarden.db.store import Store
from spendwarden.ledger.known import KnownAgents
from spendwarden.ledger.types import Agent


@dataclass(frozen=True)
class Emitted:
    """A live event for the stream, outbound webhooks and notifiers: ``transaction``,
    ``alert`` or ``agent``."""

    kind: str
    name: str
    payload: dict[str, Any]


@dataclass
class TxContext:
    conn: Connection
    store: Store
    agent: Agent
    state: dict[str, Any]
    now: datetime
    observers: list[Observer] = field(default_factory=list)
    emitted: list[Emitted] = field(default_factory=list)
    # (hour, task_id, counters) read with the lock; used once, before anything is written.
    prefetched: tuple[int, str | None, dict[str, tuple[int, int]]] | None = None
    # (scope, period) -> (settled, held), None where no counter exists: every counter this
    # unit's checks and observers may ask about, read at once after the bulk path's last
    # counter write (a round trip per agent otherwise). A key not in it is read as usual.
    counters_known: dict[tuple[str, str], tuple[int, int] | None] | None = None
    now_us: int = field(init=False)  # ``now`` in the database's form; the unit's time is fixed

    def __post_init__(self) -> None:
        self.now_us = to_us(self.now)

    def emit(self, kind: str, name: str, payload: dict[str, Any]) -> None:
        self.emitted.append(Emitted(kind, name, payload))


class Observer(Protocol):
    """Code that reacts to ledger writes inside the same transaction (detectors, rollups).

    ``rows`` are the new transaction rows of one agent (``ctx.agent``), in chain order:
    one row from ``append``, many from the bulk path. Observers must aggregate a batch
    rather than loop over statements per row.
    """

    def on_transactions(self, ctx: TxContext, rows: list[dict[str, Any]]) -> None: ...


@runtime_checkable
class BatchObserver(Observer, Protocol):
    """An observer that can also take every agent of a bulk transaction in one call.

    Why: a batch spread over thousands of agents (a day's export of a large fleet) paid
    the observer's statements once per agent, ~1.8 ms each for the rollups; in one call
    they are a few statements for the whole batch."""

    def on_batch(self, batch: list[tuple[TxContext, list[dict[str, Any]]]]) -> None: ...


def observe_batch(observers: list[Observer], batch: list[tuple[TxContext, list[dict[str, Any]]]]) -> None:
    """Run each observer over every ``(ctx, rows)`` of one transaction, in observer order:
    ``on_batch`` where an observer has it, ``on_transactions`` per agent otherwise."""
    for observer in observers:
        if isinstance(observer, BatchObserver):
            observer.on_batch(batch)
        else:
            for ctx, rows in batch:
                observer.on_transactions(ctx, rows)


Publisher = Callable[[list[Emitted]], None]
# Writes what committed events must cause (an outbox row) in the same transaction, so a
# crash between commit and publishing loses nothing.
Outbox = Callable[[Connection, list[Emitted]], None]
# (provider, model, usage, at) -> (amount in micros, price data version)
Pricer = Callable[[str | None, str, Any, datetime], tuple[int, str]]


@dataclass
class LedgerCore:
    """The ledger's dependencies: storage, time, settings, observers and the publisher."""

    store: Store
    clock: Clock
    settings: Settings
    observers: list[Observer] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)
    outboxes: list[Outbox] = field(default_factory=list)
    pricer: Pricer | None = None
    # PostgreSQL's one-round-trip authorization decides with these (ledger/authorize_pg.py).
    known_agents: KnownAgents = field(default_factory=KnownAgents)
    # PostgreSQL: how ``spendwarden_authorize``'s calls are made (batched: db/pg_batch.py).
    decide_in_database: Decide | None = None

    def __post_init__(self) -> None:
        if self.store.is_postgres and self.decide_in_database is None:
            self.decide_in_database = blocking_decider(self.store, self.settings.authorize_batch_size)

    def stage(self, conn: Connection, events: list[Emitted]) -> None:
        """Inside the transaction that produced ``events``: let outboxes record them."""
        if events:
            for outbox in self.outboxes:
                outbox(conn, events)

    def publish(self, events: list[Emitted]) -> None:
        if not events:
            return
        for publish in self.publishers:
            publish(events)
