"""Reconciliation on a log with known gaps in both directions: rows the center never logged,
entries the vendor's log does not show, and what a change of tolerance does."""

import io

import pytest
from django.core.management import call_command

from audit.flags import rules
from audit.flags.rules import NOT_LOGGED_BY_RTCC
from audit.imports import reconciliation, selectors
from audit.imports.models import ImportRow, RowMatch, RowRecording, VendorImport
from audit.models import QueryLogEntry
from tests.audit.imports.conftest import run_import
from tests.audit.queries import flagged_with, stored_flags_of

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["by-date", "by-target"])
def candidates(request, monkeypatch):
    """Both ways of finding candidate entries: the chunk's days, or each target's entries."""
    from datetime import timedelta

    from audit.imports import matching

    days = 30 if request.param == "by-date" else 0
    monkeypatch.setattr(matching, "NARROW_WINDOW", timedelta(days=days))
    return request.param


def lists(vendor_import) -> dict[str, list]:
    matched = {
        row.row_key: row.match.entry_id
        for row in selectors.reconciliation_list(vendor_import, selectors.MATCHED)
    }
    vendor = [
        row.row_key for row in selectors.reconciliation_list(vendor_import, selectors.VENDOR_ONLY)
    ]
    sightline = sorted(
        e.sequence for e in selectors.reconciliation_list(vendor_import, selectors.SIGHTLINE_ONLY)
    )
    return {"matched": matched, "vendor": vendor, "sightline": sightline}


def assert_recorded_as_read(row_key: str) -> None:
    """The entry recorded from a vendor row holds that row's search, as the row was kept."""
    row = ImportRow.objects.get(row_key=row_key)
    entry = QueryLogEntry.objects.get(sequence=row.recording.entry_id)
    assert (
        entry.technology_id, entry.query_type, entry.occurred_at, entry.operator_badge,
        entry.requesting_agency_code, entry.target_fingerprint, entry.justification,
        entry.case_number, entry.scope, entry.client_ref,
    ) == (
        row.technology_id, row.query_type, row.occurred_at, row.operator_badge, row.agency_code,
        row.target_fingerprint, row.reason, row.case_number, row.scope, row.row_key,
    )  # fmt: skip


def test_gaps_in_both_directions(rtcc_log, candidates):
    result = run_import("flock_standard.csv")
    assert (result.kept, result.matched, result.recorded) == (5, 2, 3)
    vendor_import = VendorImport.objects.get()
    assert lists(vendor_import) == {
        "matched": {"id:f-1001": rtcc_log["A"], "id:f-1004": rtcc_log["E"]},
        "vendor": ["id:f-1002", "id:f-1003", "id:f-1005"],
        "sightline": [rtcc_log["B"], rtcc_log["C"]],
    }
    assert RowMatch.objects.get(entry_id=rtcc_log["A"]).seconds_apart == -108
    # A matched row is linked, never recorded twice; an unmatched one is recorded and flagged.
    assert not RowRecording.objects.filter(row__row_key="id:f-1001").exists()
    recorded = RowRecording.objects.get(row__row_key="id:f-1002").entry_id
    assert NOT_LOGGED_BY_RTCC in stored_flags_of(recorded)
    assert_recorded_as_read("id:f-1002")
    assert NOT_LOGGED_BY_RTCC not in stored_flags_of(rtcc_log["A"])
    assert selectors.list_counts(vendor_import) == {"matched": 2, "vendor": 3, "sightline": 2}


def test_groupings_count_each_list_by_agency_operator_and_reason(rtcc_log):
    run_import("flock_standard.csv")
    vendor_import = VendorImport.objects.get()
    groups = selectors.groupings(vendor_import, selectors.VENDOR_ONLY)
    assert groups["agency"] == [("Birmingham AL PD", 2), ("Hoover Police Dept", 1)]
    assert groups["operator"] == [("Jane Analyst", 2), ("R. Officer", 1)]
    assert ("investigation", 1) in groups["reason"]
    assert selectors.groupings(vendor_import, selectors.SIGHTLINE_ONLY)["operator"] == [
        ("B4107", 1),
        ("B5000", 1),
    ]


def test_lists_are_searchable_by_text_and_by_plate(rtcc_log):
    run_import("flock_standard.csv")
    vendor_import = VendorImport.objects.get()
    by_text = selectors.reconciliation_list(vendor_import, selectors.VENDOR_ONLY, "hoover")
    assert [r.row_key for r in by_text] == ["id:f-1003"]
    by_plate = selectors.reconciliation_list(vendor_import, selectors.MATCHED, "abc 1234")
    assert [r.row_key for r in by_plate] == ["id:f-1001"]
    entries = selectors.reconciliation_list(vendor_import, selectors.SIGHTLINE_ONLY, "QQQ111")
    assert [e.sequence for e in entries] == [rtcc_log["B"]]


