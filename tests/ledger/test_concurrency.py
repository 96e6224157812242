"""1,000 concurrent authorizations racing for one cap: exactly as many as fit are approved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from spendwarden.errors import CapExceeded
from spendwarden.ledger.types import AuthorizeRequest
from spendwarden.money import usd
from spendwarden.runtime import Runtime
from tests.factories import make_agent


def test_racing_authorizations_never_overspend(runtime: Runtime) -> None:
    ledger = runtime.ledger
    make_agent(ledger, "racer", daily="2.50")  # 250 holds of one cent fit

    def attempt(i: int) -> bool:
        try:
            ledger.authorize("racer", AuthorizeRequest(amount=usd("0.01"), task_id=f"t{i % 7}"))
            return True
        except CapExceeded:
            return False

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(attempt, range(1000)))
    assert sum(results) == 250
    view = ledger.view("racer")
    assert view["held"] == "2.500000"
    assert view["headroom"]["daily"] == "0.000000"


def test_racing_settlements_and_authorizations_keep_counters_exact(runtime: Runtime) -> None:
    ledger = runtime.ledger
    from spendwarden.events import SpendEvent

    make_agent(ledger, "mixed", daily="100.00")

    def cycle(i: int) -> None:
        hold = ledger.authorize("mixed", AuthorizeRequest(amount=usd("0.05")))
        ledger.settle("mixed", hold["id"], SpendEvent(agent_id="mixed", amount=usd("0.03")))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(cycle, range(200)))
    view = ledger.view("mixed")
    assert view["spend"]["daily"] == "6.000000"
    assert view["held"] == "0.000000"
    assert ledger.verify("mixed")["ok"]
