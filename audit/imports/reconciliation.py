"""Reconciling an import with the log: which of its rows the log holds an entry for.

`reconcile` recomputes the matches of every row of an import under today's aliases and
tolerance (`manage.py reconcile`), records the rows left with neither a match nor an entry
recorded from them, and re-flags the entries recorded from rows whose match changed.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from audit.flags.services import reflag_entries
from audit.imports.matching import Names, in_chunks, match, sides_of, tolerance
from audit.imports.models import ImportRow, RowMatch, VendorImport
from audit.imports.selectors import import_integrations
from audit.imports.services import (
    CHUNK,
    Progress,
    import_source,
    query_input,
    record_rows,
    store_matches,
)
from audit.log.bulk import Checkpoints, gc_frozen
from audit.models import LogState


@dataclass(slots=True)
class _KeptRow:
    """What reconciling needs of a kept row (names as in ImportRow's values, the last one the
    entry recorded from the row)."""

    id: int
    occurred_at: datetime
    target_fingerprint: str
    agency_name: str
    operator_name: str
    technology: str
    query_type: str
    reason: str
    case_number: str
    scope: str
    row_key: str
    recorded_entry: int | None  # the entry recorded from the row, if any


@dataclass
class ReconcileResult:
    rows: int = 0
    matched: int = 0
    recorded: int = 0
    reflagged: int = 0  # entries recorded from rows whose match changed


def reconcile(*, vendor_import: VendorImport, progress: Progress | None = None) -> ReconcileResult:
    """Recompute which of an import's rows the log holds an entry for, under today's aliases
    and tolerance; a row left with neither a match nor an entry recorded from it is recorded.

    Works chunk by chunk, each in its own transaction, so the log stays writable meanwhile.
    """
    progress = progress or Progress()
    progress.start("reconciling", vendor_import.rows.count())
    source = import_source(source=vendor_import.source, agency=vendor_import.agency)
    names = Names(vendor_import.agency.code)
    window = tolerance()
    excluded = import_integrations()
    result = ReconcileResult()
    last = 0
    # SQLite: each chunk's WAL is copied into the database while the next one is read.
    with gc_frozen(), Checkpoints() as checkpoints:
        while True:
            # Plain values, not model instances: building a million of those was most of it.
            rows = [
                _KeptRow(*values)
                for values in ImportRow.objects.filter(vendor_import=vendor_import, id__gt=last)
                .order_by("id")
                .values_list(*_KeptRow.__slots__[:-1], "recording__entry")[:CHUNK]
            ]
            if not rows:
                return result
            last = rows[-1].id
            sides = sides_of(rows, names)
            checkpoints.wait()
            with transaction.atomic():
                LogState.objects.select_for_update().get(id=1)
                had_match: set[int] = set()
                for part in in_chunks([row.id for row in rows]):
                    matches = RowMatch.objects.filter(row_id__in=part)
                    had_match.update(matches.values_list("row_id", flat=True))
                    matches.delete()
                matched = match(
                    sides, technology=vendor_import.technology_id, window=window, excluded=excluded
                )
                store_matches(vendor_import, matched, [row.id for row in rows])
                orphans = [
                    (rows[i].id, query_input(rows[i], sides[i]))
                    for i in range(len(rows))
                    if i not in matched and rows[i].recorded_entry is None
                ]
                result.recorded += record_rows(
                    vendor_import=vendor_import, source=source, rows=orphans
                )
                # An entry recorded from a row that is now matched (or no longer) gains or
                # loses not-logged-by-rtcc: the center did (or did not) log the search after all.
                changed = [
                    row.recorded_entry
                    for i, row in enumerate(rows)
                    if row.recorded_entry is not None and (i in matched) != (row.id in had_match)
                ]
                for part in in_chunks(changed):
                    reflag_entries(part)
                result.reflagged += len(changed)
            checkpoints.committed()
            result.rows += len(rows)
            result.matched += len(matched)
            progress.advance(len(rows))
