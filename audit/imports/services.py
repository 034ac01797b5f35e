"""Importing a vendor's export file into the log (reconciling it again later: `reconciliation`).

An import reads the file twice. The first pass (`reading`) checks every row and writes nothing:
a file with any problem is refused whole, naming each line. The second pass writes in chunks,
each in its own transaction under the log's append lock, so the log stays writable during a
long import: rows already kept (same vendor key, from this file or an earlier one) are skipped,
each new row is matched to the entry the center logged for the same search (`matching`), and
the rows the log has no entry for are recorded into it through the log's bulk recording path.
The rows of each chunk come parsed and prepared (`preparing`); a long file is read by a second
process too where one can be forked (`forking`): half of the first pass, and the second pass
ahead of the writer.
"""

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from operator import itemgetter
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.imports.errors import ExportRefused
from audit.imports.forking import can_fork, own_reading, reopenable
from audit.imports.formats import FLOCK
from audit.imports.matching import Names, Side, match, tolerance
from audit.imports.models import ImportRow, ImportSource, RowMatch, RowRecording, VendorImport
from audit.imports.preparing import (
    CHUNK,
    ROW_FIELD_NAMES,
    Chunk,
    Preparer,
    ReadAhead,
    read_chunks,
)
from audit.imports.reading import (  # noqa: F401  (the import service's public names)
    PREVIEW_ROWS,
    ExportSpec,
    Scan,
    export_spec,
    scan_export,
    scan_steps,
)
from audit.imports.selectors import import_integrations
from audit.log.bulk import (
    Checkpoints,
    gc_frozen,
    gc_paused,
    insert_rows,
    insert_through_staging,
    refresh_statistics,
)
from audit.log.parsing import QueryInput
from audit.log.services import record_queries
from audit.models import Agency, EntryFlags, Integration, LogState, MerkleNode, QueryLogEntry

# SQLite: the writer lets the WAL start again from its beginning every this many chunks (it
# then holds about that many chunks); in between it writes on while the last one is copied.
WAIT_EVERY = 4
# A file larger than this (about 10,000 Flock rows) is read by two processes (`forking`).
SPLIT_BYTES = 1 << 20
# The tables an import grows: on PostgreSQL the statistics of each are refreshed whenever it has
# doubled during an import, and at its end if it grew by a tenth, so that the planner's choices
# follow their size.
GROWN = (QueryLogEntry, EntryFlags, MerkleNode, ImportRow, RowRecording, RowMatch)
END_GROWTH = 1.1  # as autovacuum's default analyze threshold (a tenth of the table)


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


_ROW_FIELDS = [ImportRow._meta.get_field(name) for name in ROW_FIELD_NAMES]
_KEY, _LINE = ROW_FIELD_NAMES.index("row_key"), ROW_FIELD_NAMES.index("line")
_NOT_NEW = (0, 0)  # no line is 0
# A row's values as `_query`'s arguments after the side.
_QUERY_FIELDS = itemgetter(
    *(
        ROW_FIELD_NAMES.index(name)
        for name in ("technology", "query_type", "target_fingerprint", "reason", "case_number",
                     "scope", "row_key")
    )
)  # fmt: skip
_RECORDING_FIELDS = [RowRecording._meta.get_field(n) for n in ("vendor_import", "row", "entry")]
_MATCH_FIELDS = [
    RowMatch._meta.get_field(n) for n in ("vendor_import", "row", "entry", "seconds_apart")
]


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
        self.forks = False  # whether it reads in a second process too (decided in `steps`)

    def steps(self) -> Iterator[tuple[str, int, int | None]]:
        # What the process held before is left out of the collector's passes meanwhile (for the
        # command and the upload page alike); stopping the steps early ends that too.
        with gc_frozen():
            yield from self._steps()

    def _steps(self) -> Iterator[tuple[str, int, int | None]]:
        # A long file is read by two processes where a second one can be forked: the first
        # pass split between them, then the second read ahead of the writer (`forking`).
        self.forks = (
            settings.SIGHTLINE_IMPORT_READ_AHEAD
            and _size(self.binary) > SPLIT_BYTES
            and can_fork()
            and reopenable(self.binary)
        )
        found: list[Scan] = []
        for done in scan_steps(
            binary=self.binary, spec=self.spec, scan=found, keep=0, split=self.forks
        ):
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
        writer = _Writer(vendor_import, source)
        preparer = Preparer(
            import_id=vendor_import.pk,
            source=vendor_import.source,
            names=Names(spec.agency.code),
        )

        def chunks(binary, size):
            return read_chunks(
                binary=binary, spec=spec, repeats=scan.repeats, preparer=preparer, size=size
            )

        done = 0
        yield "importing", done, scan.rows_read
        # A file of more than a chunk is read ahead in a reader process where one can be
        # forked: before the background WAL copies below start their thread.
        if scan.rows_read > CHUNK and self.forks:
            prepared = ReadAhead(lambda size: chunks(own_reading(self.binary), size), CHUNK)
        else:
            prepared = chunks(self.binary, CHUNK)
        # SQLite: each chunk's WAL is copied into the database while the next one is read.
        with (
            closing(prepared),
            Checkpoints(every=WAIT_EVERY) as checkpoints,
        ):
            for chunk in prepared:
                writer.write(chunk, result, checkpoints)
                done += len(chunk)
                refresh_statistics(GROWN)
                yield "importing", done, scan.rows_read
        refresh_statistics(GROWN, growth=END_GROWTH)


