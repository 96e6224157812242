"""Every route of the app, with who may call it — found by walking the app, so a route
added tomorrow is covered by the security tests without editing them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from spendwarden.api import deps

GUARDS = {
    deps.require_admin: "admin",
    deps.require_viewer: "viewer",
    deps.require_agent: "agent",
    deps.get_principal: "any",
}


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    guard: str  # admin | viewer | agent | any | none
    in_schema: bool

    def url(self, **params: str) -> str:
        out = self.path
        for name, value in params.items():
            out = out.replace("{" + name + "}", value)
        while "{" in out:  # any other path parameter gets a placeholder
            start, end = out.index("{"), out.index("}")
            out = out[:start] + "x" + out[end + 1 :]
        return out


def _guard_of(route: APIRoute) -> str:
    found: set[str] = set()

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            if dep.call in GUARDS:
                found.add(GUARDS[dep.call])
            walk(dep)

    walk(route.dependant)
    for guard in ("admin", "viewer", "agent", "any"):  # the strictest guard wins
        if guard in found:
            return guard
    return "none"


def _routes(routes: list[Any], prefix: str = "") -> Iterator[APIRoute | tuple[str, Any]]:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's lazily included router
            yield from _routes(original.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield route if not prefix else (prefix, route)


def api_routes(app: FastAPI) -> list[RouteInfo]:
    out: list[RouteInfo] = []
    for item in _routes(list(app.routes)):
        prefix, route = item if isinstance(item, tuple) else ("", item)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append(RouteInfo(method, prefix + route.path, _guard_of(route), route.include_in_schema))
    return out
