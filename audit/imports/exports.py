"""A reconciliation list as CSV, streamed a chunk at a time (memory flat whatever its length)."""

import csv
import io
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from audit.imports.selectors import SIGHTLINE_ONLY
from audit.workspace.exports import neutralize

ROW_COLUMNS = (
    "line",
    "occurred_at_local",
    "agency_as_written",
    "agency_code",
    "operator_as_written",
    "operator_badge",
    "search_type",
    "query_type",
    "reason",
    "case_number",
    "networks",
    "scope",
    "entry_sequence",
    "entry_recorded_from_this_row",
    "seconds_apart",
)
ENTRY_COLUMNS = (
    "entry_sequence",
    "occurred_at_local",
    "agency_code",
    "operator_badge",
    "query_type",
    "justification",
    "case_number",
    "scope",
)


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _row_cells(row) -> list:
    match = getattr(row, "match", None)  # reverse one-to-ones: absent raises AttributeError
    recording = getattr(row, "recording", None)
    entry = match.entry_id if match else (recording.entry_id if recording else "")
    return [
        row.line,
        _local(row.occurred_at),
        neutralize(row.agency_name),
        neutralize(row.agency_code),
        neutralize(row.operator_name),
        neutralize(row.operator_badge),
        neutralize(row.search_type),
        row.query_type,
        neutralize(row.reason),
        neutralize(row.case_number),
        "" if row.networks is None else row.networks,
        row.scope,
        entry,
        "yes" if recording and not match else "no",
        match.seconds_apart if match else "",
    ]


def _entry_cells(entry) -> list:
    return [
        entry.sequence,
        _local(entry.occurred_at),
        neutralize(entry.requesting_agency_code),
        neutralize(entry.operator_badge),
        entry.query_type,
        neutralize(entry.justification),
        neutralize(entry.case_number),
        entry.scope,
    ]


def csv_lines(items: QuerySet, which: str) -> Iterator[str]:
    """RFC 4180 CSV of a reconciliation list, header first, cells safe for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if which == SIGHTLINE_ONLY:
        writer.writerow(ENTRY_COLUMNS)
        cells = _entry_cells
    else:
        writer.writerow(ROW_COLUMNS)
        cells = _row_cells
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for count, item in enumerate(items.iterator(chunk_size=2000), start=1):
        writer.writerow(cells(item))
        if count % 2000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
