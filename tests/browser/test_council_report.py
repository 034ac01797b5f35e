"""The council report in headless Chromium, on screen and printed on US letter paper, for a
completed period and for the period still in progress."""

import re
import shutil
import subprocess

from django.utils import timezone

from reports import periods
from tests.browser.conftest import ARTIFACTS, VIEWPORTS, screenshot
from tests.browser.test_staff_pages import log_in

LETTER = (612, 792)  # points
PRINT_WIDTH = 720  # CSS pixels: 7.5in, the printable width print.css leaves
UNSEPARATED_AMOUNT = re.compile(r"(?<![\d,.$])\d{4,}\.\d\d\b")
DOLLARS = re.compile(r"\$\d{1,3}(,\d{3})*\.\d\d")


def council_page(browser, site: str, path: str):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, site, "council")
    response = page.goto(site + path)
    assert response.status == 200
    page.wait_for_selector(".chart .main-svg", timeout=20000)
    return context, page, errors


def print_to_letter(page, name: str) -> list:
    """Print the page as Chromium does to a letter-size PDF; returns the PNG of each page
    (rendered with poppler's pdftoppm when it is installed)."""
    page.emulate_media(media="print")
    page.wait_for_selector("html[data-charts='print']", state="attached")
    widths = page.eval_on_selector_all(
        ".chart .main-svg", "svgs => svgs.map(s => s.getBoundingClientRect().width)"
    )
    assert widths and max(widths) <= PRINT_WIDTH, widths
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"{name}.pdf"
    page.pdf(path=str(pdf), format="Letter", print_background=True)
    data = pdf.read_bytes()
    boxes = {
        tuple(round(float(n)) for n in box.split()[2:])
        for box in re.findall(rb"/MediaBox\s*\[([^\]]+)\]", data)
        for box in [box.decode()]
    }
    assert boxes == {LETTER}, boxes
    if not shutil.which("pdftoppm"):
        return []
    for old in ARTIFACTS.glob(f"{name}-page-*.png"):
        old.unlink()
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(ARTIFACTS / f"{name}-page")], check=True
    )
    return sorted(ARTIFACTS.glob(f"{name}-page-*.png"))


def test_completed_period_on_screen_and_in_print(browser, demo_site):
    last_year = periods.fiscal_year_of(timezone.localdate()) - 1
    path = f"/reports/?kind=fiscal-year&year={last_year}"
    context, page, errors = council_page(browser, demo_site, path)
    note = page.inner_text("#period-note")
    assert f"Compared with: FY{last_year - 1}" in note
    assert "still in progress" not in page.inner_text("main")
    # A whole fiscal year: one comparison, named, not two identical columns.
    headings = page.locator("#by-technology thead th").all_inner_texts()
    assert headings == ["Technology", f"FY{last_year}", f"FY{last_year - 1}", "Change"]
    text = page.inner_text("main")
    assert DOLLARS.search(text)
    assert not UNSEPARATED_AMOUNT.search(text), UNSEPARATED_AMOUNT.search(text)
    assert page.locator("text=How this is counted:").count() == page.locator("figure").count()
    screenshot(page, "council-report-completed-screen")
    pages = print_to_letter(page, "council-report-completed-print")
    context.close()
    assert errors == []
    if pages:
        assert 3 <= len(pages) <= 30, len(pages)


def test_period_in_progress_on_screen_and_in_print(browser, demo_site):
    today = timezone.localdate()
    context, page, errors = council_page(browser, demo_site, "/reports/")
    this_year = periods.fiscal_year_of(today)
    note = page.inner_text("#period-note")
    assert f"FY{this_year} is still in progress" in note
    comparison = periods.compare(periods.fiscal_year(this_year), today)
    headings = page.locator("#by-technology thead th").all_inner_texts()
    assert headings == [
        "Technology",
        comparison.current.label,
        comparison.earlier[0].period.label,
        "Change",
    ]
    assert "to date" not in headings[1] and " to " in headings[1]  # e.g. "FY2027 to Dec 4"
    screenshot(page, "council-report-in-progress-screen")
    pages = print_to_letter(page, "council-report-in-progress-print")
    context.close()
    assert errors == []
    if pages:
        assert 3 <= len(pages) <= 30, len(pages)


def test_the_completed_period_is_one_click_away(browser, demo_site):
    context, page, errors = council_page(browser, demo_site, "/reports/")
    last_year = periods.fiscal_year_of(timezone.localdate()) - 1
    link = page.get_by_role("link", name=f"Show the last complete period instead: FY{last_year}")
    link.click()
    page.wait_for_load_state()
    heading = page.inner_text("h1")
    main = page.inner_text("main")
    context.close()
    assert heading == f"Surveillance technology report: FY{last_year}"
    assert "still in progress" not in main
    assert errors == []


def test_annual_report_prints_on_letter(browser, demo_site):
    year = periods.fiscal_year_of(timezone.localdate()) - 1
    context, page, errors = council_page(
        browser, demo_site, f"/reports/annual/license-plate-reader/?fy={year}"
    )
    text = page.inner_text("main")
    assert not UNSEPARATED_AMOUNT.search(text), UNSEPARATED_AMOUNT.search(text)
    screenshot(page, "annual-report-screen")
    pages = print_to_letter(page, "annual-report-print")
    context.close()
    assert errors == []
    if pages:
        assert 2 <= len(pages) <= 20, len(pages)