def _size(binary: BinaryIO) -> int:
    binary.seek(0, 2)
    size = binary.tell()
    binary.seek(0)
    return size


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


class _Writer:
    """Writes one import's rows chunk by chunk, each chunk in one transaction."""

    def __init__(self, vendor_import: VendorImport, source: ImportSource):
        self.vendor_import = vendor_import
        self.source = source
        self.window = tolerance()
        self.excluded = import_integrations()

    def write(self, chunk: Chunk, result: ImportResult, checkpoints: Checkpoints) -> None:
        # The chunk comes prepared (`preparing`): what needs no database is done.
        sides, values = chunk.sides, chunk.values
        checkpoints.wait()
        with gc_paused(), transaction.atomic():
            # The log's append lock, for the whole chunk (every import writer takes it too).
            LogState.objects.select_for_update().get(id=1)
            # A key some import kept already is not inserted again (nor a key repeated in the
            # chunk); the rows inserted now tell which of the chunk's rows are new.
            ids = self._insert_rows(values)
            fresh = [
                i for i, row in enumerate(values) if ids.get(row[_KEY], _NOT_NEW)[1] == row[_LINE]
            ]
            result.duplicates += len(values) - len(fresh)
            if not fresh:
                return
            matched = match(
                [sides[i] for i in fresh],
                technology=self.vendor_import.technology_id,
                window=self.window,
                excluded=self.excluded,
            )
            row_ids = {i: ids[values[i][_KEY]][0] for i in fresh}
            store_matches(self.vendor_import, matched, row_ids)
            recorded = record_rows(
                vendor_import=self.vendor_import,
                source=self.source,
                rows=[
                    (row_ids[i], _query(sides[i], *_QUERY_FIELDS(values[i])))
                    for i in fresh
                    if i not in matched
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

    def _insert_rows(self, values: list[tuple]) -> dict[str, tuple[int, int]]:
        """Insert the rows whose keys are new (a key's first row only); {row_key: (id, line)}
        of those."""
        if len({row[_KEY] for row in values}) < len(values):  # a key the chunk repeats
            firsts: dict[str, tuple] = {}
            for row in values:
                firsts.setdefault(row[_KEY], row)
            values = list(firsts.values())
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
            inserted = cursor.rowcount
        if inserted == len(values):
            # Every row was new (the usual case): their ids are the last `inserted` ones, in
            # the order of `values` (ids are assigned in increasing order under the lock).
            first = self._last_id() - inserted + 1
            return {row[_KEY]: (first + i, row[_LINE]) for i, row in enumerate(values)}
        return self._new_ids(last_id)


def query_input(row, side: Side) -> QueryInput:
    """The log's query for a vendor row kept earlier (its ImportRow values, as `reconcile`
    reads them: the technology as its slug)."""
    return _query(
        side, row.technology, row.query_type, row.target_fingerprint, row.reason,
        row.case_number, row.scope, row.row_key,
    )  # fmt: skip


def _query(
    side: Side, technology, query_type, target, reason, case_number, scope, row_key
) -> QueryInput:
    """The log's query for a vendor row: its side (time, operator, agency) and its fields."""
    return QueryInput(
        technology=technology,
        query_type=query_type,
        occurred_at=side.occurred_at,
        operator=side.badge,
        target_fingerprint=target,
        offense_code="",
        justification=reason,
        case_number=case_number,
        supervisor="",
        requesting_agency=side.agency,
        on_behalf_of="",
        scope=scope,
        result_count=None,
        client_ref=row_key,
    )


def store_matches(vendor_import: VendorImport, matched: dict, row_ids) -> None:
    """Link rows to the entries they matched: `matched` maps a row's index (its Side's) to
    (entry sequence, seconds apart), `row_ids` (a list or a dict) the index to the row's id."""
    import_id = vendor_import.pk
    insert_rows(
        RowMatch,
        _MATCH_FIELDS,
        [
            (import_id, row_ids[index], sequence, seconds)
            for index, (sequence, seconds) in matched.items()
        ],
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
