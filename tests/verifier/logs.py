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
        hashes = [merkle.leaf_hash(data) for data in self.leaves[:size]]
        return merkle.root_from_leaf_hashes(hashes)

    def checkpoint(self, size: int | None = None) -> str:
        size = self.size if size is None else size
        body = Checkpoint(origin=self.key.name, size=size, root_hash=self.root(size))
        return sign_checkpoint(body, self.key)

    def tile(self, tile: tiles.Tile) -> bytes:
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
