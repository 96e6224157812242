"""Wire the dashboard into the API app: static files, the session middleware, the pages."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from spendwarden.runtime import Runtime
from spendwarden.web.auth import SessionAuth, cookie_auth
from spendwarden.web.routes import router


def static_dir() -> Path:
    return Path(str(resources.files("spendwarden.web").joinpath("static")))


def install_web(app: FastAPI, runtime: Runtime) -> None:
    """The ``APP_HOOKS`` entry: after this, ``/`` is the dashboard and every API route also
    accepts a same-origin session cookie (with the CSRF header on changes)."""
    app.state.cookie_auth = cookie_auth
    app.add_middleware(SessionAuth, runtime=runtime)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
