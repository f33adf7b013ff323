"""Headless Chromium for the deployment's UI tests: Debian's ``chromium`` driven by Playwright, a
fresh profile per test, never a downloaded browser. The ``browser`` fixture is registered by
tests/deployment/conftest.py."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# An overall bound for a busy machine, not a wait: Playwright returns as soon as the element is there.
TIMEOUT_MS = 120_000


def _missing(reason: str) -> None:
    """In CI a missing browser fails the test; elsewhere it skips it, saying what to install."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path) -> Any:
    """A page of headless Chromium, with a fresh profile; never a downloaded browser."""
    if not shutil.which(CHROMIUM):
        _missing(f"{CHROMIUM} is missing: `make venv` installs Debian's chromium (scripts/debian-packages.txt)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is missing: `make venv` installs the browser extra")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1440, "height": 900},  # a laptop screen
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def sign_in(page: Any, url: str, username: str, password: str) -> None:
    """Sign in on Airflow's login page (the simple auth manager's), as a user does."""
    page.goto(f"{url}/")
    page.locator("input[type=password]").wait_for()
    page.locator("input:not([type=password])").first.fill(username)
    page.locator("input[type=password]").fill(password)
    page.locator("input[type=password]").press("Enter")
    # Signed in once the login page is gone and its redirect has loaded: a navigation started
    # before then is aborted or overtaken by that redirect.
    page.locator("input[type=password]").wait_for(state="detached")
    page.wait_for_load_state("load")
