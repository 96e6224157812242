"""The live dashboard: a single-page app in plain ES modules (no build step), its sign-in
sessions, and the hook that lets the API accept the session cookie."""

from __future__ import annotations

from spendwarden.web.app import install_web

__all__ = ["install_web"]