def test_reconcile_recomputes_under_a_new_tolerance(rtcc_log, settings, candidates):
    run_import("flock_standard.csv")
    vendor_import = VendorImport.objects.get()

    settings.SIGHTLINE_RECONCILE_TOLERANCE_MINUTES = 1
    narrow = reconciliation.reconcile(vendor_import=vendor_import)
    # A (108 s off) and E (3 min off) no longer match: their rows are recorded now.
    assert (narrow.rows, narrow.matched, narrow.recorded) == (5, 0, 2)
    assert lists(vendor_import)["sightline"] == sorted(
        [rtcc_log["A"], rtcc_log["B"], rtcc_log["C"], rtcc_log["E"]]
    )
    assert RowRecording.objects.count() == 5
    assert_recorded_as_read("id:f-1001")  # recorded by the reconcile, not the import
    assert_recorded_as_read("id:f-1004")

    settings.SIGHTLINE_RECONCILE_TOLERANCE_MINUTES = 10
    out = io.StringIO()
    call_command("reconcile", str(vendor_import.pk), "--no-progress", stdout=out)
    assert out.getvalue().strip() == (
        f"Import {vendor_import.pk}: 5 rows, 2 matched to the log, 3 only in the vendor's "
        "export; not-logged-by-rtcc updated on 2 entries recorded from its rows."
    )
    assert lists(vendor_import)["matched"] == {
        "id:f-1001": rtcc_log["A"],
        "id:f-1004": rtcc_log["E"],
    }
    assert RowRecording.objects.count() == 5  # nothing recorded twice
    assert ImportRow.objects.count() == 5


def test_aliases_edited_later_change_the_match(rtcc_log, known_names, candidates):
    from audit.imports.models import OperatorAlias

    # D's agency is JCSO; the vendor row of the same search says Birmingham (BPD).
    run_import("flock_standard.csv")
    vendor_import = VendorImport.objects.get()
    assert "id:f-1005" in lists(vendor_import)["vendor"]
    # C was Pat Other (B5000); say the vendor's "Jane Analyst" account was Pat's.
    OperatorAlias.objects.create(name="jane  analyst", operator=known_names["other"])
    reconciliation.reconcile(vendor_import=vendor_import)
    matched = lists(vendor_import)["matched"]
    assert matched["id:f-1002"] == rtcc_log["C"]
    assert "id:f-1001" not in matched  # A was B4107's


def test_reconcile_refuses_an_unknown_import():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"No import with id 404\."):
        call_command("reconcile", "404", "--no-progress", stdout=io.StringIO())


def test_an_entry_recorded_from_a_row_matched_later_loses_not_logged_by_rtcc(rtcc_log, settings):
    from reports import rollups
    from tests.reports.test_rollups import snapshot as rollup_snapshot

    def not_logged() -> set[int]:
        return set(flagged_with(NOT_LOGGED_BY_RTCC))

    def recorded_from(key: str) -> int:
        return RowRecording.objects.get(row__row_key=key).entry_id

    run_import("flock_standard.csv")
    vendor_import = VendorImport.objects.get()
    first = not_logged()
    assert len(first) == 3

    # Narrow: A's and E's rows lose their matches and are recorded (and flagged).
    settings.SIGHTLINE_RECONCILE_TOLERANCE_MINUTES = 1
    narrow = reconciliation.reconcile(vendor_import=vendor_import)
    a, e = recorded_from("id:f-1001"), recorded_from("id:f-1004")
    assert not_logged() == first | {a, e}
    assert narrow.reflagged == 0  # recorded now, flagged as they were recorded

    # Wide again: the rows match the center's entries once more, so the entries recorded
    # from them lose the flag (the center did log those searches); the others keep it.
    settings.SIGHTLINE_RECONCILE_TOLERANCE_MINUTES = 10
    out = io.StringIO()
    call_command("reconcile", str(vendor_import.pk), "--no-progress", stdout=out)
    assert "not-logged-by-rtcc updated on 2 entries recorded from its rows" in out.getvalue()
    assert not_logged() == first
    assert not flagged_with(NOT_LOGGED_BY_RTCC) & {a, e}
    # The same flags as a full recomputation, and the rollups as a rebuild gives them.
    entries = list(QueryLogEntry.objects.all())
    recomputed = rules.flags_for_entries(entries)
    assert {s: f for s, f in recomputed.items() if f} == rules.stored_flags(list(recomputed))
    incremental = rollup_snapshot()
    rollups.rebuild()
    assert rollup_snapshot() == incremental

    # Narrow once more: the flag comes back (nothing recorded twice).
    settings.SIGHTLINE_RECONCILE_TOLERANCE_MINUTES = 1
    again = reconciliation.reconcile(vendor_import=vendor_import)
    assert (again.recorded, again.reflagged) == (0, 2)
    assert not_logged() == first | {a, e}
