"""Reading export files (no database): each Flock variant, the generic format, every refusal."""

from datetime import UTC, datetime

import pytest

from audit.imports.errors import ExportRefused
from audit.imports.formats import TARGET_MARK
from audit.imports.mapping import load_mapping
from audit.imports.normalize import RepeatFinder, RepeatNumbering
from tests.audit.imports.helpers import DATA, fake_fingerprint, read_file


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def test_flock_standard_export_reads_every_row_normalized():
    reader, rows, problems = read_file("flock_standard.csv")
    assert not problems
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert [r.row_key for r in rows] == [f"id:f-100{i}" for i in range(1, 6)]
    first, lookup, partial, visual, after_dst = rows
    # 24-hour with seconds, no zone: read in America/Chicago (CST before March 8, CDT after).
    assert first.occurred_at == utc(2026, 3, 4, 20, 5, 12)
    assert after_dst.occurred_at == utc(2026, 3, 10, 14, 15)
    assert first.query_type == "plate-search"
    assert first.case_number == "BPD-2026-001234"
    assert first.target_fingerprint == fake_fingerprint("license-plate-reader", "ABC1234")
    assert (first.networks, first.scope) == (1, "local")
    # A nationwide lookup across 1,523 networks is not a local search.
    assert (lookup.networks, lookup.scope) == (1523, "national")
    assert lookup.case_number == ""  # "N/A"
    assert (partial.query_type, partial.networks, partial.scope) == (
        "partial-plate-search",
        12,
        "regional",
    )
    assert partial.agency_name == "Hoover Police Dept"
    assert partial.case_number == ""  # "none"
    assert partial.as_read["Filters"] == "Make: Ford, Color: White"
    assert (visual.query_type, visual.target_fingerprint) == ("vehicle-attribute-search", "")
    assert visual.case_number == ""  # "0"
    assert after_dst.case_number == ""  # "-"
    assert reader.columns["time"] == "Search Time"


def test_the_raw_plate_is_never_kept_in_the_row_as_read():
    _, rows, _ = read_file("flock_standard.csv")
    for row in rows:
        assert "ABC 1234" not in repr(row)
        assert "XYZ9876" not in repr(row)
    assert rows[0].as_read["License Plate"] == TARGET_MARK
    assert rows[3].as_read["License Plate"] == ""


def test_bom_windows_line_ends_quoted_newlines_and_12_hour_times():
    reader, rows, problems = read_file("flock_bom_crlf.csv")
    assert not problems
    assert reader.columns["row_id"] == "ID"  # the BOM did not stick to the first column
    assert [r.row_key for r in rows] == ["id:f-2001", "id:f-2002", "id:f-2003"]
    # The first record spans lines 2 to 4; the next ones start on lines 5 and 6.
    assert [r.line for r in rows] == [2, 5, 6]
    assert rows[0].reason == "Armed robbery,\nsuspect vehicle\nseen by witness"
    assert rows[0].occurred_at == utc(2026, 3, 4, 20, 5)  # 2:05 PM CST, no seconds
    assert rows[1].occurred_at == utc(2026, 3, 5, 5, 59, 30)  # 11:59:30 pm CST, 2-digit year
    assert rows[2].occurred_at == utc(2026, 3, 5, 6, 1)  # 12:01 AM is just after midnight
    assert rows[2].case_number == ""  # "unknown"


def test_renamed_and_extra_columns_zone_in_header_offsets_and_zone_names():
    reader, rows, problems = read_file("flock_renamed.csv", zone=None)
    assert not problems
    assert reader.columns == {
        "row_id": "Search ID",
        "operator": "User",
        "agency": "Organization",
        "networks": "Networks Searched",
        "target": "Plate",
        "reason": "Search Reason",
        "case_number": "Case Number",
        "filters": "Filters",
        "time": "Search Time (UTC)",
        "search_type": "Type",
    }
    assert [r.occurred_at for r in rows] == [
        utc(2026, 3, 4, 20, 5),  # no zone: the header's (UTC)
        utc(2026, 3, 4, 20, 6),  # Z
        utc(2026, 3, 4, 20, 7),  # -06:00
        utc(2026, 3, 4, 20, 8),  # America/Chicago
    ]
    assert rows[2].as_read["Text Prompt"] == "red pickup"
    assert rows[2].as_read["Moderation"] == "approved"


def test_rows_without_ids_are_keyed_by_content_and_repeats_numbered():
    _, rows, _ = read_file("flock_no_id_a.csv")
    keys = [r.row_key for r in rows]
    assert all(k.startswith("sha256:") for k in keys)
    assert keys[0] == keys[1] != keys[2]
    finder = RepeatFinder()
    for key in keys:
        finder.see(key)
    numbering = RepeatNumbering(finder.suspects)
    assert [numbering.key(k) for k in keys] == [keys[0], keys[0] + "#2", keys[2]]


def test_content_keys_agree_across_overlapping_files():
    _, a, _ = read_file("flock_no_id_a.csv")
    _, b, _ = read_file("flock_no_id_b.csv")
    assert a[0].row_key == b[0].row_key
    assert a[2].row_key not in {r.row_key for r in b}


