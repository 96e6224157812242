"""Spendwarden: a self-hosted control plane for the money that AI agents spend."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
