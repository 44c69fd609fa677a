"""Browser fixtures: the system Chromium driven by Playwright (never a downloaded browser).

``page`` is a fresh browser context's page; ``sign_in(page, live_server, user)`` logs a persona
in through the real login form. Tests here are marked ``browser`` automatically and are skipped,
with the reason, when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM must still be usable.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(
                    pytest.mark.skip(reason="needs /usr/bin/chromium (apt-get install chromium)")
                )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, transactional_db: Any, live_server: Any) -> Iterator[Any]:
    """A fresh browser context's page. It depends on the database and the live server so it is
    torn down first: the page stops polling (htmx refresh) before the database is flushed, which
    otherwise can deadlock a live-server thread on SQLite's shared in-memory connection."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    page.goto("about:blank")
    context.close()


def sign_in(page: Any, live_server: Any, user: Any) -> None:
    """Log ``user`` in through the login form; waits until the dashboard has loaded."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
