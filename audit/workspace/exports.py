"""Streaming exports of the query log (CSV, JSON Lines, XLSX) in constant memory."""

import csv
import io
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import IO

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from audit.flags.rules import names_of
from audit.models import AuditReview, EntryFlags, QueryOutcome

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
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
CHUNK = 2000
_VALUES = (
    "sequence",
    "recorded_at",
    "occurred_at",
    "technology_id",
    "query_type",
    "requesting_agency_code",
    "on_behalf_of",
    "operator_badge",
    "operator__name",
    "operator__unit",
    "supervisor_badge",
    "offense_code",
    "offense_category",
    "case_number",
    "justification",
    "scope",
    "result_count",
    "target_fingerprint",
    "leaf_hash",
)
# A spreadsheet runs a cell starting with these as a formula (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def row_chunks(entries: QuerySet) -> Iterator[list[list]]:
    """Export rows of the given entries in sequence order, CHUNK rows at a time.

    Reads in keyset-paged chunks, so memory stays flat whatever the number of entries. The
    flags, outcomes and reviews of a chunk come from one range query each (cheaper than a
    long IN list); rows of that range outside the filter are simply not asked for.
    """
    local = timezone.get_default_timezone()
    entries = entries.order_by("sequence")
    last = -1
    while True:
        chunk = list(entries.filter(sequence__gt=last).values_list(*_VALUES)[:CHUNK])
        if not chunk:
            return
        span = {"entry_id__gte": chunk[0][0], "entry_id__lte": chunk[-1][0]}
        flags = {
            sequence: names_of(mask)
            for sequence, mask in EntryFlags.objects.filter(**span)
            .order_by()
            .values_list("entry_id", "mask")
        }
        outcomes = defaultdict(list)
        for sequence, outcome in (
            QueryOutcome.objects.filter(**span)
            .order_by("entry_id", "id")
            .values_list("entry_id", "outcome")
        ):
            outcomes[sequence].append(outcome)
        reviews = dict(
            AuditReview.objects.filter(**span)
            .order_by("entry_id", "id")
            .values_list("entry_id", "finding")
        )  # later reviews overwrite earlier ones: the latest finding wins
        yield [
            [
                row[0],
                row[1].astimezone(local).isoformat(),
                row[2].astimezone(local).isoformat(),
                *row[3:8],
                row[8] or "",
                row[9] or "",
                *row[10:16],
                row[16],
                row[17],
                ";".join(flags.get(row[0], ())),
                ";".join(outcomes.get(row[0], ())),
                reviews.get(row[0], "unreviewed"),
                row[18],
            ]
            for row in chunk
        ]
        last = chunk[-1][0]


def neutralize(value):
    """Make a text cell safe to open in a spreadsheet: formulas become plain text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _xlsx_cell(value):
    """XLSX cannot hold control characters: each becomes U+FFFD, visibly replaced."""
    value = neutralize(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


# Columns whose text comes from a client and may start like a formula; the others are
# numbers, timestamps, hex digests or names the portal itself chose.
_FREE_TEXT = tuple(
    COLUMNS.index(name)
    for name in (
        "requesting_agency",
        "on_behalf_of",
        "operator_badge",
        "operator_name",
        "unit",
        "supervisor_badge",
        "offense_code",
        "case_number",
        "justification",
    )
)


def _neutralized(row: list) -> list:
    row = list(row)
    for index in _FREE_TEXT:
        row[index] = neutralize(row[index])
    return row


def csv_lines(chunks: Iterable[list[list]]) -> Iterator[str]:
    """RFC 4180 CSV (CRLF line ends, header row), cells neutralized against formulas.

    Yields one string per chunk of rows: far fewer writes than a line at a time.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for chunk in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_neutralized(row) for row in chunk)
        yield buffer.getvalue()


def jsonl_lines(chunks: Iterable[list[list]]) -> Iterator[str]:
    for chunk in chunks:
        yield "".join(
            json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"
            for row in chunk
        )


def xlsx_file(chunks: Iterable[list[list]]) -> IO[bytes]:
    """An XLSX workbook written in openpyxl's write-only mode (constant memory), rewound."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("query log")
    sheet.append(COLUMNS)
    for chunk in chunks:
        for row in chunk:
            sheet.append([_xlsx_cell(v) for v in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it when sent)
    workbook.save(handle)
    handle.seek(0)
    return handle
