"""Pages in headless Chromium: they render under the CSP, pass axe-core, and are screenshotted."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import DEMO_PASSWORD, VIEWPORTS, screenshot

PUBLIC_PAGES = {"home": "/", "log": "/log/", "login": "/accounts/login/"}


@pytest.mark.parametrize("name", sorted(PUBLIC_PAGES))
@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_public_page_is_accessible_and_csp_clean(demo_site, open_page, page_errors, name, viewport):
    page = open_page(demo_site + PUBLIC_PAGES[name], viewport)
    results = Axe().run(page)
    screenshot(page, f"{name}-{viewport}")
    assert results.violations_count == 0, results.generate_report()
    assert page_errors == []
    assert page.locator("h1").count() == 1


def test_skip_link_moves_focus_to_main(demo_site, open_page):
    page = open_page(demo_site + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to main content" in focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_log_page_shows_the_signed_head(demo_site, open_page):
    page = open_page(demo_site + "/log/")
    text = page.locator("main").inner_text()
    assert "300" in text  # the demo's tree size
    assert "Ed25519" in text


def test_api_docs_render_under_the_csp(demo_site, open_page, page_errors):
    page = open_page(demo_site + "/api/docs/")
    page.wait_for_selector("text=/api/v1/queries/", timeout=15000)
    screenshot(page, "api-docs-desktop")
    assert [e for e in page_errors if "Content Security Policy" in e] == []


def test_staff_log_in_and_out(demo_site, open_page):
    page = open_page(demo_site + "/accounts/login/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(demo_site + "/")
    assert "Log out (auditor)" in page.locator("header").inner_text()
    page.click("text=Log out")
    page.wait_for_load_state()
    assert "Staff log in" in page.locator("header").inner_text()


def test_wrong_password_shows_an_error(demo_site, open_page):
    page = open_page(demo_site + "/accounts/login/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().startswith("Your username and password")
