"""Switches on alert delivery and task counting for a runtime (server, CLI, embedded SDK).

The notifier runs as a background worker only where workers run (``spendwarden serve``);
elsewhere deliveries wait in the outbox until a server picks them up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spendwarden.alerts.notifier import Notifier
from spendwarden.tasks import TaskCounter

if TYPE_CHECKING:
    from spendwarden.runtime import Runtime

NOTIFIER_ATTR = "notifier"


def install(runtime: Runtime) -> None:
    settings = runtime.settings
    notifier = Notifier(
        runtime.store,
        runtime.clock,
        max_attempts=settings.notify_max_attempts,
        timeout=settings.notify_timeout_seconds,
    )
    setattr(runtime, NOTIFIER_ATTR, notifier)
    runtime.ledger.core.publishers.append(notifier.on_events)
    runtime.ledger.core.observers.append(TaskCounter())
    runtime.workers.add("notifier", 0.001, notifier.run_once)


def notifier_of(runtime: Runtime) -> Notifier:
    """The runtime's notifier (tests drive ``deliver_due`` directly with a frozen clock)."""
    notifier = getattr(runtime, NOTIFIER_ATTR, None)
    if not isinstance(notifier, Notifier):
        raise RuntimeError("alerts plugin is not installed on this runtime")
    return notifier
