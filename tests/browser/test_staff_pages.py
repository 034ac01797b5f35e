"""Council and auditor pages in headless Chromium: axe-core clean, CSP clean, usable without JS."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import DEMO_PASSWORD, VIEWPORTS, screenshot

COUNCIL_PAGES = {
    "council-report": "/reports/",
    "annual-report": "/reports/annual/face-recognition/",
}
AUDITOR_PAGES = {
    "audit-search": "/audit/?flag=any",
    "audit-entry": "/audit/entries/5/",
    "audit-queue": "/audit/review-queue/",
    "audit-summary": "/audit/summary/",
}


def log_in(page, site: str, username: str) -> None:
    page.goto(site + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site + "/")


@pytest.mark.parametrize(
    ("username", "name", "path"),
    [("council", n, p) for n, p in COUNCIL_PAGES.items()]
    + [("auditor", n, p) for n, p in AUDITOR_PAGES.items()],
)
def test_staff_page_is_accessible_and_csp_clean(browser, demo_site, username, name, path):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, demo_site, username)
    response = page.goto(demo_site + path)
    assert response.status == 200
    if name.endswith("report"):
        page.wait_for_selector(".chart .main-svg", timeout=20000)  # plotly drew the charts
    results = Axe().run(page)
    screenshot(page, f"{name}-desktop")
    context.close()
    assert results.violations_count == 0, results.generate_report()
    assert errors == []


def test_council_report_tables_work_without_javascript(browser, demo_site):
    context = browser.new_context(viewport=VIEWPORTS["desktop"], java_script_enabled=False)
    page = context.new_page()
    log_in(page, demo_site, "council")
    page.goto(demo_site + "/reports/")
    tables = page.locator("table").count()
    first_rows = page.locator("#by-technology tbody tr").count()
    hidden_charts = page.locator(".chart[hidden]").count()
    context.close()
    assert tables >= 10
    assert first_rows == 3  # one row per technology
    assert hidden_charts >= 1  # charts stay out of the way; the tables carry the numbers


def test_council_report_can_be_reached_by_keyboard(browser, demo_site):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    log_in(page, demo_site, "council")
    page.goto(demo_site + "/reports/")
    focused = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("document.activeElement.textContent.trim()"))
    context.close()
    assert "Show" in focused  # the period picker's button
    assert any(text.startswith("Download this table") for text in focused)
