"""The dashboard in a real browser against a real server: sign in, the seeded fleet, a live
alert while events arrive, halt and resume from the page. Saves its screenshots to a
temporary folder, or with ``SPENDWARDEN_UPDATE_SCREENSHOTS=1`` to docs/screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from spendwarden.config import Settings
from spendwarden.runtime import Runtime, build_runtime
from tests.web.conftest import screenshots_dir
from tests.web.seed import seed_fleet
from tests.web.server import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN_TOKEN = "dashboard-admin-token-0123456789"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Records when each alert row first appears on the page (wall clock, ms).
WATCH_ALERTS = """
window.__alertSeen = {};
new MutationObserver(() => {
  for (const el of document.querySelectorAll("[data-alert-id]")) {
    window.__alertSeen[el.dataset.alertId] ??= Date.now();
  }
}).observe(document.body, { childList: true, subtree: true });
"""


@dataclass
class Fleet:
    url: str
    runtime: Runtime
    keys: dict[str, str]


@pytest.fixture(scope="module")
def fleet(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    db = tmp_path_factory.mktemp("dashboard") / "spendwarden.db"
    settings = Settings(database_url=f"sqlite:///{db}", admin_token=ADMIN_TOKEN, sweep_interval_seconds=0.5)
    runtime = build_runtime(settings)
    keys = seed_fleet(runtime.ledger, datetime.now(UTC))
    with serve(runtime) as url:
        yield Fleet(url, runtime, keys)
    runtime.close()


SCREENSHOTS = screenshots_dir()


def shot(page: Any, name: str, *, height: int | None = None) -> None:
    """Save a PNG of the viewport, or of the page's top ``height`` pixels (kept under 300 KB)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(250)  # let charts finish their first paint
    path: Path = SCREENSHOTS / f"{name}.png"
    if height is None:
        page.screenshot(path=str(path))
    else:
        tall = min(height, page.evaluate("document.documentElement.scrollHeight"))
        width = page.viewport_size["width"]
        page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": tall})
    assert path.stat().st_size < 300_000, f"{path.name} is {path.stat().st_size} bytes"


def sign_in(page: Any, url: str, token: str = ADMIN_TOKEN) -> None:
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#agents-table tbody tr")


def open_page(
    browser: Any, fleet: Fleet, *, scheme: str = "light", viewport: dict[str, int] = DESKTOP
) -> Any:
    context = browser.new_context(viewport=viewport, color_scheme=scheme, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


def test_sign_in_and_every_view(browser: Any, fleet: Fleet) -> None:
    for scheme in ("light", "dark"):
        page = open_page(browser, fleet, scheme=scheme)
        page.goto(fleet.url + "/")
        page.wait_for_selector("#token")
        shot(page, f"signin-{scheme}")
        sign_in(page, fleet.url)
        rows = page.locator("#agents-table tbody tr")
        assert rows.count() == 5
        page.wait_for_selector("#fleet-chart .uplot")
        shot(page, f"fleet-{scheme}", height=1500)

        page.click("#agents-table a:text('research-bot')")
        page.wait_for_selector("#caps .cap")
        page.wait_for_selector("#agent-chart .uplot")
        shot(page, f"agent-{scheme}", height=1150)

        page.goto(fleet.url + "/#/alerts")
        page.wait_for_selector("#alerts-list section, #alerts-list .unavailable")
        shot(page, f"alerts-{scheme}")

        page.goto(fleet.url + "/#/transactions?agent_id=scraper")
        page.wait_for_selector("#txn-table tbody tr[data-txn]")
        assert (
            page.locator("#txn-table tbody tr[data-txn] td:nth-child(2)").all_inner_texts()
            == ["scraper"] * 50
        )
        shot(page, f"transactions-{scheme}")

        page.locator("#txn-table tbody tr[data-txn]").first.click()
        page.wait_for_selector("#chain-status .badge")
        assert "chain intact" in page.inner_text("#chain-status")
        assert len(page.inner_text("#entry-hash")) == 64
        shot(page, f"ledger-entry-{scheme}")
        assert page.js_errors == []
        page.context.close()


def test_phone_width(browser: Any, fleet: Fleet) -> None:
    page = open_page(browser, fleet, viewport=PHONE)
    sign_in(page, fleet.url)
    page.wait_for_selector("#fleet-chart .uplot")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width}px)"
    shot(page, "fleet-phone", height=2000)
    assert page.js_errors == []
    page.context.close()


