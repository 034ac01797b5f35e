"""The import's second pass, read ahead: the file's rows parsed again and prepared for writing
(their sides for matching, their values as kept) chunk by chunk, none of it touching the
database, so that the writer only writes: in a reader process beside it (`ReadAhead`, see
`forking`) where one can be forked, else in the writer's own thread (`read_chunks`).
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from audit.imports.errors import ExportRefused, ProblemList
from audit.imports.forking import Forked
from audit.imports.formats import VendorRow
from audit.imports.matching import Names, Side, sides_of
from audit.imports.normalize import RepeatNumbering
from audit.imports.reading import ExportSpec, reader_for
from audit.log.bulk import gc_paused, utc_datetime_adapter

CHUNK = 10_000


@dataclass(slots=True)
class Chunk:
    """Rows ready to write, each as its side for matching and its values as an ImportRow
    (`ROW_FIELD_NAMES`), in the file's order: `values[i]` is the row of `sides[i]`.

    The values hold everything the writer needs of a row besides its side, so the rows
    themselves are not kept (nor sent by a reader process). A key that the chunk repeats is in
    it each time; the writer keeps its first row only.
    """

    sides: list[Side]
    values: list[tuple]

    def __len__(self) -> int:
        return len(self.values)


# An import row's columns in the order `Preparer.values` builds them; a column added to the
# model without a default fails every insert, and a test checks the list covers them all.
ROW_FIELD_NAMES = (
    "vendor_import", "line", "source", "row_key", "occurred_at", "local_date", "technology",
    "query_type", "search_type", "agency_name", "agency_code", "operator_name",
    "operator_badge", "target_fingerprint", "reason", "case_number", "networks", "scope",
    "as_read",
)  # fmt: skip


class Preparer:
    """Turns a list of rows into a Chunk for one import: names resolved, values adapted."""

    def __init__(self, *, import_id: int, source: str, names: Names):
        self.import_id = import_id
        self.source = source
        self.names = names
        self.local_tz = timezone.get_default_timezone()
        self.adapt_dt = utc_datetime_adapter()
        self.adapt_date = connection.ops.adapt_datefield_value

    def chunk(self, rows: list[VendorRow]) -> Chunk:
        sides = sides_of(rows, self.names)
        return Chunk(sides, self.values(rows, sides))

    def values(self, rows: list[VendorRow], sides: list[Side]) -> list[tuple]:
        """The rows as ImportRow values (`ROW_FIELD_NAMES`), one per row."""
        adapt_dt, adapt_date, local_tz = self.adapt_dt, self.adapt_date, self.local_tz
        import_id, source = self.import_id, self.source
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        days: dict = {}
        values = []
        for row, side in zip(rows, sides, strict=True):
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


def read_chunks(
    *, binary, spec: ExportSpec, repeats: set[str], preparer: Preparer, size: int = CHUNK
) -> Iterator[Chunk]:
    """The file's rows in chunks of `size`, keyed as the first pass numbered repeats.

    Raises ExportRefused, before the last chunk, if a row no longer reads (the file changed
    since it was checked).
    """
    problems = ProblemList()
    numbering = RepeatNumbering(repeats)
    rows: list[VendorRow] = []
    for row in reader_for(spec).rows(binary, problems):
        if row.row_key in repeats:
            row.row_key = numbering.key(row.row_key)
        rows.append(row)
        if len(rows) == size:
            yield preparer.chunk(rows)
            rows = []
    if problems:
        raise ExportRefused.from_list(problems)
    if rows:
        yield preparer.chunk(rows)


class ReadAhead:
    """Chunks of `size` rows, read and prepared in a forked reader process (`forking.Forked`)
    in pieces of `PIECE` rows (what `make(PIECE)` yields); iterate, then `close()`.

    The reader holds the objects of one piece at a time, and the pieces it made ahead of the
    writer (a chunk's worth) as bytes, not a chunk of objects.
    """

    def __init__(self, make: Callable[[int], Iterator[Chunk]], size: int = CHUNK):
        """`make(rows)` yields the prepared pieces of that many rows (in the reader)."""
        self.size = size
        piece = min(PIECE, size)
        self._forked = Forked(
            lambda: (_encoded(rows) for rows in make(piece)), ahead=-(-size // piece)
        )

    def __iter__(self) -> Iterator[Chunk]:
        chunk = Chunk([], [])
        for payload in self._forked:
            with gc_paused():  # see Forked.__iter__
                _add_piece(chunk, payload)
            if len(chunk) >= self.size:
                yield chunk
                chunk = Chunk([], [])
        if chunk.values:
            yield chunk

    def close(self) -> None:
        self._forked.close()


# Rows per piece sent by the reader process.
PIECE = 2_500
# Plain tuples through the pipe: a slotted dataclass pickles field by field, several times
# slower to read back than a tuple (and the writer reads every chunk).
_SIDE_SLOTS = Side.__slots__


def _encoded(piece: Chunk) -> tuple:
    return (
        [tuple(getattr(side, name) for name in _SIDE_SLOTS) for side in piece.sides],
        piece.values,
    )


def _add_piece(chunk: Chunk, payload: tuple) -> None:
    """Append a piece to the chunk; its sides' indexes become their rows' places in the chunk."""
    sides, values = payload
    offset = len(chunk)
    for fields in sides:
        side = Side(*fields)
        side.index += offset
        chunk.sides.append(side)
    chunk.values.extend(values)
