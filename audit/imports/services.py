"""Importing a vendor's export file into the log (reconciling it again later: `reconciliation`).

An import reads the file twice. The first pass (`reading`) checks every row and writes nothing:
a file with any problem is refused whole, naming each line. The second pass writes in chunks,
each in its own transaction under the log's append lock, so the log stays writable during a
long import: rows already kept (same vendor key, from this file or an earlier one) are skipped,
each new row is matched to the entry the center logged for the same search (`matching`), and
the rows the log has no entry for are recorded into it through the log's bulk recording path.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.db import connection, transaction
from django.utils import timezone

from audit.imports.errors import ExportRefused, ProblemList
from audit.imports.formats import FLOCK, VendorRow
from audit.imports.matching import Names, Side, match, sides_of, tolerance
from audit.imports.models import ImportRow, ImportSource, RowMatch, RowRecording, VendorImport
from audit.imports.normalize import RepeatNumbering
from audit.imports.reading import (  # noqa: F401  (the import service's public names)
    PREVIEW_ROWS,
    ExportSpec,
    Scan,
    export_spec,
    reader_for,
    scan_export,
    scan_steps,
)
from audit.imports.selectors import import_integrations
from audit.log.bulk import (
    Checkpoints,
    insert_rows,
    insert_through_staging,
    refresh_statistics,
    utc_datetime_adapter,
)
from audit.log.parsing import QueryInput
from audit.log.services import record_queries
from audit.models import Agency, Integration, LogState, MerkleNode, QueryFlag, QueryLogEntry

CHUNK = 10_000
# The tables an import grows: on PostgreSQL their statistics are refreshed as they double during
# an import, and at its end, so that the planner's choices follow their size.
GROWN = (QueryLogEntry, QueryFlag, MerkleNode, ImportRow, RowRecording, RowMatch)


class Progress:
    """What a long import reports as it goes; commands draw it with tqdm, pages as text."""

    def start(self, stage: str, total: int | None) -> None:
        """A stage begins ("checking", "importing", "reconciling") with `total` rows."""

    def advance(self, rows: int) -> None:
        """`rows` more rows of the current stage are done."""


# -- the second pass: write ----------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did: rows read, kept (new), duplicates skipped, matched, recorded."""

    vendor_import: VendorImport | None
    scan: Scan
    kept: int = 0
    duplicates: int = 0
    matched: int = 0
    recorded: int = 0
    dry_run: bool = False


# An import row's columns in the order `_Writer._row_values` builds them; a column added to
# the model without a default fails every insert, and a test checks the list covers them all.
_ROW_FIELD_NAMES = (
    "vendor_import", "line", "source", "row_key", "occurred_at", "local_date", "technology",
    "query_type", "search_type", "agency_name", "agency_code", "operator_name",
    "operator_badge", "target_fingerprint", "reason", "case_number", "networks", "scope",
    "as_read",
)  # fmt: skip
_ROW_FIELDS = [ImportRow._meta.get_field(name) for name in _ROW_FIELD_NAMES]
_RECORDING_FIELDS = [RowRecording._meta.get_field(n) for n in ("vendor_import", "row", "entry")]


def _insert_sql(model, fields) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Names come from the model's own metadata, never from input.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def import_source(*, source: str, agency: Agency) -> ImportSource:
    """The import source of a vendor system for an agency, created on first use."""
    found = ImportSource.objects.filter(source=source, agency=agency).first()
    if found is not None:
        return found
    integration, _key = Integration.objects.create_key(
        agency=agency, name=f"Vendor export import: {source}"[:50], revoked=True
    )
    return ImportSource.objects.create(source=source, agency=agency, integration=integration)


