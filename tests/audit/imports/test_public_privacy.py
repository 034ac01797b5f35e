"""The public pages' privacy crawl, extended to imported data: nothing a vendor row holds about a
search (officer, plate, reason, case number, row id, filters, exact time) reaches any public page,
download or public API, in English or Spanish."""

import csv
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from audit.imports.models import ImportRow, RowRecording
from audit.transparency import services as transparency
from tests.audit.imports.conftest import run_import
from tests.reports.test_public_pages import (
    DOWNLOADS,
    PUBLIC_PAGES,
    assert_nothing_shows,
    body,
    with_table_csvs,
)

pytestmark = pytest.mark.django_db

MARKERS = {
    "operator": "Vendormark Quillon",
    "plate": "VPLT771",
    "reason": "Reason marker RSNMARK4402 near the old depot",
    "case": "VCASE-2026-55120",
    "row_id": "VROWMARK-9931",
    "filters": "Color: FLTMARK Teal",
}


def test_imported_rows_never_reach_a_public_surface(known_names, tmp_path):
    cache.clear()
    moment = timezone.localtime() - timedelta(days=3)
    moment = moment.replace(minute=47, second=59, microsecond=0)
    with open(tmp_path / "export.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["ID", "Name", "Org Name", "Total Networks Searched", "License Plate", "Reason",
             "Case #", "Filters", "Search Time", "Search Type"]
        )  # fmt: skip
        writer.writerow(
            [MARKERS["row_id"], MARKERS["operator"], "Birmingham AL PD", "1523", MARKERS["plate"],
             MARKERS["reason"], MARKERS["case"], MARKERS["filters"],
             moment.strftime("%m/%d/%Y %I:%M:%S %p"), "Lookup"]
        )  # fmt: skip
    result = run_import("export.csv", directory=tmp_path)
    assert result.recorded == 1
    entry = RowRecording.objects.get().entry
    row = ImportRow.objects.get()
    head = transparency.publish_tree_head(force=True)
    secrets = [value.lower() for value in MARKERS.values()] + [
        "rsnmark4402",
        "fltmark",
        entry.target_fingerprint,
        entry.salt,
        row.row_key.lower(),
        moment.strftime("%H:%M:%S"),
        timezone.localtime(entry.occurred_at).strftime("%H:%M:%S"),
        entry.occurred_at.strftime("%H:%M:%S"),
    ]
    urls = [
        *PUBLIC_PAGES,
        "/log/",
        *DOWNLOADS,
        "/api/v1/stats/",
        f"/api/v1/log/entries?start=0&end={head.tree_size}",
    ]
    urls = with_table_csvs(urls)
    assert assert_nothing_shows(urls, secrets) == 2 * len(urls) > 20
    # The entry is really public as a count: its leaf is in the public log.
    leaves = body(Client().get("/open-data/leaves.csv"))
    assert leaves.count("\n") >= 2
    cache.clear()
