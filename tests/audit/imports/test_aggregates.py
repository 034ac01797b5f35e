"""What council reports and the public page read: searches from vendor exports per technology
and month, and how many of them the center never logged."""

from datetime import date

import pytest

from audit.imports.selectors import (
    VendorExportUsage,
    vendor_export_totals,
    vendor_export_usage,
)
from tests.audit.imports.conftest import run_import

pytestmark = pytest.mark.django_db


def test_counts_per_technology_and_month(rtcc_log):
    run_import("flock_standard.csv")  # March: 5 rows, 2 matched, 3 never logged
    run_import("flock_overlap_a.csv")  # April: 3 rows, none logged
    run_import("flock_overlap_b.csv")  # April: 1 more (2 overlap)
    assert vendor_export_usage(start=date(2026, 1, 1), end=date(2026, 12, 31)) == [
        VendorExportUsage("license-plate-reader", date(2026, 3, 1), 5, 3),
        VendorExportUsage("license-plate-reader", date(2026, 4, 1), 4, 4),
    ]
    assert vendor_export_usage(start=date(2026, 3, 5), end=date(2026, 3, 31)) == [
        # Local dates: f-1002's lookup happened on the 4th, f-1005 on the 10th.
        VendorExportUsage("license-plate-reader", date(2026, 3, 1), 1, 1),
    ]


def test_totals_per_technology_for_a_period(rtcc_log):
    run_import("flock_standard.csv")
    run_import("flock_overlap_a.csv")
    assert vendor_export_totals(start=date(2026, 3, 1), end=date(2026, 4, 30)) == {
        "license-plate-reader": (8, 6)
    }
    assert vendor_export_totals(start=date(2026, 5, 1), end=date(2026, 5, 31)) == {}


def test_nothing_imported_is_an_empty_list(db):
    assert vendor_export_usage(start=date(2026, 1, 1), end=date(2026, 12, 31)) == []