class ImportRun:
    """One import of one file, run step by step so that a page or a command can show its
    progress: `steps()` yields (stage, rows done, rows in the stage or None) and leaves the
    outcome in `result`. Raises ExportRefused, naming every problem by line, before it writes
    anything; with `dry_run` it only checks."""

    def __init__(
        self,
        *,
        binary: BinaryIO,
        file_name: str,
        spec: ExportSpec,
        user=None,
        via: str = "command",
        dry_run: bool = False,
    ):
        self.binary = binary
        self.file_name = file_name
        self.spec = spec
        self.user = user
        self.via = via
        self.dry_run = dry_run
        self.result: ImportResult | None = None

    def steps(self) -> Iterator[tuple[str, int, int | None]]:
        found: list[Scan] = []
        for done in scan_steps(binary=self.binary, spec=self.spec, scan=found, keep=0):
            yield "checking", done, None
        scan = found[0]
        if scan.problems:
            raise ExportRefused.from_list(scan.problems)
        if scan.rows_read == 0:
            raise ExportRefused.single("the file holds a header but no rows", scan.header_line)
        if self.dry_run:
            self.result = ImportResult(vendor_import=None, scan=scan, dry_run=True)
            return
        spec = self.spec
        source_name = FLOCK if spec.fmt == FLOCK else spec.mapping.source
        with transaction.atomic():
            source = import_source(source=source_name, agency=spec.agency)
            vendor_import = VendorImport.objects.create(
                source=source_name,
                format=spec.fmt,
                technology=spec.technology,
                agency=spec.agency,
                file_name=self.file_name[-255:],
                sha256=scan.sha256,
                size=scan.size,
                imported_by=self.user,
                imported_via=self.via,
                imported_at=timezone.now(),
                time_zone=spec.zone_name,
                columns=scan.columns,
                mapping_text=spec.mapping_text,
                rows_read=scan.rows_read,
                covers_from=scan.covers_from,
                covers_to=scan.covers_to,
            )
        result = self.result = ImportResult(vendor_import=vendor_import, scan=scan)
        writer = _Writer(vendor_import, source, spec.agency.code)
        numbering = RepeatNumbering(scan.repeats)
        problems = ProblemList()
        done = 0
        yield "importing", done, scan.rows_read
        chunk: list[VendorRow] = []
        # SQLite: each chunk's WAL is copied into the database while the next one is read.
        with Checkpoints() as checkpoints:
            for row in reader_for(spec).rows(self.binary, problems):
                if row.row_key in scan.repeats:
                    row = _rekeyed(row, numbering.key(row.row_key))
                chunk.append(row)
                if len(chunk) == CHUNK:
                    writer.write(chunk, result, checkpoints)
                    done += len(chunk)
                    chunk = []
                    writer.chunks += 1
                    if writer.chunks & (writer.chunks - 1) == 0:  # after chunks 1, 2, 4, 8, ...
                        refresh_statistics(GROWN)
                    yield "importing", done, scan.rows_read
            if problems:  # the file changed since it was checked
                raise ExportRefused.from_list(problems)
            if chunk:
                writer.write(chunk, result, checkpoints)
                done += len(chunk)
                yield "importing", done, scan.rows_read
        refresh_statistics(GROWN)


