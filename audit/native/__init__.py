"""verify_log's optional C leaf hashing (`leafhash.c`, built by `make native`).

Turning twenty columns per entry into Python objects costs more than hashing the entry, so
verify_log hands each range of entries to the C library when it has been built: on a connection
of its own (an SQLite file opened read-only, or a libpq connection to PostgreSQL) it runs the
same SELECT, writes the same canonical JSON, hashes with OpenSSL and compares with the stored
leaf hash; it also hashes the subtree levels over each range and checks the entries' links.
Without the library (no compiler, not built, or SIGHTLINE_NATIVE=0) verify_log does the same
work in Python; the result is the same either way, and the tests hold the two to each other
byte for byte.
"""

import _sqlite3
import ctypes
import os
from collections.abc import Callable, Sequence
from pathlib import Path

#: Must equal LEAFHASH_VERSION in leafhash.c: a library built from another version is not used.
VERSION = 3
LIBRARY = Path(__file__).with_name("_leafhash.so")
_ERROR_SIZE = 512
_loaded: dict[Path, ctypes.CDLL | None] = {}

#: (the sequences of the rows read, as ints; their recomputed leaf hashes; the index of the
#: first row whose stored leaf hash differs, or None; the subtree levels over those leaf
#: hashes: level 1 (the hashes of the pairs), level 2, ... while two nodes remain; for each of
#: the three links (operator, supervisor, requesting agency) the first sequence that points at
#: another value than the committed one, or None)
LeafHashes = tuple[Sequence[int], list[bytes], int | None, list[list[bytes]], list[int | None]]

_OUTPUTS = [
    ctypes.c_longlong,  # capacity (rows)
    ctypes.POINTER(ctypes.c_longlong),  # sequences
    ctypes.c_char_p,  # digests, 32 bytes per row
    ctypes.c_char_p,  # matches, 1 byte per row
    ctypes.c_char_p,  # subtree levels, room for a node per row
    ctypes.POINTER(ctypes.c_longlong),  # the first bad sequence of each link, -1 for none
    ctypes.c_char_p,  # error message
    ctypes.c_int,  # its size
]


class NativeError(Exception):
    """The C library could not read the entries (the database's own message)."""


def library(path: Path = LIBRARY) -> ctypes.CDLL | None:
    """The built library, or None when it is missing, unloadable or of another version.

    SIGHTLINE_NATIVE=0 in the environment turns it off (verify_log then works in Python).
    """
    if os.environ.get("SIGHTLINE_NATIVE", "1") == "0":
        return None
    if path not in _loaded:
        _loaded[path] = _load(path)
    return _loaded[path]


def _address(lib: ctypes.CDLL, name: str) -> int | None:
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _shares_sqlite_with_python(lib: ctypes.CDLL) -> bool:
    """Whether the library calls the very SQLite that Python's sqlite3 module uses.

    Two copies of SQLite in one process do not see each other's POSIX locks on the database
    file, so closing a connection in one could drop locks the other still relies on.
    """
    ours = _address(lib, "sqlite3_libversion")
    return ours is not None and ours == _address(
        ctypes.CDLL(_sqlite3.__file__), "sqlite3_libversion"
    )


def _load(path: Path) -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        return None
    lib.sightline_leafhash_version.restype = ctypes.c_int
    if lib.sightline_leafhash_version() != VERSION or not _shares_sqlite_with_python(lib):
        return None
    lib.sightline_leaf_hashes.restype = ctypes.c_longlong
    lib.sightline_leaf_hashes.argtypes = [
        ctypes.c_char_p,  # database path
        ctypes.c_char_p,  # SELECT, two parameters (start, end)
        ctypes.c_longlong,  # start
        ctypes.c_longlong,  # end
        *_OUTPUTS,
    ]
    if supports_postgresql(lib):
        lib.sightline_pg_open.restype = ctypes.c_void_p
        lib.sightline_pg_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        lib.sightline_pg_close.restype = None
        lib.sightline_pg_close.argtypes = [ctypes.c_void_p]
        lib.sightline_pg_leaf_hashes.restype = ctypes.c_longlong
        lib.sightline_pg_leaf_hashes.argtypes = [
            ctypes.c_void_p,  # connection
            ctypes.c_char_p,  # SELECT, parameters $1 (start) and $2 (end)
            ctypes.c_longlong,  # start
            ctypes.c_longlong,  # end
            *_OUTPUTS,
        ]
    return lib


def supports_postgresql(lib: ctypes.CDLL) -> bool:
    """Whether the library was built with libpq (its headers were there at `make native`)."""
    return hasattr(lib, "sightline_has_postgresql")


def _run(function: Callable, first, sql: str, start: int, end: int) -> LeafHashes:
    capacity = max(end - start, 0)
    sequences = (ctypes.c_longlong * capacity)()
    digests = ctypes.create_string_buffer(32 * capacity)
    matches = ctypes.create_string_buffer(capacity)
    nodes = ctypes.create_string_buffer(32 * capacity)
    bad_links = (ctypes.c_longlong * 3)()
    error = ctypes.create_string_buffer(_ERROR_SIZE)
    rows = function(
        first, sql.encode(), start, end, capacity, sequences, digests, matches, nodes,
        bad_links, error, _ERROR_SIZE,
    )  # fmt: skip
    if rows < 0:
        raise NativeError(error.value.decode(errors="replace").strip())
    raw, mismatch = digests.raw, matches.raw.find(b"\x00", 0, rows)
    return (
        memoryview(sequences).cast("B").cast("q")[:rows],  # read as ints only where looked at
        [raw[i : i + 32] for i in range(0, 32 * rows, 32)],
        None if mismatch < 0 else mismatch,
        _levels(nodes.raw, rows),
        [None if sequence < 0 else sequence for sequence in bad_links],
    )


def _levels(raw: bytes, rows: int) -> list[list[bytes]]:
    levels, offset, count = [], 0, rows // 2
    while count:
        levels.append([raw[i : i + 32] for i in range(offset, offset + 32 * count, 32)])
        offset, count = offset + 32 * count, count // 2
    return levels


def leaf_hashes(lib: ctypes.CDLL, database: str, sql: str, start: int, end: int) -> LeafHashes:
    """Run `sql` (qmark parameters start, end; at most end - start rows) on the SQLite file
    `database`, opened read-only for the call."""
    return _run(lib.sightline_leaf_hashes, os.fsencode(database), sql, start, end)


class PostgresConnection:
    """A libpq connection of the library's own (`conninfo`: libpq keywords), closed on exit."""

    def __init__(self, lib: ctypes.CDLL, conninfo: str):
        self._lib = lib
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        self._conn = lib.sightline_pg_open(conninfo.encode(), error, _ERROR_SIZE)
        if not self._conn:
            raise NativeError(error.value.decode(errors="replace").strip())

    def leaf_hashes(self, sql: str, start: int, end: int) -> LeafHashes:
        """Run `sql` (parameters $1 = start, $2 = end; at most end - start rows)."""
        if not self._conn:
            raise NativeError("the connection is closed")
        return _run(self._lib.sightline_pg_leaf_hashes, self._conn, sql, start, end)

    def close(self) -> None:
        if self._conn:
            self._lib.sightline_pg_close(self._conn)
            self._conn = None

    def __enter__(self) -> "PostgresConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
