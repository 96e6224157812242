"""``docs/api.md`` from the app's OpenAPI schema (and, for auth, the routes' dependencies)."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from spendwarden.docs_gen.markdown import cell, table

METHODS = ("get", "post", "put", "patch", "delete")
# Who may call a route, from the auth dependency it declares (api/deps.py, api/routes/ingest.py).
AUTH_OF_DEPENDENCY = {
    "require_admin": "admin token",
    "require_viewer": "admin or viewer token",
    "require_agent": "agent key",
    "require_ingest": "admin or ingest token",
}
# Routes that check credentials in their own code rather than through a dependency.
AUTH_IN_CODE = {
    ("GET", "/metrics"): "admin or viewer token (none when `metrics_require_token` is false)",
    ("POST", "/v1/webhooks/stripe"): "`Stripe-Signature` header, checked with `stripe_webhook_secret`",
}

HEADER = """# HTTP API reference

Generated from the app's OpenAPI schema by `python -m spendwarden.docs_gen`; do not edit by hand.
The running server serves the same schema at `/openapi.json`.

Credentials go in `Authorization: Bearer …`: an **agent key** (`sw_agent_…`, one agent's own
endpoints), the **admin token** (everything else), a read-only **viewer token**, or an **ingest
token** (bulk ingest and payment webhooks). Amounts in requests are `amount_usd` (a JSON number or a
decimal string, at most 6 decimals); amounts in answers are decimal strings (`"0.004500"`). Every
error is `{"error": {"code": "...", "message": "...", "details": {...}}}`.

"""


def openapi_and_auth() -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """Build the real app on a throwaway SQLite database and read its schema."""
    from spendwarden.api.app import CORE_ROUTERS, create_app, extra_routers
    from spendwarden.config import Settings
    from spendwarden.runtime import build_runtime

    with tempfile.TemporaryDirectory(prefix="spendwarden-docs-") as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/docs.db", _env_file=None)  # type: ignore[call-arg]
        runtime = build_runtime(settings)
        try:
            spec = create_app(runtime, run_workers=False).openapi()
        finally:
            runtime.close()
    auth: dict[tuple[str, str], str] = {}
    for router in [*CORE_ROUTERS, *extra_routers()]:
        for route in router.routes:
            for method in getattr(route, "methods", None) or ():
                auth[(method, getattr(route, "path", ""))] = _auth_label(route)
    auth.update(AUTH_IN_CODE)
    return spec, auth


def _auth_label(route: Any) -> str:
    names: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        names.add(getattr(dep.call, "__name__", ""))
        stack += dep.dependencies
    labels = sorted(AUTH_OF_DEPENDENCY[n] for n in names if n in AUTH_OF_DEPENDENCY)
    return " + ".join(labels) or "none"


def render_api() -> str:
    spec, auth = openapi_and_auth()
    return render_spec(spec, auth)


def render_spec(spec: dict[str, Any], auth: dict[tuple[str, str], str]) -> str:
    ops = sorted(_operations(spec), key=lambda o: (o[2].get("tags", ["other"])[0], o[0], METHODS.index(o[1])))
    index = [
        [
            f"[`{m.upper()} {p}`](#{_anchor(m, p)})",
            cell(auth.get((m.upper(), p), "-")),
            cell(op.get("summary", "")),
        ]
        for p, m, op in ops
    ]
    parts = [HEADER, table(["endpoint", "auth", "summary"], index)]
    tag = None
    for path, method, op in ops:
        if op.get("tags", ["other"])[0] != tag:
            tag = op.get("tags", ["other"])[0]
            parts.append(f"\n## {tag}\n")
        parts.append(_operation(spec, path, method, op, auth.get((method.upper(), path), "-")))
    parts.append(_schemas(spec, [op for _p, _m, op in ops]))
    return "\n".join(parts).rstrip() + "\n"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, item[m]) for p, item in spec["paths"].items() for m in METHODS if m in item]


def _anchor(method: str, path: str) -> str:
    """GitHub's heading anchor for ``### `GET /v1/x/{id}` ``."""
    text = f"{method} {path}".lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def _operation(spec: dict[str, Any], path: str, method: str, op: dict[str, Any], who: str) -> str:
    out = [f"### `{method.upper()} {path}`\n"]
    if op.get("summary"):
        out.append(f"**{op['summary']}**\n")
    if op.get("description"):
        out.append(op["description"].strip() + "\n")
    out.append(f"Auth: {who}\n")
    params = op.get("parameters", [])
    if params:
        rows = [
            [
                f"`{p['name']}`",
                p["in"],
                cell(_type(p.get("schema", {}))),
                "yes" if p.get("required") else "no",
                cell(_describe(p.get("schema", {}), p.get("description"))),
            ]
            for p in params
        ]
        out.append("Parameters:\n\n" + table(["name", "in", "type", "required", "description"], rows))
    out.append(_request_body(spec, op.get("requestBody")))
    rows = [
        [f"`{code}`", cell(resp.get("description", "")), cell(_response_type(resp))]
        for code, resp in sorted(op.get("responses", {}).items())
    ]
    out.append("Responses:\n\n" + table(["status", "description", "body"], rows))
    return "\n".join(part for part in out if part)