def import_export(
    *,
    binary: BinaryIO,
    file_name: str,
    spec: ExportSpec,
    user=None,
    via: str = "command",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import an export file into the log and reconcile it (see the module docstring).

    Raises ExportRefused naming every problem (by line), and then nothing is written. With
    `dry_run` the file is checked and nothing is written either.
    """
    progress = progress or Progress()
    run = ImportRun(
        binary=binary, file_name=file_name, spec=spec, user=user, via=via, dry_run=dry_run
    )
    stage, previous = None, 0
    for name, done, total in run.steps():
        if name != stage:
            stage, previous = name, 0
            progress.start(name, total)
        progress.advance(done - previous)
        previous = done
    return run.result


def _rekeyed(row: VendorRow, key: str) -> VendorRow:
    if key == row.row_key:
        return row
    fields = {name: getattr(row, name) for name in row.__slots__}
    fields["row_key"] = key
    return VendorRow(**fields)


class _Writer:
    """Writes one import's rows chunk by chunk, each chunk in one transaction."""

    def __init__(self, vendor_import: VendorImport, source: ImportSource, home_code: str):
        self.vendor_import = vendor_import
        self.source = source
        self.names = Names(home_code)
        self.window = tolerance()
        self.excluded = import_integrations()
        self.local_tz = timezone.get_default_timezone()
        self.chunks = 0  # full chunks written

    def write(self, rows: list[VendorRow], result: ImportResult, checkpoints: Checkpoints) -> None:
        # What needs no database is done before the chunk's transaction (and while the last
        # chunk's WAL is copied).
        sides = sides_of(rows, self.names)
        values = self._row_values(rows, sides)
        checkpoints.wait()
        with transaction.atomic():
            # The log's append lock, for the whole chunk (every import writer takes it too).
            LogState.objects.select_for_update().get(id=1)
            # A key some import kept already is not inserted again (nor a key repeated in the
            # chunk); the rows inserted now tell which of the chunk's rows are new.
            ids = self._insert_rows(values)
            fresh = [i for i, row in enumerate(rows) if ids.get(row.row_key, (0, 0))[1] == row.line]
            result.duplicates += len(rows) - len(fresh)
            if not fresh:
                return
            matched = match(
                [sides[i] for i in fresh],
                technology=self.vendor_import.technology_id,
                window=self.window,
                excluded=self.excluded,
            )
            row_ids = {i: ids[rows[i].row_key][0] for i in fresh}
            store_matches(self.vendor_import, matched, row_ids)
            recorded = record_rows(
                vendor_import=self.vendor_import,
                source=self.source,
                rows=[
                    (row_ids[i], query_input(rows[i], sides[i])) for i in fresh if i not in matched
                ],
            )
            result.kept += len(fresh)
            result.matched += len(matched)
            result.recorded += recorded
        checkpoints.committed()

    def _new_ids(self, after: int) -> dict[str, tuple[int, int]]:
        """{row_key: (id, line)} of the rows this import inserted with ids above `after`.

        The chunk's rows are inserted under the log's append lock, which every import writer
        holds, so the rows above the largest id before the insert are the chunk's new rows: a
        key kept already (by an earlier import or chunk) was skipped and is not among them.
        """
        table = connection.ops.quote_name(ImportRow._meta.db_table)
        with connection.cursor() as cursor:
            # Names come from the model's metadata; values are parameters. Only the id range in
            # SQL: filtering on the import too lets SQLite walk the import's index instead, every
            # row the import holds, per chunk.
            cursor.execute(
                f"SELECT row_key, id, line, vendor_import_id FROM {table} WHERE id > %s",  # noqa: S608
                [after],
            )
            mine = self.vendor_import.pk
            return {key: (pk, line) for key, pk, line, of in cursor.fetchall() if of == mine}

    def _last_id(self) -> int:
        table = connection.ops.quote_name(ImportRow._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {table}")  # noqa: S608
            return cursor.fetchone()[0] or 0

    def _row_values(self, rows: list[VendorRow], sides: list[Side]) -> list[tuple]:
        """The chunk's rows as ImportRow values (`_ROW_FIELD_NAMES`), a key's first row only."""
        adapt_dt = utc_datetime_adapter()
        adapt_date = connection.ops.adapt_datefield_value
        local_tz = self.local_tz
        import_id = self.vendor_import.pk
        source = self.vendor_import.source
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        days: dict = {}
        values = []
        seen: set[str] = set()
        for row, side in zip(rows, sides, strict=True):
            if row.row_key in seen:
                continue  # a key repeated in the chunk: its first row only
            seen.add(row.row_key)
            occurred = row.occurred_at
            day = occurred.astimezone(local_tz).date()
            local_date = days.get(day)
            if local_date is None:
                local_date = days[day] = adapt_date(day)
            values.append(
                (
                    import_id, row.line, source, row.row_key, adapt_dt(occurred), local_date,
                    row.technology, row.query_type, row.search_type, row.agency_name, side.agency,
                    row.operator_name, side.badge, row.target_fingerprint, row.reason,
                    row.case_number, row.networks, row.scope, dumps(row.as_read),
                )
            )  # fmt: skip
        return values

    def _insert_rows(self, values: list[tuple]) -> dict[str, tuple[int, int]]:
        """Insert the rows whose keys are new; {row_key: (id, line)} of those."""
        # Both databases: a row whose (source, row_key) is kept already is skipped.
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # COPY, and the new rows' ids at once
                inserted = insert_through_staging(
                    cursor,
                    ImportRow._meta.db_table,
                    [f.column for f in _ROW_FIELDS],
                    values,
                    "ON CONFLICT DO NOTHING RETURNING row_key, id, line",
                )
                return {key: (pk, line) for key, pk, line in inserted}
            last_id = self._last_id()
            cursor.executemany(
                _insert_sql(ImportRow, _ROW_FIELDS) + " ON CONFLICT DO NOTHING", values
            )
        return self._new_ids(last_id)


def query_input(row, side: Side) -> QueryInput:
    """The log's query for a vendor row (a VendorRow, or an ImportRow kept earlier)."""
    return QueryInput(
        technology=getattr(row, "technology_id", None) or row.technology,
        query_type=row.query_type,
        occurred_at=row.occurred_at,
        operator=side.badge,
        target_fingerprint=row.target_fingerprint,
        offense_code="",
        justification=row.reason,
        case_number=row.case_number,
        supervisor="",
        requesting_agency=side.agency,
        on_behalf_of="",
        scope=row.scope,
        result_count=None,
        client_ref=row.row_key,
    )


def store_matches(vendor_import: VendorImport, matched: dict, row_ids) -> None:
    """Link rows to the entries they matched: `matched` maps a row's index (its Side's) to
    (entry sequence, seconds apart), `row_ids` (a list or a dict) the index to the row's id."""
    RowMatch.objects.bulk_create(
        [
            RowMatch(
                vendor_import=vendor_import,
                row_id=row_ids[index],
                entry_id=sequence,
                seconds_apart=seconds,
            )
            for index, (sequence, seconds) in matched.items()
        ],
        batch_size=1000,
    )


def record_rows(
    *, vendor_import: VendorImport, source: ImportSource, rows: list[tuple[int, QueryInput]]
) -> int:
    """Record vendor rows the log holds no entry for, through the log's bulk recording path.

    Each becomes a real entry of the log, recorded through the import source's integration
    with the row's key as client_ref, and linked to its row (by id). Returns how many.
    """
    if not rows:
        return 0
    results = record_queries(integration=source.integration, queries=[q for _, q in rows])
    insert_rows(
        RowRecording,
        _RECORDING_FIELDS,
        [
            (vendor_import.pk, row_id, result.sequence)
            for (row_id, _), result in zip(rows, results, strict=True)
        ],
    )
    return len(results)
