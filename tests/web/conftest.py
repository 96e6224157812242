"""Fixtures for the dashboard: a real server with a seeded fleet, and Debian's chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshots_dir() -> Path:
    """Where the dashboard tests save their PNGs: a temporary folder, so a test run leaves
    the checkout as it found it; ``SPENDWARDEN_UPDATE_SCREENSHOTS=1`` writes the docs' own
    (``docs/screenshots``, linked from the README) to refresh them."""
    if os.environ.get("SPENDWARDEN_UPDATE_SCREENSHOTS") == "1":
        return DOCS_SCREENSHOTS
    return Path(tempfile.mkdtemp(prefix="spendwarden-screenshots-"))


def chromium_missing() -> str | None:
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return None
    return f"{CHROMIUM} is not installed (apt-get install chromium)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires chromium: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
