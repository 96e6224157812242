"""The running system: settings, store, ledger, live hub and background workers.

Built once per process (server, CLI, embedded SDK). Parts of the design plug in here:
observers that react inside ledger transactions, publishers that see committed events,
and periodic jobs for the sweeper.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from spendwarden.clock import Clock, SystemClock
from spendwarden.config import Settings
from spendwarden.db.migrate import upgrade
from spendwarden.db.store import Store
from spendwarden.ledger.service import Ledger
from spendwarden.live import Hub, PgBridge
from spendwarden.workers import Workers


@dataclass
class Runtime:
    settings: Settings
    store: Store
    ledger: Ledger
    hub: Hub
    workers: Workers = field(default_factory=Workers)
    periodic: list[tuple[str, Callable[[], object]]] = field(default_factory=list)
    bridge: PgBridge | None = None
    # Set when the process is shutting down: long periodic jobs stop between items.
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def clock(self) -> Clock:
        return self.ledger.clock

    def sweep(self) -> bool:
        """One round of periodic work: hold expiry, then every registered job.

        With several replicas on PostgreSQL only the one holding the advisory lock runs a
        round; the others skip it (returns whether this process ran it).
        """
        with self.store.leader_lock("sweeper") as leader:
            if not leader:
                return False
            self.ledger.expire_holds()
            for _name, job in self.periodic:
                job()
        return True

    def expire_holds_led(self) -> bool:
        """Hold expiry under the sweeper's lock: the server's own loop for it."""
        return self.run_led("sweeper", self.ledger.expire_holds)

    def run_led(self, name: str, job: Callable[[], object]) -> bool:
        """One run of one periodic job, on whichever replica holds the job's own lock.

        The server gives every job its own loop and lock: a signals tick over thousands of
        agents then never holds back hold expiry or the analytics fold (one serial round
        did, at 400,000 agents). Returns whether this process ran it."""
        with self.store.leader_lock(name) as leader:
            if leader:
                job()
        return leader

    def start_live(self) -> None:
        """Start carrying live events across replicas (PostgreSQL only)."""
        if self.bridge is not None:
            self.bridge.start()

    def stop_live(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()

    def close(self) -> None:
        self.stop_live()
        self.store.dispose()


def build_runtime(
    settings: Settings | None = None, *, clock: Clock | None = None, migrate: bool = True
) -> Runtime:
    settings = settings or Settings()
    if migrate:
        upgrade(settings.session_url)
    store = Store(
        settings.database_url,
        pool_size=settings.db_pool_size,
        sqlite_synchronous=settings.sqlite_synchronous,
        loop_commit=settings.sqlite_loop_commit,
        session_url=settings.database_session_url,
        prepared_statements=settings.db_prepared_statements,
    )
    ledger = Ledger(store, settings, clock or SystemClock())
    hub = Hub()
    bridge = PgBridge(store.session_url, hub) if store.is_postgres else None
    ledger.core.publishers.append(bridge.publish if bridge is not None else hub.publish)
    runtime = Runtime(settings=settings, store=store, ledger=ledger, hub=hub, bridge=bridge)
    from spendwarden.plugins import installers

    for install in installers():
        install(runtime)
    return runtime
