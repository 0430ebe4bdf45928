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
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-results"
# axe-core from the npm registry, pinned in package.json / package-lock.json and installed by
# `make install` (npm ci) into node_modules/.
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
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
def screenshots(accessible):
    """Save full-page screenshots at desktop and phone width to test-results/; every page worth a
    screenshot is also checked with axe-core at both widths (see `accessible`)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)
            accessible(page)
        page.set_viewport_size(DESKTOP)

    return take


# WCAG 2.1 A and AA rules (axe-core's tags): what a page a person uses must pass.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# What fails a page: axe-core's two highest impacts. (Minor and moderate findings are printed by
# `axe_violations` callers that want them, not failed on.)
FAILING_IMPACTS = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    """Run axe-core, injected from node_modules/, on the page as it is now: its WCAG A/AA violations."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing; run `make install` (npm ci) first")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=AXE_SCRIPT)
    return page.evaluate("options => window.axe.run(document, options).then(r => r.violations)", AXE_OPTIONS)


def axe_problems(page) -> list[str]:
    """The serious and critical WCAG A/AA violations on the page as it is now: rule, impact, elements."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> " + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in axe_violations(page)
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.fixture
def accessible():
    """accessible(page): run axe-core on the page as it is now and fail with each serious or critical
    WCAG A/AA violation, its rule and the elements it names."""

    def check(page) -> None:
        problems = axe_problems(page)
        assert not problems, f"axe-core found on {page.url}:\n" + "\n".join(problems)

    return check
