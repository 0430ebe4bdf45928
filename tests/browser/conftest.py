"""Fixtures for the real-browser tests: Debian's chromium driven by Playwright.

Playwright cannot download its own browsers here, so it launches the chromium
that scripts/ensure-chromium installs with apt. A missing chromium fails the
tests rather than skipping them: a skipped browser test looks like a pass.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(autouse=True)
def _allow_orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an asyncio loop marked as running in the test
    # thread while a browser is open, so Django refuses ORM calls made there as
    # if they came from a coroutine. They do not; lift the check for browser
    # tests only, so the rest of the suite keeps it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def live_server(_static_manifest):
    # pytest-django's live server answers /static/ from the staticfiles finders,
    # which know nothing of the hashed names that the manifest storage writes
    # into pages, so every stylesheet would 404. Let WhiteNoise serve the
    # collected files instead, as it does in production.
    server = LiveServer("localhost", start=False)
    server.thread.static_handler = lambda app: app
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing; the browser tests need it: run scripts/ensure-chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """A page in a fresh browser context: its own cookies, as a separate person has."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots():
    """Save full-page screenshots at desktop and phone width to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)
        page.set_viewport_size(DESKTOP)

    return take