def test_generic_csv_with_title_line_semicolons_and_strptime_format():
    reader, rows, problems = read_file(
        "generic_vendor.csv", fmt="generic-csv", mapping="generic_vendor.toml", zone=None
    )
    assert not problems
    assert reader.header_line == 2
    assert [r.line for r in rows] == [3, 4, 5]
    assert rows[0].occurred_at == utc(2026, 3, 4, 20, 5, 12)
    assert rows[0].row_key == "id:q-1"
    assert [r.query_type for r in rows] == ["plate-search", "partial-plate-search", "plate-search"]
    assert rows[1].agency_name == "Jefferson Co Sheriff"
    assert rows[1].case_number == ""
    assert rows[2].operator_name == "B9999"


def test_generic_xlsx_reads_date_cells_and_text_times():
    _, rows, problems = read_file(
        "generic_vendor.xlsx", fmt="generic-csv", mapping="generic_xlsx.toml", zone=None
    )
    assert not problems
    assert [r.row_key for r in rows] == ["id:x-1", "id:x-2", "id:3"]
    assert rows[0].occurred_at == utc(2026, 3, 4, 20, 5, 12)  # a date cell, read in Chicago
    assert rows[1].occurred_at == utc(2026, 3, 4, 20, 30)  # text in the cell
    assert rows[1].query_type == "partial-plate-search"
    assert [r.case_number for r in rows] == ["BPD-2026-001234", "", ""]
    assert rows[0].as_read["Plate"] == TARGET_MARK


# -- refusals ----------------------------------------------------------------------------


def test_truncated_row_is_named_by_line():
    _, rows, problems = read_file("flock_truncated.csv")
    assert [str(p) for p in problems.listed] == [
        "line 3: truncated row: 6 of 10 values (the row ends after 'Reason')"
    ]
    assert len(rows) == 1


def test_unparseable_times_are_named_by_line_and_column():
    _, _, problems = read_file("flock_bad_time.csv")
    assert [str(p) for p in problems.listed] == [
        "line 3: Search Time: 'yesterday afternoon' is not a date and time",
        "line 4: Search Time: '2026-04-03 13:30 PM' has hour 13 with PM",
    ]


def test_times_without_a_zone_need_one():
    _, _, problems = read_file("flock_standard.csv", zone=None)
    assert problems.total == 5
    assert str(problems.listed[0]) == (
        "line 2: Search Time: '2026-03-04 14:05:12' names no time zone; "
        "give the export's zone (--timezone)"
    )


def test_an_unclosed_quote_stops_the_read_at_its_line():
    _, rows, problems = read_file("flock_unclosed_quote.csv")
    assert rows == []
    assert [str(p) for p in problems.listed] == [
        "line 2: a quoted value is never closed (the file is truncated or a quote is missing)"
    ]


def test_wrong_format_chosen_is_refused_at_the_header():
    with pytest.raises(ExportRefused) as refused:
        read_file("generic_vendor.csv")
    assert "line 1: this is not a Flock search-audit export (wrong format chosen?)" in str(
        refused.value
    )
    assert "no column for Search Time, Org Name, License Plate, Reason" in str(refused.value)


def test_a_workbook_is_not_a_flock_csv():
    with pytest.raises(ExportRefused, match="this is an XLSX workbook, not Flock's CSV export"):
        read_file("generic_vendor.xlsx")


def test_mapping_naming_a_missing_column_is_refused():
    mapping = load_mapping((DATA / "generic_vendor.toml").read_text().replace('"Purpose"', '"Why"'))
    with pytest.raises(ExportRefused) as refused:
        read_file("generic_vendor.csv", fmt="generic-csv", mapping=mapping)
    assert "line 2: the mapping names 'Why' (columns.reason) but the header has no such" in str(
        refused.value
    )


def test_unmapped_search_type_is_a_problem_of_its_line():
    mapping = load_mapping((DATA / "generic_vendor.toml").read_text().replace('"*" = ', "# "))
    _, rows, problems = read_file("generic_vendor.csv", fmt="generic-csv", mapping=mapping)
    assert len(rows) == 2
    assert [str(p) for p in problems.listed] == [
        "line 5: Query Kind: 'Stakeout' has no query type in the mapping's [query_types] "
        '(add it, or "*" for any other value)'
    ]


def test_query_type_outside_the_technology_is_refused():
    mapping = load_mapping(
        (DATA / "generic_vendor.toml").read_text().replace('"*" = "plate-search"', '"*" = "x"')
    )
    _, _, problems = read_file("generic_vendor.csv", fmt="generic-csv", mapping=mapping)
    assert str(problems.listed[0]).startswith(
        "line 5: 'x' is not a query type of license-plate-reader (allowed: hotlist-alert,"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('source = "v"\n[colums]\ntime = "T"\n', "unknown key colums"),
        ('[columns]\ntime = "T"\n', 'needs source = "..."'),
        ('source = "v"\n[columns]\nuser = "U"\n', "unknown key columns.user"),
        ('source = "v"\n[columns]\noperator = "U"\n', "[columns] needs time ="),
        ('source = "v"\n[columns]\ntime = "T"\n[time]\nformat = "MM/DD"\n', "neither"),
        ('source = "v"\n[columns]\ntime = "T"\n[time]\nzone = "Mars/Base"\n', "unknown time"),
        ('source = "v"\n[columns]\ntime = "T"\n', 'needs "*" = "<query type>"'),
        ('source = "v"\n[columns\ntime = "T"\n', "is not valid TOML"),
        ('source = "v"\n[columns]\ntime = "T"\nagency = "T"\n', "both name 'T'"),
    ],
)
def test_mapping_mistakes_are_refused_by_name(text, message):
    with pytest.raises(ExportRefused) as refused:
        load_mapping(text)
    assert message in str(refused.value)
    assert "mapping file: " in str(refused.value)
