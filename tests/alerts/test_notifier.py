"""Notifications through real HTTP receivers on 127.0.0.1, on both backends: each channel's
format, signatures, retries after a receiver was down, PagerDuty trigger/resolve pairing,
and the delivery log."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import pytest

from spendwarden.alerts import actions
from spendwarden.alerts.channels import create_channel, delete_channel
from spendwarden.alerts.lifecycle import raise_alert
from spendwarden.alerts.plugin import notifier_of
from spendwarden.clock import FrozenClock, to_us
from spendwarden.db import queries as q
from spendwarden.db import queries_signals as qs
from spendwarden.delivery import backoff_seconds
from spendwarden.runtime import Runtime
from tests.alerts.receivers import receiver
from tests.factories import make_agent, spend

SECRET = "whsec_test_0123456789abcdef"


def channel(runtime: Runtime, kind: str, config: dict[str, Any], **kw: Any) -> str:
    """A channel; critical only unless told (the breach also raises a warning: cap_utilization)."""
    kw.setdefault("min_severity", "critical")
    created = create_channel(runtime.ledger.core, {"type": kind, "config": config, **kw}, "test")
    return str(created["id"])


def breach(runtime: Runtime, agent_id: str = "bot") -> dict[str, Any]:
    """Three spends, then one over the daily cap: a cap_breach alert and a halt."""
    make_agent(runtime.ledger, agent_id, daily="1.00")
    for i, amount in enumerate(("0.10", "0.20", "0.30")):
        runtime.ledger.record(spend(agent_id, amount, vendor="openai", tool=f"t{i}"))
    runtime.ledger.record(spend(agent_id, "2.00", vendor="openai", tool="search"))
    with runtime.store.read() as conn:
        (alert,) = q.list_alerts(conn, filters={"rule": "cap_breach"}, before=None, limit=10)
    return alert


def log(runtime: Runtime, channel_id: str) -> list[dict[str, Any]]:
    with runtime.store.read() as conn:
        return qs.list_deliveries(conn, channel_id=channel_id)


def test_webhook_is_signed_and_carries_the_halt_context(runtime: Runtime) -> None:
    with receiver() as rx:
        cid = channel(runtime, "webhook", {"url": rx.url + "/hook", "secret": SECRET})
        alert = breach(runtime)
        assert notifier_of(runtime).deliver_due() == 1
    (got,) = rx.requests
    stamp, sig = dict(p.split("=", 1) for p in got.headers["spendwarden-signature"].split(",")).values()
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig, expected)
    body = got.json()
    assert body["type"] == "alert.triggered" and body["alert"]["id"] == alert["id"]
    figures = body["alert"]["figures"]
    assert figures["cap"] == "daily" and figures["limit_usd"] == "1.000000"
    assert [a["amount_usd"] for a in figures["last_actions"]] == [
        "2.000000",
        "0.300000",
        "0.200000",
        "0.100000",
    ]
    assert figures["spend"]["daily"] == "2.600000" and figures["headroom"]["daily"] == "0.000000"
    (row,) = log(runtime, cid)
    assert (row["status"], row["attempts"], row["last_status_code"], row["event"]) == (
        "delivered",
        1,
        200,
        "trigger",
    )


def test_a_receiver_that_is_down_gets_the_alert_when_it_is_back(runtime: Runtime, clock: FrozenClock) -> None:
    notifier = notifier_of(runtime)
    with receiver(fail_first=2) as rx:
        cid = channel(runtime, "webhook", {"url": rx.url, "secret": SECRET})
        breach(runtime)
        assert notifier.deliver_due() == 1
        (row,) = log(runtime, cid)
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, 500)
        assert "HTTP 500" in row["last_error"]
        assert notifier.deliver_due() == 0  # backing off: not due yet
        clock.advance(backoff_seconds(1))
        assert notifier.deliver_due() == 1
        clock.advance(backoff_seconds(2))
        assert notifier.deliver_due() == 1
    (row,) = log(runtime, cid)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 3, None)
    assert len(rx.requests) == 3 and len({r.headers["spendwarden-delivery"] for r in rx.requests}) == 1


def test_an_unreachable_receiver_keeps_the_delivery_pending(runtime: Runtime, clock: FrozenClock) -> None:
    with receiver() as rx:
        url = rx.url
    cid = channel(runtime, "webhook", {"url": url, "secret": SECRET})
    breach(runtime)
    notifier = notifier_of(runtime)
    for attempt in range(1, 12):
        assert notifier.deliver_due() == 1
        clock.advance(backoff_seconds(attempt))
    (row,) = log(runtime, cid)
    assert row["status"] == "pending" and row["attempts"] == 11 and "Connect" in row["last_error"]
    assert backoff_seconds(11) == 300.0  # capped at five minutes
    assert row["next_attempt_at"] == to_us(clock.now())


def test_slack_gets_blocks_with_actions_and_caps(runtime: Runtime) -> None:
    with receiver() as rx:
        channel(runtime, "slack", {"url": rx.url + "/services/T0/B0/x"})
        breach(runtime)
        notifier_of(runtime).deliver_due()
    body = rx.requests[0].json()
    assert rx.requests[0].path == "/services/T0/B0/x"
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[CRITICAL] bot broke its daily cap"},
    }
    texts = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "*Last actions*" in texts and "2.000000 USD  openai search llm_api  (settled)" in texts
    assert "daily: spent 2.600000 USD, headroom 0.000000" in texts
    assert "limit_usd: 1.000000" in texts
    assert {"type": "mrkdwn", "text": "*Agent*\nbot"} in blocks[1]["fields"]


def test_telegram_send_message_in_html(runtime: Runtime) -> None:
    with receiver() as rx:
        channel(runtime, "telegram", {"bot_token": "123456:ABC-def", "chat_id": "-1001", "api_url": rx.url})
        breach(runtime)
        notifier_of(runtime).deliver_due()
    (got,) = rx.requests
    assert got.path == "/bot123456:ABC-def/sendMessage"
    body = got.json()
    assert body["chat_id"] == "-1001" and body["parse_mode"] == "HTML"
    assert body["text"].startswith("<b>[CRITICAL] bot broke its daily cap</b>")
    assert "<b>Last actions</b>" in body["text"] and "daily: spent 2.600000 USD" in body["text"]


def test_pagerduty_trigger_then_resolve_share_the_dedup_key(runtime: Runtime) -> None:
    with receiver() as rx:
        cid = channel(runtime, "pagerduty", {"routing_key": "R0UTINGKEY", "api_url": rx.url})
        alert = breach(runtime)
        notifier_of(runtime).deliver_due()
        actions.resolve(runtime.ledger.core, alert["id"], "admin:test", "raised the cap")
        assert notifier_of(runtime).deliver_due() == 1
    trigger, resolve = (r.json() for r in rx.requests)
    assert {r.path for r in rx.requests} == {"/v2/enqueue"}
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == alert["dedupe_key"]
    assert trigger["routing_key"] == "R0UTINGKEY"
    payload = trigger["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "spendwarden:bot"
    assert payload["custom_details"]["figures"]["cap"] == "daily"
    assert len(payload["custom_details"]["last_actions"]) == 4
    assert [d["event"] for d in log(runtime, cid)] == ["resolve", "trigger"]


def _raise(runtime: Runtime, severity: str) -> dict[str, Any]:
    with runtime.store.write() as conn:
        row, _ = raise_alert(
            conn,
            agent_id="bot",
            rule="velocity_spike",
            severity=severity,
            dedupe_key="velocity_spike:bot:x",
            title="spike",
            message=None,
            figures={"ratio": 4.2},
            at=to_us(runtime.clock.now()),
        )
    return row


def test_minimum_severity_and_escalation(runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot")
    with receiver() as rx:
        critical_only = channel(
            runtime, "webhook", {"url": rx.url, "secret": SECRET}, min_severity="critical"
        )
        everything = channel(runtime, "webhook", {"url": rx.url, "secret": SECRET}, min_severity="info")
        _raise(runtime, "warning")
        assert (len(log(runtime, critical_only)), len(log(runtime, everything))) == (0, 1)
        _raise(runtime, "critical")  # same condition, escalated: only the critical-only channel is new
        assert (len(log(runtime, critical_only)), len(log(runtime, everything))) == (1, 1)
        assert notifier_of(runtime).deliver_due() == 2


def test_deleting_a_channel_fails_its_pending_deliveries(runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot")
    cid = channel(runtime, "webhook", {"url": "http://127.0.0.1:9/", "secret": SECRET})
    _raise(runtime, "critical")
    delete_channel(runtime.ledger.core, cid, "test")
    (row,) = log(runtime, cid)
    assert (row["status"], row["last_error"]) == ("failed", "channel deleted")
    assert notifier_of(runtime).deliver_due() == 0


def test_a_disabled_channel_hears_nothing(runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot")
    cid = channel(runtime, "webhook", {"url": "http://127.0.0.1:9/", "secret": SECRET}, enabled=False)
    _raise(runtime, "critical")
    assert log(runtime, cid) == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_notifiers_never_claim_the_same_delivery(runtime: Runtime) -> None:
    make_agent(runtime.ledger, "bot")
    for i in range(6):
        channel(runtime, "webhook", {"url": f"http://127.0.0.1:9/{i}", "secret": SECRET})
    _raise(runtime, "critical")
    now = to_us(runtime.clock.now())
    lease = now + 60_000_000
    store = runtime.store
    with store.write() as first:
        a = qs.claim_due(first, postgres=True, now=now, lease_until=lease, limit=4)
        with store.write() as second:
            b = qs.claim_due(second, postgres=True, now=now, lease_until=lease, limit=10)
    assert len(a) == 4 and len(b) == 2
    assert not {r["id"] for r in a} & {r["id"] for r in b}
    clock_later = now + timedelta(seconds=1).seconds * 1_000_000
    with store.write() as conn:
        assert qs.claim_due(conn, postgres=True, now=clock_later, lease_until=lease, limit=10) == []
