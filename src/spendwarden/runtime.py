"""The running system: settings, store, ledger, live hub and background workers.

Built once per process (server, CLI, embedded SDK). Parts of the design plug in here:
observers that react inside ledger transactions, publishers that see committed events,
and periodic jobs for the sweeper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from spendwarden.clock import Clock, SystemClock
from spendwarden.config import Settings
from spendwarden.db.migrate import upgrade
from spendwarden.db.store import Store
from spendwarden.ledger.service import Ledger
from spendwarden.live import Hub
from spendwarden.workers import Workers


@dataclass
class Runtime:
    settings: Settings
    store: Store
    ledger: Ledger
    hub: Hub
    workers: Workers = field(default_factory=Workers)
    periodic: list[tuple[str, Callable[[], object]]] = field(default_factory=list)

    @property
    def clock(self) -> Clock:
        return self.ledger.clock

    def sweep(self) -> None:
        """One round of periodic work: hold expiry, then every registered job."""
        self.ledger.expire_holds()
        for _name, job in self.periodic:
            job()

    def close(self) -> None:
        self.store.dispose()


def build_runtime(
    settings: Settings | None = None, *, clock: Clock | None = None, migrate: bool = True
) -> Runtime:
    settings = settings or Settings()
    if migrate:
        upgrade(settings.database_url)
    store = Store(settings.database_url, pool_size=settings.db_pool_size)
    ledger = Ledger(store, settings, clock or SystemClock())
    hub = Hub()
    ledger.core.publishers.append(hub.publish)
    runtime = Runtime(settings=settings, store=store, ledger=ledger, hub=hub)
    from spendwarden.plugins import installers

    for install in installers():
        install(runtime)
    return runtime
