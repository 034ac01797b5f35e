"""Importing export files through the service: what is kept, what is recorded into the log,
idempotent re-imports and overlapping exports, and every refusal writing nothing."""

import gc
import hashlib
import json
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from audit.flags.rules import NOT_LOGGED_BY_RTCC
from audit.imports import services
from audit.imports.errors import ExportRefused
from audit.imports.formats import TARGET_MARK
from audit.imports.models import ImportRow, ImportSource, RowRecording, VendorImport
from audit.log.parsing import fingerprint_target
from audit.models import QueryLogEntry
from tests.audit.imports.conftest import run_import, snapshot
from tests.audit.imports.helpers import DATA
from tests.audit.queries import stored_flags_of

LPR = "license-plate-reader"
pytestmark = pytest.mark.django_db


def flags_of(entry: QueryLogEntry) -> set[str]:
    return stored_flags_of(entry.sequence)


def entry_of(row_key: str) -> QueryLogEntry:
    return RowRecording.objects.get(row__row_key=row_key).entry


def test_a_flock_export_is_kept_and_its_unlogged_rows_recorded(known_names, users):
    result = run_import("flock_standard.csv", user=users["auditor"])
    assert (result.scan.rows_read, result.kept, result.duplicates) == (5, 5, 0)
    assert (result.matched, result.recorded) == (0, 5)  # the log was empty

    imported = VendorImport.objects.get()
    data = (DATA / "flock_standard.csv").read_bytes()
    assert imported.sha256 == hashlib.sha256(data).hexdigest()
    assert imported.size == len(data)
    assert (imported.source, imported.format, imported.agency.code) == ("flock", "flock", "BPD")
    assert imported.imported_by == users["auditor"]
    assert imported.covers_from == datetime(2026, 3, 4, 20, 5, 12, tzinfo=UTC)
    assert imported.covers_to == datetime(2026, 3, 10, 14, 15, tzinfo=UTC)
    assert imported.columns["target"] == "License Plate"

    first = ImportRow.objects.get(row_key="id:f-1001")
    assert first.line == 2
    assert (first.agency_name, first.agency_code) == ("Birmingham AL PD", "BPD")
    assert (first.operator_name, first.operator_badge) == ("Jane Analyst", "B4107")
    assert first.as_read["License Plate"] == TARGET_MARK
    assert first.as_read["Case #"] == "BPD-2026-001234"

    entry = entry_of("id:f-1001")
    assert entry.target_fingerprint == fingerprint_target(LPR, "ABC1234")
    assert entry.integration_id == ImportSource.objects.get().integration_id
    assert entry.client_ref == "id:f-1001"
    assert (entry.operator_badge, entry.requesting_agency_code) == ("B4107", "BPD")
    assert entry.justification == "Armed robbery suspect vehicle seen by witness"
    assert NOT_LOGGED_BY_RTCC in flags_of(entry)

    lookup = entry_of("id:f-1002")
    assert (lookup.scope, lookup.case_number) == ("national", "")
    assert {"missing-case-number", "vague-justification", NOT_LOGGED_BY_RTCC} <= flags_of(lookup)

    # An unmapped organisation and officer are kept as written, flagged, never refused.
    side_door = entry_of("id:f-1003")
    assert side_door.requesting_agency_code == "Hoover Police Dept"
    assert side_door.operator_badge == "R. Officer"
    assert side_door.query_type == "partial-plate-search"
    assert {"unknown-agency", "outside-agency", "unknown-operator"} <= flags_of(side_door)


def test_while_an_import_runs_what_the_process_held_is_left_out_of_the_collector(known_names):
    spec = services.export_spec(fmt="flock", agency_code="BPD")
    with open(DATA / "flock_standard.csv", "rb") as binary:
        run = services.ImportRun(binary=binary, file_name="flock_standard.csv", spec=spec)
        steps = run.steps()
        assert next(steps)[0] == "checking"
        assert gc.get_freeze_count() > 0
        steps.close()  # a page whose reader went away stops its import so
    assert gc.get_freeze_count() == 0
    assert VendorImport.objects.count() == 0  # stopped while checking: nothing written


