"""Pages in headless Chromium: they render under the CSP, pass axe-core, and are screenshotted."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from tests.browser.conftest import ARTIFACTS, DEMO_PASSWORD, VIEWPORTS, screenshot
from tests.browser.test_staff_pages import log_in
from tests.reports.vendor_exports import VendorSearch, import_searches

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


def test_vendor_export_figures_on_the_home_page_and_the_council_report(demo_site, browser):
    """A Flock export imported into the demo site (searches the center never logged): its
    counts show on the public page and on the council report, which pass axe-core."""
    now = timezone.localtime().replace(second=0, microsecond=0)
    searches = [
        VendorSearch(f"demo-{n}", now - timedelta(days=n % 90 + 1), plate=f"VX{n:04d}")
        for n in range(1250)
    ]
    result = import_searches(searches)
    assert result.kept == 1250 and result.recorded >= 1200

    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(demo_site + "/")
    section = page.locator("#vendor-records")
    text = section.inner_text()
    assert "Searches in vendors' exports" in text and "1,250" in text
    assert Axe().run(page).violations_count == 0
    screenshot(page, "home-vendor-exports-desktop")
    section.screenshot(path=str(ARTIFACTS / "home-vendor-exports-section.png"))
    page.close()

    staff = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = staff.new_page()
    log_in(page, demo_site, "council")
    start = (now - timedelta(days=120)).date().isoformat()
    page.goto(demo_site + f"/reports/?kind=custom&start={start}&end={now.date().isoformat()}")
    figure = page.locator("figure#vendor-exports")
    assert "Searches in vendors' audit exports" in figure.inner_text()
    assert "1,250" in figure.locator("table").inner_text(), figure.inner_text()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    screenshot(page, "council-vendor-exports-desktop")
    figure.screenshot(path=str(ARTIFACTS / "council-vendor-exports-table.png"))
    context.close()
    staff.close()
