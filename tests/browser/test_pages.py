"""Pages in headless Chromium: they render under the CSP, pass axe-core, and are screenshotted."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import DEMO_PASSWORD, VIEWPORTS, screenshot

PUBLIC_PAGES = {
    "home": "/",
    "technology-face-recognition": "/technologies/face-recognition/",
    "technology-license-plate-reader": "/technologies/license-plate-reader/",
    "technology-nibin": "/technologies/nibin/",
    "spending": "/spending/",
    "open-data": "/open-data/",
    "log": "/log/",
    "login": "/accounts/login/",
}
LOCALES = {"en": "en-US", "es": "es-US"}


# Every public page at both widths in English, and in Spanish at desktop width.
CASES = [(name, viewport, "en") for name in PUBLIC_PAGES for viewport in VIEWPORTS] + [
    (name, "desktop", "es") for name in PUBLIC_PAGES
]


@pytest.mark.parametrize(("name", "viewport", "language"), sorted(CASES))
def test_public_page_is_accessible_and_csp_clean(
    demo_site, open_page, page_errors, name, viewport, language
):
    page = open_page(demo_site + PUBLIC_PAGES[name], viewport, LOCALES[language])
    assert page.locator("html").get_attribute("lang") == language
    results = Axe().run(page)
    screenshot(page, f"{name}-{viewport}-{language}")
    assert results.violations_count == 0, results.generate_report()
    assert page_errors == []
    assert page.locator("h1").count() == 1


@pytest.mark.parametrize("name", ["home", "technology-nibin", "spending"])
def test_charts_draw_and_tables_stay_beside_them(demo_site, open_page, name):
    page = open_page(demo_site + PUBLIC_PAGES[name])
    page.wait_for_selector(".chart .main-svg", timeout=15000)
    charts = page.locator(".chart")
    assert charts.count() >= 1
    for index in range(charts.count()):
        figure = charts.nth(index).locator("xpath=ancestor::figure[1]")
        assert figure.locator("table").count() == 1  # the numbers beside every chart


def test_public_pages_work_without_javascript(demo_site, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(demo_site + "/")
    assert page.locator("table#headline, figure#headline table").count() == 1
    assert page.locator("#trend table tbody tr").count() >= 1
    context.close()


def test_language_switch_link(demo_site, open_page):
    page = open_page(demo_site + "/spending/")
    page.click("a[hreflang=es]")
    page.wait_for_url(demo_site + "/spending/")
    assert page.locator("html").get_attribute("lang") == "es"
    page.click("a[hreflang=en]")
    assert page.locator("html").get_attribute("lang") == "en"


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
