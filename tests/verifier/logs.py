"""Test logs built with the verifier package's own functions: leaves, tiles, checkpoints.

A `TestLog` holds n canonical version 1 leaves and every perfect subtree hash of their tree,
writes itself as a static mirror (what `manage.py export_tiles` writes) and serves a directory
over loopback HTTP. No Django: these are the verifier's tests.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sightline_verifier import merkle, tiles
from sightline_verifier.checkpoint import Checkpoint, sign_checkpoint
from sightline_verifier.client import Source
from sightline_verifier.errors import FetchError
from sightline_verifier.note import Signer

ORIGIN = "sightline.test/log"
TECHNOLOGIES = ("face-recognition", "license-plate-reader", "nibin")
QUERY_TYPES = {
    "face-recognition": "photo-probe",
    "license-plate-reader": "plate-search",
    "nibin": "casing-correlation",
}
OFFENSES = ("Homicide Offenses", "Robbery", "Motor Vehicle Theft", "Weapon Law Violations")
AGENCIES = ("BPD", "JCSO", "HPD")


def leaf(sequence: int) -> dict:
    """A deterministic public leaf of version 1 for ``sequence``."""
    tech = TECHNOLOGIES[sequence % 3]
    return {
        "agency": AGENCIES[sequence % 7 % 3],
        "case_number_present": sequence % 5 != 0,
        "date": f"2026-{1 + sequence % 12:02d}-{1 + sequence % 28:02d}",
        "offense_category": OFFENSES[sequence % 4],
        "on_behalf_of_present": sequence % 11 == 0,
        "private_commitment": merkle.leaf_hash(b"%d" % sequence).hex(),
        "query_type": QUERY_TYPES[tech],
        "scope": "local" if sequence % 4 else "regional",
        "sequence": sequence,
        "supervisor_present": sequence % 3 != 1,
        "technology": tech,
        "v": 1,
    }


@functools.cache
def signer() -> Signer:
    """The test log's key (one per test session)."""
    return Signer(ORIGIN, Ed25519PrivateKey.generate())


class TestLog:
    """A log of ``size`` leaves with every perfect subtree hash, grown with ``grow``."""

    __test__ = False  # not a pytest class

    def __init__(self, size: int = 0, *, key: Signer | None = None) -> None:
        self.key = key or signer()
        self.leaves: list[bytes] = []
        self.perfect: dict[tuple[int, int], bytes] = {}
        self.builder = merkle.TreeBuilder()
        self._tiles: dict[tiles.Tile, bytes] = {}  # a tile's bytes never change once made
        self.grow(size)

    @property
    def size(self) -> int:
        return len(self.leaves)

    def grow(self, count: int, make=leaf) -> None:
        for _ in range(count):
            data = merkle.canonical_json(make(len(self.leaves)))
            self.leaves.append(data)
            for level, index, digest in self.builder.append(merkle.leaf_hash(data)):
                self.perfect[(level, index)] = digest

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return self.subtree_hash(0, size)

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from the stored perfect subtrees (a merkle.SubtreeHash)."""
        return merkle.subtree_hash_from(lambda level, index: self.perfect[(level, index)])(
            start, end
        )

    def checkpoint(self, size: int | None = None) -> str:
        size = self.size if size is None else size
        body = Checkpoint(origin=self.key.name, size=size, root_hash=self.root(size))
        return sign_checkpoint(body, self.key)

    def tile(self, tile: tiles.Tile) -> bytes:
        data = self._tiles.get(tile)
        if data is None:
            data = self._tiles[tile] = self._make_tile(tile)
        return data

    def _make_tile(self, tile: tiles.Tile) -> bytes:
        if tile.entries:
            first = tile.index * tiles.TILE_WIDTH
            return tiles.encode_entry_bundle(self.leaves[first : first + tile.width])
        return tiles.tile_data(tile, lambda level, index: self.perfect[(level, index)])

    def write_mirror(self, directory: Path, size: int | None = None) -> Path:
        """Write the tree of ``size`` as static files: checkpoint, tiles, entry bundles."""
        size = self.size if size is None else size
        directory.mkdir(parents=True, exist_ok=True)
        for tile in tiles.tiles_for_size(size) + tiles.entry_bundles_for_size(size):
            path = directory / tile.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.tile(tile))
        (directory / "checkpoint").write_text(self.checkpoint(size), encoding="utf-8")
        return directory


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real static host
    disable_nagle_algorithm = True  # headers and body are written apart

    def log_message(self, format, *args):
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on a free loopback port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class LogSource(Source):
    """A static mirror of ``log`` at ``size``, in memory; ``tamper(path, data)`` may alter it.

    Serves only what a mirror of that size holds (404 otherwise) and records every path read.
    """

    tlog_prefix = ""
    has_api = False

    def __init__(self, log: TestLog, size: int | None = None, tamper=None) -> None:
        self.log = log
        self.size = log.size if size is None else size
        self.tamper = tamper
        self.paths: list[str] = []
        self._checkpoint = log.checkpoint(self.size).encode()
        self._tiles = {t.path for t in tiles.tiles_for_size(self.size)}
        self._tiles.update(t.path for t in tiles.entry_bundles_for_size(self.size))

    def bundle_path(self, sequence: int) -> str:
        """The path of the bundle holding entry ``sequence`` at this size."""
        index = sequence // tiles.TILE_WIDTH
        width = min(tiles.TILE_WIDTH, self.size - index * tiles.TILE_WIDTH)
        return "/" + tiles.Tile(0, index, width, entries=True).path

    def get_bytes(self, path: str) -> bytes:
        self.paths.append(path)
        relative = path.lstrip("/")
        if relative == "checkpoint":
            data = self._checkpoint
        elif relative in self._tiles:
            data = self.log.tile(tiles.parse_tile_path(relative))
        else:
            raise FetchError(f"{path} is not in the mirror", status=404)
        return self.tamper(relative, data) if self.tamper else data
