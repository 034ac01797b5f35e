"""Streaming exports of the query log (CSV, JSON Lines, XLSX) in constant memory."""

import csv
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import IO

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from audit.models import AuditReview, QueryFlag, QueryOutcome

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


def rows(entries: QuerySet) -> Iterator[list]:
    """Export rows of the given entries in sequence order, CHUNK entries per round of queries.

    Reads in keyset-paged chunks, so memory stays flat whatever the number of entries.
    """
    local = timezone.get_default_timezone()
    entries = entries.order_by("sequence")
    last = -1
    while True:
        chunk = list(entries.filter(sequence__gt=last).values_list(*_VALUES)[:CHUNK])
        if not chunk:
            return
        sequences = [row[0] for row in chunk]
        flags = defaultdict(list)
        for sequence, flag in (
            QueryFlag.objects.filter(entry_id__in=sequences)
            .order_by("entry_id", "flag")
            .values_list("entry_id", "flag")
        ):
            flags[sequence].append(flag)
        outcomes = defaultdict(list)
        for sequence, outcome in (
            QueryOutcome.objects.filter(entry_id__in=sequences)
            .order_by("entry_id", "id")
            .values_list("entry_id", "outcome")
        ):
            outcomes[sequence].append(outcome)
        reviews = dict(
            AuditReview.objects.filter(entry_id__in=sequences)
            .order_by("entry_id", "id")
            .values_list("entry_id", "finding")
        )  # later reviews overwrite earlier ones: the latest finding wins
        for row in chunk:
            sequence = row[0]
            yield [
                sequence,
                row[1].astimezone(local).isoformat(),
                row[2].astimezone(local).isoformat(),
                *row[3:8],
                row[8] or "",
                row[9] or "",
                *row[10:16],
                row[16],
                row[17],
                ";".join(flags.get(sequence, ())),
                ";".join(outcomes.get(sequence, ())),
                reviews.get(sequence, "unreviewed"),
                row[18],
            ]
        last = sequences[-1]


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


class _Line:
    """A write-only file whose last write is handed back (lets csv.writer stream lines)."""

    def write(self, text: str) -> str:
        return text


def csv_lines(data: Iterable[list]) -> Iterator[str]:
    """RFC 4180 CSV (CRLF line ends, header row), cells neutralized against formulas."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow(COLUMNS)
    for row in data:
        yield writer.writerow([neutralize(v) for v in row])


def jsonl_lines(data: Iterable[list]) -> Iterator[str]:
    for row in data:
        yield json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"


def xlsx_file(data: Iterable[list]) -> IO[bytes]:
    """An XLSX workbook written in openpyxl's write-only mode (constant memory), rewound."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("query log")
    sheet.append(COLUMNS)
    for row in data:
        sheet.append([_xlsx_cell(v) for v in row])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it when sent)
    workbook.save(handle)
    handle.seek(0)
    return handle
