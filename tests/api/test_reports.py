"""Billing reports over HTTP and from the CLI: totals reconcile, every line traces to rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from spendwarden.cli import app
from spendwarden.config import Settings
from tests.api.test_spend_api import create
from tests.factories import bearer

RANGE = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def _spend(client: Any, key: str, amount: str, model: str, status: str = "settled") -> str:
    body = {"amount_usd": amount, "vendor": "openai", "model": model, "status": status}
    r = client.post("/v1/transactions", json=body, headers=bearer(key))
    assert r.status_code in (200, 201), r.text
    return str(r.json()["transaction"]["id"])


def _setup(client: Any, admin: dict[str, str]) -> dict[str, list[str]]:
    a = create(client, admin, "a", owner="acme")
    b = create(client, admin, "b", owner="acme")
    c = create(client, admin, "c", owner="globex")
    return {
        "a-gpt-4o": [_spend(client, a, "1.50", "gpt-4o"), _spend(client, a, "0.50", "gpt-4o", "refunded")],
        "a-mini": [
            _spend(client, a, "0.10", "gpt-4o-mini"),
            _spend(client, a, "0.20", "gpt-4o-mini", "failed"),
        ],
        "b-gpt-4o": [_spend(client, b, "2.00", "gpt-4o")],
        "c-gpt-4o": [_spend(client, c, "9.00", "gpt-4o")],
    }


def test_json_lines_reconcile_and_trace(client: Any, admin_headers: dict[str, str]) -> None:
    ids = _setup(client, admin_headers)
    body = client.get("/v1/reports/billing", params={**RANGE, "owner": "acme"}, headers=admin_headers).json()
    assert body["totals"]["amount_usd"] == "3.100000" and body["totals"]["count"] == 5
    assert body["totals"]["by_agent"] == {"a": "1.100000", "b": "2.000000"}
    assert body["reconciliation"]["matches"] is True
    lines = {(x["agent_id"], x["model"]): x for x in body["lines"]}
    assert lines[("a", "gpt-4o")]["amount_usd"] == "1.000000"
    assert lines[("a", "gpt-4o")]["refunded_usd"] == "0.500000"
    assert lines[("a", "gpt-4o")]["transaction_ids"] == ids["a-gpt-4o"]
    assert lines[("a", "gpt-4o-mini")]["count"] == 2
    traced = client.get(lines[("b", "gpt-4o")]["transactions_url"], headers=admin_headers).json()
    assert [t["id"] for t in traced["items"]] == ids["b-gpt-4o"]


def test_csv_has_a_line_per_item_and_a_total(client: Any, admin_headers: dict[str, str]) -> None:
    _setup(client, admin_headers)
    r = client.get("/v1/reports/billing", params={**RANGE, "format": "csv"}, headers=admin_headers)
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[-1]["owner"] == "TOTAL" and rows[-1]["amount_usd"] == "12.100000"
    assert sum(len(x["transaction_ids"].split()) for x in rows[:-1]) == 6


def test_cli_report_writes_the_same_file(
    client: Any, admin_headers: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    _setup(client, admin_headers)
    out = tmp_path / "acme.json"
    args = [
        "report",
        "--owner",
        "acme",
        "--from",
        "2026-11-01T00:00:00+00:00",
        "--to",
        "2026-12-01T00:00:00+00:00",
    ]
    result = CliRunner().invoke(
        app, [*args, "--format", "json", "--output", str(out), "-d", settings.database_url]
    )
    assert result.exit_code == 0, result.output
    api = client.get("/v1/reports/billing", params={**RANGE, "owner": "acme"}, headers=admin_headers).json()
    assert json.loads(out.read_text())["lines"] == api["lines"]
