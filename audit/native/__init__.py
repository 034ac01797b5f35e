"""verify_log's optional C leaf hashing on SQLite (`leafhash.c`, built by `make native`).

Python's sqlite3 module spends more time turning twenty columns per entry into Python objects
than hashlib spends hashing the entry, so on SQLite verify_log hands each range of entries to
the C library when it has been built: it runs the same SELECT, writes the same canonical JSON,
hashes with OpenSSL and compares with the stored leaf hash. Without the library (no compiler,
or not built) verify_log does the same work in Python; the result is the same either way, and
the tests hold the two to each other byte for byte.
"""

import _sqlite3
import ctypes
import os
from pathlib import Path

#: Must equal LEAFHASH_VERSION in leafhash.c: a library built from another version is not used.
VERSION = 1
LIBRARY = Path(__file__).with_name("_leafhash.so")
_ERROR_SIZE = 512
_loaded: dict[Path, ctypes.CDLL | None] = {}


class NativeError(Exception):
    """The C library could not read the entries (its SQLite message)."""


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
    module = _sqlite3.__file__
    ours = _address(lib, "sqlite3_libversion")
    return ours is not None and ours == _address(ctypes.CDLL(module), "sqlite3_libversion")


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
        ctypes.c_longlong,  # capacity (rows)
        ctypes.POINTER(ctypes.c_longlong),  # sequences
        ctypes.c_char_p,  # digests, 32 bytes per row
        ctypes.c_char_p,  # matches, 1 byte per row
        ctypes.c_char_p,  # error message
        ctypes.c_int,  # its size
    ]
    return lib


def leaf_hashes(
    lib: ctypes.CDLL, database: str, sql: str, start: int, end: int
) -> tuple[list[int], list[bytes], int | None]:
    """Run `sql` (qmark parameters start, end; at most end - start rows) on the SQLite file
    `database`: (each row's sequence, its recomputed leaf hash, the index of the first row whose
    stored leaf hash differs or None)."""
    capacity = max(end - start, 0)
    sequences = (ctypes.c_longlong * capacity)()
    digests = ctypes.create_string_buffer(32 * capacity)
    matches = ctypes.create_string_buffer(capacity)
    error = ctypes.create_string_buffer(_ERROR_SIZE)
    rows = lib.sightline_leaf_hashes(
        os.fsencode(database), sql.encode(), start, end, capacity,
        sequences, digests, matches, error, _ERROR_SIZE,
    )  # fmt: skip
    if rows < 0:
        raise NativeError(error.value.decode(errors="replace"))
    raw = digests.raw
    mismatch = matches.raw.find(b"\x00", 0, rows)
    return (
        sequences[:rows],
        [raw[i : i + 32] for i in range(0, 32 * rows, 32)],
        None if mismatch < 0 else mismatch,
    )
