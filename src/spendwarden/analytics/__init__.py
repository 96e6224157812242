"""Analytics: rollups kept current with the ledger, and the questions they answer fast.

``install(runtime)`` registers the rollup observer (inside every ledger write), the
journal fold and the pruning of past window counters (periodic jobs of the sweeper).
Modules: ``rollup`` (observer and aggregation), ``fold`` (fleet journal), ``windows``
(window tiling), ``reader`` (rollup reads), ``summary``, ``profile``, ``forecast``,
``recommend``, ``billing``, ``prune`` (retention), ``metrics`` (Prometheus) and ``cli``
(``report`` and ``prune`` commands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

FOLD_BUDGET_SECONDS = 0.5


def install(runtime: Runtime) -> None:
    from spendwarden.analytics.fold import fold_journal
    from spendwarden.analytics.rollup import DAY_US, RollupObserver
    from spendwarden.clock import to_us
    from spendwarden.ledger.retention import CounterPruner

    retention_us = runtime.settings.analytics_minute_retention_days * DAY_US
    runtime.ledger.core.observers.append(RollupObserver(runtime.settings.analytics_minute_retention_days))
    batch = runtime.settings.analytics_fold_batch

    def fold() -> None:
        minutes_from = to_us(runtime.clock.now()) - retention_us  # as the observer does for agent rollups
        fold_journal(
            runtime.store, batch=batch, budget_seconds=FOLD_BUDGET_SECONDS, minutes_from=minutes_from
        )

    runtime.periodic.append(("analytics.fold", fold))
    # Past window counters can be pruned because the rollups written beside them rebuild
    # any of them exactly (ledger/horizon.py): the job belongs with the rollups.
    pruner = CounterPruner(runtime.store, runtime.clock, runtime.settings.counter_retention_days)
    runtime.periodic.append(("ledger.counters", pruner))