def _request_body(spec: dict[str, Any], body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    lines = []
    for media, content in sorted(body.get("content", {}).items()):
        schema = content.get("schema", {})
        resolved = _resolve(spec, schema)
        if resolved.get("properties"):
            name = f" ([{_ref_name(schema)}](#{_ref_name(schema).lower()}))" if "$ref" in schema else ""
            lines.append(f"Request body (`{media}`){name}:\n\n" + _fields(resolved))
        else:
            lines.append(f"Request body (`{media}`): {_type(schema)}\n")
    return "\n".join(lines)


def _fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = [
        [
            f"`{name}`",
            cell(_type(prop)),
            "yes" if name in required else "no",
            cell(_describe(prop, prop.get("description"))),
        ]
        for name, prop in schema.get("properties", {}).items()
    ]
    return table(["field", "type", "required", "description"], rows)


def _schemas(spec: dict[str, Any], ops: list[dict[str, Any]]) -> str:
    """The request schemas the operations refer to, and the ones those refer to."""
    wanted: set[str] = set()
    for op in ops:
        for content in (op.get("requestBody") or {}).get("content", {}).values():
            _collect_refs(spec, content.get("schema", {}), wanted)
    parts = ["\n## Schemas\n"]
    for name in sorted(wanted):
        schema = spec["components"]["schemas"][name]
        parts.append(f"### {name}\n")
        if schema.get("description"):
            parts.append(schema["description"].strip() + "\n")
        parts.append(_fields(schema) if schema.get("properties") else f"{_type(schema)}\n")
    return "\n".join(parts)


def _collect_refs(spec: dict[str, Any], schema: Any, seen: set[str]) -> None:
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = _ref_name(schema)
            if name not in seen:
                seen.add(name)
                _collect_refs(spec, spec["components"]["schemas"][name], seen)
        for value in schema.values():
            _collect_refs(spec, value, seen)
    elif isinstance(schema, list):
        for value in schema:
            _collect_refs(spec, value, seen)


def _ref_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][_ref_name(schema)]
    return schema


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"[{_ref_name(schema)}](#{_ref_name(schema).lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            kinds = [_type(s) for s in schema[key] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[key])
            return " or ".join(dict.fromkeys(kinds)) + (" or null" if nullable else "")
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


def _describe(schema: dict[str, Any], description: str | None) -> str:
    text = description or schema.get("description") or ""
    if "default" in schema and schema["default"] not in (None, {}, []):
        text = f"{text} Default `{json.dumps(schema['default'])}`.".strip()
    patterns = [s["pattern"] for s in [schema, *schema.get("anyOf", [])] if "pattern" in s]
    if patterns:
        text = f"{text} Pattern `{patterns[0]}`.".strip()
    return text


def _response_type(resp: dict[str, Any]) -> str:
    kinds = []
    for media, content in sorted(resp.get("content", {}).items()):
        schema = content.get("schema")
        kinds.append(f"`{media}`" + (f" {_type(schema)}" if schema else ""))
    return "; ".join(kinds)