def test_the_raw_plate_is_stored_nowhere(known_names):
    run_import("flock_standard.csv")
    stored = json.dumps(
        [list(ImportRow.objects.values_list()), list(VendorImport.objects.values_list()),
         list(QueryLogEntry.objects.values_list())],
        default=str,
    )  # fmt: skip
    for plate in ("ABC 1234", "ABC1234", "XYZ9876", "DEF 5678", "AB*12"):
        assert plate not in stored


def test_the_log_stays_verifiable(known_names, capsys):
    run_import("flock_standard.csv")
    call_command("verify_log", stdout=None)  # raises on any inconsistency
    assert QueryLogEntry.objects.count() == 5


def test_importing_the_same_file_again_adds_nothing(known_names):
    run_import("flock_bom_crlf.csv")
    before = snapshot()
    again = run_import("flock_bom_crlf.csv")
    assert (again.kept, again.duplicates, again.recorded) == (0, 3, 0)
    after = snapshot()
    assert after[0] == before[0] + 1  # the import itself is recorded...
    assert after[1:] == before[1:]  # ...and nothing else


def test_overlapping_exports_keep_each_row_once(known_names):
    first = run_import("flock_overlap_a.csv")
    second = run_import("flock_overlap_b.csv")
    assert (first.kept, first.recorded) == (3, 3)
    assert (second.kept, second.duplicates, second.recorded) == (1, 2, 1)
    assert sorted(ImportRow.objects.values_list("row_key", flat=True)) == [
        f"id:f-300{i}" for i in range(1, 5)
    ]
    assert QueryLogEntry.objects.count() == 4


def test_rows_without_ids_keep_repeated_searches_and_skip_overlaps(known_names):
    first = run_import("flock_no_id_a.csv")
    assert (first.kept, first.duplicates) == (3, 0)  # the same search twice is two searches
    second = run_import("flock_no_id_b.csv")
    # NOI 0001 three times: two already kept, the third is new; NOI 0003 is new.
    assert (second.kept, second.duplicates) == (2, 2)
    keys = list(ImportRow.objects.order_by("id").values_list("row_key", flat=True))
    base = keys[0]
    assert keys == [base, base + "#2", keys[2], base + "#3", keys[4]]
    assert QueryLogEntry.objects.count() == 5


