"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig

from spendwarden import __version__
from spendwarden.api import errors
from spendwarden.api.fast import PATH as FAST_AUTHORIZE_PATH
from spendwarden.api.fast import install_fast_authorize
from spendwarden.api.limits import BodyLimit
from spendwarden.api.ratelimit import RateLimiter
from spendwarden.api.responses import FastJSON
from spendwarden.api.routes import agents, health, ledger, spend
from spendwarden.ledger.on_loop import open_loop_connections
from spendwarden.runtime import Runtime
from spendwarden.workers import Workers

# Routers of every part of the design; later parts add theirs to ``extra_routers``.
CORE_ROUTERS: list[APIRouter] = [health.router, spend.router, agents.router, ledger.router]


def extra_routers() -> list[APIRouter]:
    """Routers contributed by the signals, analytics, ingest and web parts."""
    routers: list[APIRouter] = []
    from spendwarden.api.routes import alerts, channels, stream, tasks  # signals

    routers += [alerts.router, tasks.router, channels.router, stream.router]
    from spendwarden.api.routes import analytics, metrics, reports  # analytics

    routers += [analytics.router, reports.router, metrics.router]
    from spendwarden.api.routes import ingest, prices, webhooks_in, webhooks_out  # ingest

    routers += [ingest.router, prices.router, webhooks_in.router, webhooks_out.router]
    return routers


def add_periodic_work(runtime: Runtime, workers: Workers | None = None) -> None:
    """Every periodic job in a loop of its own, each under its own leader lock: what a server
    runs in threads, or ``spendwarden worker`` runs for it in another process."""
    workers = runtime.workers if workers is None else workers
    interval = runtime.settings.sweep_interval_seconds
    workers.add("sweeper", interval, runtime.expire_holds_led)
    for name, job in runtime.periodic:
        workers.add(name, interval, functools.partial(runtime.run_led, name, job))


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def telemetry(asked: bool | None, environ: Mapping[str, str] = os.environ) -> TelemetryConfig | None:
    """FastAPI's own OpenTelemetry (None: FastAPI's default, on). When on, it asks OpenTelemetry
    on every request whether a provider is configured: 3 µs of environment lookups when none
    is. So unless asked for, it is on only where the environment configures OpenTelemetry."""
    if asked or (asked is None and any(name.startswith("OTEL_") for name in environ)):
        return None
    return NO_TELEMETRY


def create_app(runtime: Runtime, *, run_workers: bool = True, run_periodic: bool = True) -> FastAPI:
    """The API and dashboard. ``run_workers``: run the background loops (deliveries and,
    with ``run_periodic``, the periodic jobs; without it a ``spendwarden worker`` runs them)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.hub.bind(asyncio.get_running_loop())
        app.state.pg_connections = await open_loop_connections(runtime.ledger)
        runtime.start_live()
        if run_workers:
            if run_periodic:
                add_periodic_work(runtime)
            runtime.workers.start()
        try:
            yield
        finally:
            runtime.stopping.set()
            await runtime.workers.stop()
            runtime.stop_live()
            if app.state.pg_connections is not None:
                await app.state.pg_connections.close()
                app.state.pg_connections = None

    app = FastAPI(
        title="Spendwarden",
        version=__version__,
        description="Per-agent keys and caps, an exact tamper-evident ledger, live signals.",
        default_response_class=FastJSON,
        lifespan=lifespan,
        telemetry=telemetry(runtime.settings.opentelemetry),
    )
    app.state.runtime = runtime
    app.state.pg_connections = None  # PostgreSQL: the fast authorize route's own, from the lifespan
    app.state.known_keys = {}  # key hash -> Principal, checked again by every call that uses it
    errors.install(app)
    for router in [*CORE_ROUTERS, *extra_routers()]:
        app.include_router(router)
    install_fast_authorize(app, _route(spend.router, FAST_AUTHORIZE_PATH, "POST"))
    app.state.rate_limiter = RateLimiter.from_settings(runtime.settings)
    for hook in APP_HOOKS:
        hook(app, runtime)
    settings = runtime.settings
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        overrides={"/v1/ingest": settings.ingest_max_body_bytes},
    )
    return app


def _route(router: APIRouter, path: str, method: str) -> APIRoute:
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"{method} {path} is not a route of {router.prefix}")


# Parts that need more than a router (static files, middleware) add a hook here.
def _web_hook(app: FastAPI, runtime: Runtime) -> None:
    from spendwarden.web import install_web

    install_web(app, runtime)


def _analytics_hook(app: FastAPI, runtime: Runtime) -> None:
    from spendwarden.analytics.metrics import install_metrics

    install_metrics(app, runtime)


APP_HOOKS: list[Callable[[FastAPI, Runtime], None]] = [_web_hook, _analytics_hook]
