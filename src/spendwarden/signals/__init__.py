"""Live signals: every alert rule of DESIGN.md §3 as pure functions over plain data.

The integrator keeps one ``AgentSignalState`` per agent (JSON in the agent's state row) and,
inside the agent's write transaction, calls ``observe_transaction`` / ``observe_task_event``;
a periodic job calls ``tick`` (every round until ``watch_until``, then on the slower
``cadence``). Each returns a ``SignalOutcome`` with the alerts to open and the ones to
resolve. ``cap_breach`` and ``auto_halt`` are raised by the ledger itself
(``ledger/record.py``, with ``ledger/halt.py``); ``payment_loop`` through
``find_payment_cycle`` and ``observe_payment_cycle``.
"""

from __future__ import annotations

from spendwarden.signals.alerts import (
    RULES,
    AlertCandidate,
    Resolution,
    payment_loop_alert,
)
from spendwarden.signals.conditions import SignalOutcome
from spendwarden.signals.config import DEFAULT_CONFIG, SignalConfig, TierPrior, effective, validate_overrides
from spendwarden.signals.engine import (
    observe_payment_cycle,
    observe_task_event,
    observe_transaction,
    tick,
    watch_until,
)
from spendwarden.signals.facts import ActiveHours, AgentContext, TaskEventFact, TxnFact
from spendwarden.signals.loops import find_payment_cycle
from spendwarden.signals.profile import agent_profile
from spendwarden.signals.state import AgentSignalState

__all__ = [
    "DEFAULT_CONFIG",
    "RULES",
    "ActiveHours",
    "AgentContext",
    "AgentSignalState",
    "AlertCandidate",
    "Resolution",
    "SignalConfig",
    "SignalOutcome",
    "TaskEventFact",
    "TierPrior",
    "TxnFact",
    "agent_profile",
    "effective",
    "find_payment_cycle",
    "observe_payment_cycle",
    "observe_task_event",
    "observe_transaction",
    "payment_loop_alert",
    "tick",
    "validate_overrides",
    "watch_until",
]
