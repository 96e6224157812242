"""The parts of the design that plug into a ``Runtime`` (observers, publishers, jobs).

Each part exposes ``install(runtime)``; add it to this list to switch it on everywhere
(server, CLI and embedded SDK alike).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime


def installers() -> list[Callable[[Runtime], None]]:
    from spendwarden.alerts.plugin import install as install_alerts
    from spendwarden.analytics import install as install_analytics
    from spendwarden.ingest.plugin import install as install_ingest
    from spendwarden.signals.plugin import install as install_signals

    return [install_alerts, install_signals, install_analytics, install_ingest]
