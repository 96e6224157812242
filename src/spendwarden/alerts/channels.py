"""Notification channels: validated per type, secrets masked on the way out, every change audited."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spendwarden.alerts import outbox
from spendwarden.clock import iso, to_us
from spendwarden.db import queries_signals as qs
from spendwarden.errors import NotFound, ValidationFailed
from spendwarden.ids import new_id
from spendwarden.ledger.audit import append_audit
from spendwarden.ledger.context import LedgerCore
from spendwarden.ledger.types import dumps, loads

CHANNEL_TYPES = ("slack", "telegram", "pagerduty", "webhook")
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2000)]
SECRET_FIELDS = {
    "slack": ("url",),
    "telegram": ("bot_token",),
    "pagerduty": ("routing_key",),
    "webhook": ("secret",),
}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlackConfig(_Config):
    url: HttpUrl = Field(description="Slack incoming-webhook URL.")


class TelegramConfig(_Config):
    bot_token: Annotated[str, Field(min_length=5, max_length=200, pattern=r"^[A-Za-z0-9:_-]+$")]
    chat_id: Annotated[str, Field(min_length=1, max_length=100)] | int
    api_url: HttpUrl = "https://api.telegram.org"


class PagerDutyConfig(_Config):
    routing_key: Annotated[str, Field(min_length=1, max_length=100)]
    api_url: HttpUrl = "https://events.pagerduty.com"


class WebhookConfig(_Config):
    url: HttpUrl
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = None


CONFIG_MODELS: dict[str, type[_Config]] = {
    "slack": SlackConfig,
    "telegram": TelegramConfig,
    "pagerduty": PagerDutyConfig,
    "webhook": WebhookConfig,
}


def validate_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """Check a channel's config for its type; a webhook without a secret gets a fresh one."""
    try:
        parsed = CONFIG_MODELS[kind].model_validate(config).model_dump()
    except ValidationError as exc:
        errors = [{"loc": ["config", *map(str, e["loc"])], "msg": e["msg"]} for e in exc.errors()]
        first = errors[0]
        raise ValidationFailed(f"{'.'.join(first['loc'])}: {first['msg']}", errors=errors) from None
    if kind == "webhook" and not parsed.get("secret"):
        parsed["secret"] = "whsec_" + secrets.token_urlsafe(32)
    return parsed


def mask(value: Any) -> str:
    text = str(value)
    return "…" + text[-4:] if len(text) > 8 else "…"


def channel_public(row: dict[str, Any], *, reveal: bool = False) -> dict[str, Any]:
    """The API shape; secrets are shown only once, when the channel is created."""
    config = loads(row["config"], {})
    if not reveal:
        config = {k: mask(v) if k in SECRET_FIELDS[row["type"]] else v for k, v in config.items()}
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "config": config,
        "min_severity": row["min_severity"],
        "enabled": bool(row["enabled"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _audit(core: LedgerCore, conn: Any, actor: str, action: str, channel_id: str, **kw: Any) -> None:
    append_audit(
        conn,
        postgres=core.store.is_postgres,
        actor=actor,
        action=action,
        target_type="channel",
        target_id=channel_id,
        at=to_us(core.clock.now()),
        **kw,
    )


def create_channel(core: LedgerCore, spec: dict[str, Any], actor: str) -> dict[str, Any]:
    kind = spec["type"]
    now = to_us(core.clock.now())
    row = {
        "id": new_id("chn_"),
        "name": spec.get("name") or kind,
        "type": kind,
        "config": dumps(validate_config(kind, spec.get("config") or {})),
        "min_severity": spec.get("min_severity") or "warning",
        "enabled": bool(spec.get("enabled", True)),
        "created_at": now,
        "updated_at": now,
    }
    with core.store.write() as conn:
        qs.insert_channel(conn, row)
        _audit(core, conn, actor, "channel.created", row["id"], after=channel_public(row))
    outbox.invalidate()
    return channel_public(row, reveal=True)


def get_channel(core: LedgerCore, channel_id: str) -> dict[str, Any]:
    with core.store.read() as conn:
        row = qs.get_channel(conn, channel_id)
    if row is None:
        raise NotFound("No such channel.", channel_id=channel_id)
    return row


def update_channel(core: LedgerCore, channel_id: str, changes: dict[str, Any], actor: str) -> dict[str, Any]:
    """Change name, severity, enabled or config; a partial config merges into the current one."""
    with core.store.write() as conn:
        row = qs.get_channel(conn, channel_id)
        if row is None:
            raise NotFound("No such channel.", channel_id=channel_id)
        before = channel_public(row)
        values: dict[str, Any] = {
            k: v for k, v in changes.items() if k in ("name", "min_severity", "enabled")
        }
        if changes.get("config") is not None:
            merged = {**loads(row["config"], {}), **changes["config"]}
            values["config"] = dumps(validate_config(row["type"], merged))
        values["updated_at"] = to_us(core.clock.now())
        qs.update_channel(conn, channel_id, values)
        row.update(values)
        _audit(core, conn, actor, "channel.updated", channel_id, before=before, after=channel_public(row))
    outbox.invalidate()
    return channel_public(row)


def delete_channel(core: LedgerCore, channel_id: str, actor: str) -> None:
    """Remove the channel; its undelivered notifications are marked failed, its log stays."""
    with core.store.write() as conn:
        row = qs.get_channel(conn, channel_id)
        if row is None:
            raise NotFound("No such channel.", channel_id=channel_id)
        now = to_us(core.clock.now())
        qs.delete_channel(conn, channel_id)
        qs.cancel_channel_deliveries(conn, channel_id, now)
        _audit(core, conn, actor, "channel.deleted", channel_id, before=channel_public(row))
    outbox.invalidate()


ChannelType = Literal["slack", "telegram", "pagerduty", "webhook"]
Severity = Literal["info", "warning", "critical"]
