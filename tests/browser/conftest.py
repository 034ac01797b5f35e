"""Browser-test fixtures: Debian's chromium driven by Playwright against a live demo server."""

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Without these flags chromium keeps trying to reach Google's hosts from a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
DEMO_PASSWORD = "browser-demo-pass"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (make browser-deps installs it)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright drives a live server from another thread; Django must allow that.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def demo_site(log_db, live_server):
    """A live server over a small demo database (users council, auditor, admin)."""
    call_command(
        "seed_demo",
        queries=300,
        seed=7,
        vendor_rows=0,  # the vendor-export tests import their own files, counted exactly
        demo_password=DEMO_PASSWORD,
        verbosity=0,
    )
    return live_server.url


@pytest.fixture
def page_errors():
    return []


@pytest.fixture
def open_page(browser, page_errors):
    """Open a page at a viewport; console errors (CSP violations included) are collected."""
    contexts = []

    def _open(url: str, viewport: str = "desktop", locale: str = "en-US"):
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console", lambda msg: page_errors.append(msg.text) if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response.status}"
        return page

    yield _open
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