def test_viewer_sees_no_buttons(browser: Any, fleet: Fleet) -> None:
    from spendwarden.ledger.admin import create_token

    token = create_token(fleet.runtime.ledger.core, "viewer", "wallboard", actor="test")
    page = open_page(browser, fleet)
    sign_in(page, fleet.url, token)
    assert "read-only" in page.inner_text("#whoami")
    page.goto(fleet.url + "/#/agents/support-bot")
    page.wait_for_selector("#caps")
    assert page.locator("#halt").count() == 0
    assert page.locator("#agent-actions").count() == 0
    page.context.close()


def authorize(fleet: Fleet, agent_id: str) -> httpx.Response:
    return httpx.post(
        fleet.url + "/v1/authorize",
        json={"amount_usd": "0.01", "vendor": "anthropic", "rail": "llm_api"},
        headers={"Authorization": f"Bearer {fleet.keys[agent_id]}"},
    )


def signals_installed(runtime: Runtime) -> bool:
    return any(type(o).__module__.startswith("spendwarden.signals") for o in runtime.ledger.core.observers)


def feed_runaway(fleet: Fleet) -> str:
    """The scraper starts looping: the same paid crawl over and over. With the signals part
    installed that is a ``runaway_loop``; without it, the loop runs past the daily cap and the
    ledger's own ``cap_breach`` fires."""
    loop_detector = signals_installed(fleet.runtime)
    amount = "0.050000" if loop_detector else "1.500000"
    headers = {"Authorization": f"Bearer {fleet.keys['scraper']}"}
    body = {"amount_usd": amount, "rail": "x402", "vendor": "firecrawl", "tool": "crawl", "kind": "payment"}
    body["endpoint"] = "https://api.firecrawl.dev/v1/crawl"
    with httpx.Client(base_url=fleet.url, headers=headers) as client:
        for i in range(40):
            client.post("/v1/transactions", json={**body, "external_id": f"loop-{i}"}).raise_for_status()
    return "runaway_loop" if loop_detector else "cap_breach"


def test_live_alert_then_halt_and_resume(browser: Any, fleet: Fleet) -> None:
    page = open_page(browser, fleet)
    sign_in(page, fleet.url)
    page.goto(fleet.url + "/#/alerts")
    page.wait_for_selector("#alerts-list section")
    page.wait_for_selector("#live[data-state=live], #live[data-state=polling]")
    live = page.get_attribute("#live", "data-state") == "live"

    page.evaluate(WATCH_ALERTS)
    rule = feed_runaway(fleet)
    page.wait_for_selector(f"#alerts-list [data-rule={rule}]", timeout=1000 if live else 8000)
    if live:  # from the moment the alert opened on the server to the row on screen
        alert_id = page.get_attribute(f"#alerts-list [data-rule={rule}]", "data-alert-id")
        opened = httpx.get(f"{fleet.url}/v1/alerts/{alert_id}", headers=ADMIN).json()["first_seen_at"]
        seen_ms = page.evaluate(f"window.__alertSeen[{alert_id!r}]")
        latency = seen_ms / 1000 - datetime.fromisoformat(opened).timestamp()
        print(f"alert on screen {latency:.3f}s after it opened")
        assert latency < 1.0, f"the alert took {latency:.3f}s to appear"
    shot(page, "alerts-live")

    page.goto(fleet.url + "/#/agents/support-bot")
    page.click("#halt")
    page.fill("dialog textarea[name=reason]", "Investigating a refund loop")
    page.click("#confirm-action")
    page.wait_for_selector("#agent-status .b-halted")
    assert authorize(fleet, "support-bot").status_code == 423

    page.click("#resume")
    page.fill("dialog textarea[name=reason]", "Refund loop fixed")
    page.click("#confirm-action")
    page.wait_for_selector("#agent-status .b-active")
    assert authorize(fleet, "support-bot").status_code == 200
    assert page.js_errors == []
    page.context.close()


def test_degrades_without_analytics_or_stream(browser: Any, fleet: Fleet) -> None:
    """A server without the analytics part or the stream still gives a working page: clear
    "not available" panels, figures derived from ledger rows, polling instead of SSE."""
    missing = '{"error": {"code": "not_found", "message": "Not Found", "details": {}}}'
    page = open_page(browser, fleet)
    for pattern in ("**/v1/analytics/**", "**/v1/stream*"):
        page.route(
            pattern, lambda route: route.fulfill(status=404, body=missing, content_type="application/json")
        )
    sign_in(page, fleet.url)
    page.wait_for_selector("#fleet-chart .uplot")
    assert "Anomaly score not available" in page.inner_text("main")
    page.wait_for_selector("#live[data-state=polling]")
    page.goto(fleet.url + "/#/agents/research-bot")
    page.wait_for_selector("#agent-chart .uplot")
    assert "not available" in page.inner_text("main")
    assert page.js_errors == []
    page.context.close()
