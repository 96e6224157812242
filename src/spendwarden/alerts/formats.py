"""How an alert looks in each channel: Slack blocks, Telegram HTML, PagerDuty events, signed webhooks.

Pure functions from (channel config, alert, event) to one HTTP request. A halt alert's
figures carry ``last_actions``, ``spend`` and ``headroom`` (put there by the ledger); every
format renders them, so the person paged sees what the agent did and what is left.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from typing import Any

import orjson

from spendwarden.delivery import OutboundRequest

STRUCTURED = ("last_actions", "spend", "headroom")
EVENT_NAMES = {"trigger": "alert.triggered", "resolve": "alert.resolved"}
PD_SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def headline(alert: dict[str, Any], event: str) -> str:
    prefix = "RESOLVED" if event == "resolve" else alert["severity"].upper()
    return f"[{prefix}] {alert['title']}"


def figure_lines(alert: dict[str, Any]) -> list[str]:
    """The numbers that made the rule fire, one ``name: value`` per line."""
    figures = alert.get("figures") or {}
    return [f"{k}: {_scalar(v)}" for k, v in figures.items() if k not in STRUCTURED]


def action_lines(alert: dict[str, Any]) -> list[str]:
    """The agent's last actions (newest first), as the ledger captured them at the halt."""
    out = []
    for a in (alert.get("figures") or {}).get("last_actions") or []:
        what = " ".join(str(a[k]) for k in ("vendor", "tool", "rail") if a.get(k))
        out.append(f"{a.get('occurred_at')}  {a.get('amount_usd')} USD  {what}  ({a.get('status')})")
    return out


def cap_lines(alert: dict[str, Any]) -> list[str]:
    """Spend and remaining headroom per cap window."""
    figures = alert.get("figures") or {}
    spend, room = figures.get("spend") or {}, figures.get("headroom") or {}
    lines = []
    for cap in [*spend, *[c for c in room if c not in spend]]:
        left = room.get(cap)
        lines.append(
            f"{cap}: spent {spend.get(cap, '-')} USD, headroom {left if left is not None else 'no cap'}"
        )
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain_text(alert: dict[str, Any], event: str) -> str:
    """The whole notification as plain text (used by Telegram and as Slack's fallback)."""
    parts = [headline(alert, event), f"agent: {alert.get('agent_id') or '-'}  rule: {alert['rule']}"]
    if alert.get("message"):
        parts.append(alert["message"])
    parts += figure_lines(alert)
    if actions := action_lines(alert):
        parts += ["Last actions:", *actions]
    if caps := cap_lines(alert):
        parts += ["Spend and headroom:", *caps]
    return "\n".join(parts)


def slack(config: dict[str, Any], alert: dict[str, Any], event: str) -> OutboundRequest:
    mark = ":white_check_mark:" if event == "resolve" else ":rotating_light:"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline(alert, event), 150)}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(f"{mark} {alert.get('message') or alert['title']}", 3000),
            },
            "fields": [
                {"type": "mrkdwn", "text": f"*Agent*\n{alert.get('agent_id') or '-'}"},
                {"type": "mrkdwn", "text": f"*Rule*\n{alert['rule']}"},
                {"type": "mrkdwn", "text": f"*Severity*\n{alert['severity']}"},
                {"type": "mrkdwn", "text": f"*Status*\n{alert['status']}"},
            ],
        },
    ]
    for title, lines in (
        ("Figures", figure_lines(alert)),
        ("Last actions", action_lines(alert)),
        ("Spend and headroom", cap_lines(alert)),
    ):
        if lines:
            text = _cut(f"*{title}*\n```" + "\n".join(lines) + "```", 3000)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert `{alert['id']}` · Spendwarden"}]}
    )
    body = {"text": _cut(plain_text(alert, event), 3000), "blocks": blocks}
    return OutboundRequest(config["url"], _json(body), {"Content-Type": "application/json"})


def telegram(config: dict[str, Any], alert: dict[str, Any], event: str) -> OutboundRequest:
    esc = html.escape
    agent = esc(str(alert.get("agent_id") or "-"))
    parts = [
        f"<b>{esc(headline(alert, event))}</b>",
        f"agent <code>{agent}</code> · rule <code>{esc(alert['rule'])}</code>",
    ]
    if alert.get("message"):
        parts.append(esc(alert["message"]))
    for title, lines in (
        ("Figures", figure_lines(alert)),
        ("Last actions", action_lines(alert)),
        ("Spend and headroom", cap_lines(alert)),
    ):
        if lines:
            parts.append(f"<b>{title}</b>\n<pre>{esc(chr(10).join(lines))}</pre>")
    text = "\n".join(parts)
    if len(text) > 4096:  # cutting HTML could break a tag: fall back to escaped plain text
        text = esc(_cut(plain_text(alert, event), 4000))
    body = {
        "chat_id": config["chat_id"],
        "text": text,
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    url = f"{config['api_url'].rstrip('/')}/bot{config['bot_token']}/sendMessage"
    return OutboundRequest(url, _json(body), {"Content-Type": "application/json"})


def pagerduty(config: dict[str, Any], alert: dict[str, Any], event: str) -> OutboundRequest:
    """Events API v2: trigger and resolve share the alert's dedupe key, so PagerDuty pairs them."""
    body: dict[str, Any] = {
        "routing_key": config["routing_key"],
        "event_action": event,
        "dedup_key": alert["dedupe_key"],
    }
    if event == "trigger":
        figures = alert.get("figures") or {}
        body["payload"] = {
            "summary": _cut(f"{alert['title']} ({alert['rule']})", 1024),
            "source": f"spendwarden:{alert.get('agent_id') or 'fleet'}",
            "severity": PD_SEVERITY.get(alert["severity"], "warning"),
            "timestamp": alert["first_seen_at"],
            "component": alert.get("agent_id") or "fleet",
            "group": "spendwarden",
            "class": alert["rule"],
            "custom_details": {
                "alert_id": alert["id"],
                "message": alert.get("message"),
                "figures": {k: v for k, v in figures.items() if k not in STRUCTURED},
                "last_actions": action_lines(alert),
                "spend_and_headroom": cap_lines(alert),
            },
        }
    url = f"{config['api_url'].rstrip('/')}/v2/enqueue"
    return OutboundRequest(url, _json(body), {"Content-Type": "application/json"})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``Spendwarden-Signature`` value: HMAC-SHA256 over ``f"{timestamp}.{body}"``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook(
    config: dict[str, Any], alert: dict[str, Any], event: str, *, delivery_id: str, timestamp: int
) -> OutboundRequest:
    body = _json({"type": EVENT_NAMES.get(event, event), "delivery_id": delivery_id, "alert": alert})
    headers = {
        "Content-Type": "application/json",
        "Spendwarden-Signature": sign(config["secret"], timestamp, body),
        "Spendwarden-Event": EVENT_NAMES.get(event, event),
        "Spendwarden-Delivery": delivery_id,
    }
    return OutboundRequest(config["url"], body, headers)


def build_request(
    kind: str, config: dict[str, Any], alert: dict[str, Any], event: str, *, delivery_id: str, timestamp: int
) -> OutboundRequest:
    if kind == "slack":
        return slack(config, alert, event)
    if kind == "telegram":
        return telegram(config, alert, event)
    if kind == "pagerduty":
        return pagerduty(config, alert, event)
    return webhook(config, alert, event, delivery_id=delivery_id, timestamp=timestamp)