@pytest.mark.parametrize("chunk", [10_000, 2, 1])
def test_a_vendor_id_the_file_repeats_keeps_its_first_row(
    known_names, tmp_path, monkeypatch, chunk
):
    # In one chunk, or across chunks: the first row with the ID is kept and recorded, and the
    # others are counted as duplicates, whatever they say.
    monkeypatch.setattr(services, "CHUNK", chunk)
    header = "ID,Name,Org Name,Total Networks Searched,License Plate,Reason,Case #,Filters,"
    header += "Search Time,Search Type"
    lines = [
        header,
        "f-1,Jane Analyst,Birmingham AL PD,1,ABC1234,first reading,,,2026-03-04 14:05:12,Search",
        "f-1,Jane Analyst,Birmingham AL PD,1,ABC1234,second reading,,,2026-03-04 14:06:00,Search",
        "f-2,Jane Analyst,Birmingham AL PD,1,XYZ9876,another search,,,2026-03-04 14:07:00,Search",
        "f-1,Jane Analyst,Birmingham AL PD,1,ABC1234,third reading,,,2026-03-04 14:08:00,Search",
    ]
    (tmp_path / "repeats.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = run_import("repeats.csv", directory=tmp_path)
    assert (result.scan.rows_read, result.kept, result.duplicates, result.recorded) == (4, 2, 2, 2)
    kept = {row.row_key: row for row in ImportRow.objects.all()}
    assert sorted(kept) == ["id:f-1", "id:f-2"]
    assert (kept["id:f-1"].line, kept["id:f-1"].reason) == (2, "first reading")
    assert kept["id:f-2"].line == 4
    assert entry_of("id:f-1").justification == "first reading"
    assert QueryLogEntry.objects.count() == 2


def test_generic_csv_and_xlsx_with_mapping_files(known_names):
    csv_result = run_import("generic_vendor.csv", fmt="generic-csv", mapping="generic_vendor.toml")
    assert (csv_result.kept, csv_result.recorded) == (3, 3)
    partial = entry_of("id:q-2")
    assert partial.query_type == "partial-plate-search"
    assert partial.requesting_agency_code == "Jefferson Co Sheriff"  # not the registered name
    assert {"unknown-agency", "outside-agency"} <= flags_of(partial)
    # The workbook holds other rows of the same source (ids x-1, x-2 and 3).
    xlsx = run_import("generic_vendor.xlsx", fmt="generic-csv", mapping="generic_xlsx.toml")
    assert (xlsx.kept, xlsx.recorded) == (3, 3)
    assert VendorImport.objects.filter(source="example-vendor").count() == 2


def test_dry_run_checks_and_writes_nothing(known_names):
    before = snapshot()
    result = run_import("flock_standard.csv", dry_run=True)
    assert result.dry_run and result.scan.rows_read == 5
    assert snapshot() == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "flock_truncated.csv"}, "line 3: truncated row: 6 of 10 values"),
        ({"name": "flock_bad_time.csv"}, "line 3: Search Time: 'yesterday afternoon' is not a"),
        ({"name": "flock_unclosed_quote.csv"}, "line 2: a quoted value is never closed"),
        ({"name": "generic_vendor.csv"}, "line 1: this is not a Flock search-audit export"),
        ({"name": "generic_vendor.xlsx"}, "this is an XLSX workbook, not Flock's CSV export"),
        ({"name": "flock_standard.csv", "agency": "NOPE"}, "unknown agency 'NOPE'"),
        ({"name": "flock_standard.csv", "zone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"name": "flock_standard.csv", "technology": "nibin"}, "Flock exports are license-pl"),
        ({"name": "generic_vendor.csv", "fmt": "generic-csv"}, "needs a mapping file"),
        (
            {"name": "flock_standard.csv", "fmt": "generic-csv", "mapping": "generic_vendor.toml"},
            "line 2: the mapping names 'Audit ID' (columns.row_id), 'Query Time' (columns.time)",
        ),
    ],
)
def test_each_refusal_names_the_problem_and_writes_nothing(known_names, options, message):
    run_import("flock_overlap_a.csv")  # something already there, so nothing is not trivially 0
    before = snapshot()
    with pytest.raises(ExportRefused) as refused:
        run_import(options.pop("name"), **options)
    assert message in str(refused.value)
    assert "nothing was imported" in str(refused.value)
    assert snapshot() == before


def test_a_refused_file_lists_every_problem_with_its_line(known_names):
    with pytest.raises(ExportRefused) as refused:
        run_import("flock_bad_time.csv")
    assert [p.line for p in refused.value.problems] == [3, 4]
    assert str(refused.value).startswith("The file was refused (2 problems)")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (
            b"ID,Name,Org Name,Total Networks Searched,License Plate,Reason,Case #,Filters,"
            b"Search Time,Search Type\r\n",
            "line 1: the file holds a header but no rows",
        ),
        (b"\x00\x01\x02binary", "this is not a text (CSV) file or an XLSX workbook"),
    ],
)
def test_empty_and_binary_files_are_refused(known_names, tmp_path, content, message):
    (tmp_path / "export.csv").write_bytes(content)
    before = snapshot()
    with pytest.raises(ExportRefused, match=re.escape(message)):
        run_import("export.csv", directory=tmp_path)
    assert snapshot() == before


def test_export_spec_is_checked_before_the_file(known_names):
    spec = services.export_spec(fmt="flock", agency_code="bpd")
    assert (spec.agency.code, spec.technology.slug, spec.zone_name) == (
        "BPD",
        LPR,
        "America/Chicago",
    )
