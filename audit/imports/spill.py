"""Rows the first pass of an import understood, kept for the second pass to write.

The check reads and understands every row of the file; the write pass reads them back from
here instead of parsing the file a second time (parsing is about a third of an import's
work). The rows wait in an anonymous temporary file (never named in the file system, deleted
when closed), compressed, a chunk at a time, so memory stays flat however long the file. They
are rows as understood: each target is already a keyed fingerprint and is replaced in
`as_read`, so the file holds no raw plate, like everything else an import keeps.
"""

import marshal
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from audit.imports.formats import VendorRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_LENGTH_BYTES = 8


class RowSpill:
    """Append VendorRows with `add`, then read them back in order with `rows()`."""

    def __init__(self, *, chunk: int = 10_000):
        # Open as long as the spill is (closed by close() or the with block).
        self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._buffer: list[tuple] = []
        self._chunk = chunk
        self.count = 0

    def __enter__(self) -> "RowSpill":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._buffer = []
        self._file.close()

    def add(self, row: VendorRow) -> None:
        # Plain values only (marshal's types), in VendorRow's field order; the moment as whole
        # microseconds since 1970.
        self._buffer.append(
            (
                row.line, row.row_key, (row.occurred_at - _EPOCH) // _MICROSECOND,
                row.technology, row.query_type, row.search_type, row.agency_name,
                row.operator_name, row.target_fingerprint, row.reason, row.case_number,
                row.networks, row.scope, row.as_read,
            )
        )  # fmt: skip
        self.count += 1
        if len(self._buffer) >= self._chunk:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            data = zlib.compress(marshal.dumps(self._buffer), 1)
            self._file.write(len(data).to_bytes(_LENGTH_BYTES, "little"))
            self._file.write(data)
            self._buffer = []

    def rows(self) -> Iterator[VendorRow]:
        """Every row added, in order (call once all are added)."""
        self._flush()
        self._file.seek(0)
        read = self._file.read
        while header := read(_LENGTH_BYTES):
            data = zlib.decompress(read(int.from_bytes(header, "little")))
            # Only what `add` wrote to this process's own anonymous file is ever loaded.
            values = marshal.loads(data)  # noqa: S302
            for line, key, micros, *rest in values:  # VendorRow's fields, in order
                yield VendorRow(line, key, _EPOCH + timedelta(microseconds=micros), *rest)
