"""The log written as static files in the C2SP tiled layout, for mirrors on any static host.

A directory holds ``checkpoint``, ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``
exactly as /tlog/ serves them, so a verifier pointed at the mirror's URL checks the same tree.
Runs are incremental: a tile's bytes never change (a partial tile's name carries its width), so
only the tiles the directory lacks are written, then the checkpoint, last, so a mirror never
announces a tree whose tiles it does not hold yet. Partial tiles of older sizes are kept: the
checkpoints that named them may still be in clients' hands.
"""

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sightline_verifier.merkle import HASH_SIZE
from sightline_verifier.tiles import (
    Tile,
    entry_bundles_for_size,
    tiles_for_size,
)

from audit.transparency import checkpoints, tiles
from audit.transparency.selectors import latest_tree_head


class MirrorError(Exception):
    """The directory cannot hold the mirror, or there is nothing published to mirror."""


@dataclass
class MirrorRun:
    tree_size: int
    written: int = 0
    skipped: int = 0


def _write(path: Path, data: bytes) -> None:
    """Write atomically (a reader of the mirror never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # public files, like what a web server serves
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _is_complete(tile: Tile, path: Path) -> bool:
    """A tile already in the mirror: written atomically, so whole when present.

    A tile's bytes never change, partial ones included (their width is in their name).
    """
    if not path.is_file():
        return False
    return tile.entries or path.stat().st_size == tile.width * HASH_SIZE


def prepare_directory(directory: Path) -> Path:
    """The mirror's directory, created if missing; MirrorError if it cannot be one."""
    if directory.exists() and not directory.is_dir():
        raise MirrorError(f"{directory} exists and is not a directory.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise MirrorError(f"Cannot create {directory}: {problem.strerror}.") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise MirrorError(f"{directory} is not writable.")
    return directory


def _missing(directory: Path, tree_size: int, run: MirrorRun) -> list[Tile]:
    missing = []
    for tile in tiles_for_size(tree_size) + entry_bundles_for_size(tree_size):
        if _is_complete(tile, directory / tile.path):
            run.skipped += 1
        else:
            missing.append(tile)
    return missing


def export_tiles(
    directory: Path,
    *,
    planned: Callable[[int], None] = lambda total: None,
    progress: Callable[[int], None] = lambda n: None,
) -> MirrorRun:
    """Bring the mirror in ``directory`` up to the latest published head.

    ``planned`` is told how many files will be written, ``progress`` of each one written.
    """
    directory = prepare_directory(directory)
    head = latest_tree_head()
    if head is None:
        raise MirrorError("No tree head has been published yet: nothing to mirror.")
    run = MirrorRun(tree_size=head.tree_size)
    missing = _missing(directory, head.tree_size, run)
    planned(len(missing) + 1)
    try:
        for tile in missing:
            data = tiles.entry_bundle_bytes(tile) if tile.entries else tiles.hash_tile_bytes(tile)
            _write(directory / tile.path, data)
            run.written += 1
            progress(1)
        _write(directory / "checkpoint", checkpoints.cosigned_checkpoint(head).encode())
        run.written += 1
        progress(1)
    except OSError as problem:
        raise MirrorError(f"Cannot write the mirror in {directory}: {problem}") from None
    return run
