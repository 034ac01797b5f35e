"""manage.py export_tiles: a static mirror with the same bytes as /tlog/, written incrementally."""

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from sightline_verifier.checkpoint import open_checkpoint
from sightline_verifier.tiles import (
    TileHashes,
    decode_entry_bundle,
    entry_bundles_for_size,
    parse_tile_path,
    tiles_for_size,
)

from tests.audit.transparency.tlog import grow, log_verifier


def export(directory: Path) -> str:
    out, err = StringIO(), StringIO()
    call_command("export_tiles", str(directory), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def files(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file of the mirror: path -> (inode, modification time in ns)."""
    found = {}
    for path in directory.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[path.relative_to(directory).as_posix()] = (stat.st_ino, stat.st_mtime_ns)
    return found


def check_mirror(directory: Path, client) -> int:
    """Open the mirror's checkpoint and recompute its root from the mirror's tiles alone."""
    checkpoint, _ = open_checkpoint((directory / "checkpoint").read_bytes(), [log_verifier()])

    def read(tile):
        return (directory / tile.path).read_bytes()

    hashes = TileHashes(checkpoint.size, read, root=checkpoint.root_hash)
    for bundle in entry_bundles_for_size(checkpoint.size):
        hashes.check_entries(bundle, decode_entry_bundle(read(bundle), bundle.width))
    for tile in tiles_for_size(checkpoint.size) + entry_bundles_for_size(checkpoint.size):
        assert client.get(f"/tlog/{tile.path}").content == read(tile), tile.path
    return checkpoint.size


def test_the_mirror_holds_the_published_tree(tmp_path, client, integration):
    grow(integration, 600)
    mirror = tmp_path / "mirror"
    output = export(mirror)
    assert "600 entries" in output and "8 files written" in output  # 3 + 3 + 1 + checkpoint
    assert check_mirror(mirror, client) == 600
    assert (mirror / "checkpoint").read_bytes() == client.get("/tlog/checkpoint").content
    assert oct((mirror / "tile/0/000").stat().st_mode & 0o777) == "0o644"


def test_export_is_incremental(tmp_path, client, integration):
    grow(integration, 600)
    mirror = tmp_path / "mirror"
    export(mirror)
    before = files(mirror)
    assert "1 files written" in export(mirror)  # the checkpoint only
    again = files(mirror)
    assert {p: v for p, v in again.items() if p != "checkpoint"} == {
        p: v for p, v in before.items() if p != "checkpoint"
    }
    assert again["checkpoint"] != before["checkpoint"]

    grow(integration, 800)
    export(mirror)
    after = files(mirror)
    for path in before:
        if path == "checkpoint":
            continue
        assert after[path] == before[path], f"{path} was rewritten"  # partials of 600 kept
    new = set(after) - set(before)
    # Level 0: tile 2 became full, 3.p/32 is new; level 1 has 3 hashes now.
    assert new == {
        "tile/0/002",
        "tile/entries/002",
        "tile/0/003.p/32",
        "tile/entries/003.p/32",
        "tile/1/000.p/3",
    }
    assert check_mirror(mirror, client) == 800


def test_a_tile_file_that_is_cut_short_is_written_again(tmp_path, client, integration):
    grow(integration, 600)
    mirror = tmp_path / "mirror"
    export(mirror)
    (mirror / "tile/0/001").write_bytes(b"\0" * 100)
    export(mirror)
    assert check_mirror(mirror, client) == 600


def test_a_file_in_the_way_is_a_clear_error(tmp_path, integration):
    grow(integration, 10)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(CommandError, match="exists and is not a directory") as raised:
        export(blocker)
    assert raised.value.returncode != 0
    with pytest.raises(CommandError, match="Cannot create"):
        export(blocker / "below")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_directory_is_a_clear_error(tmp_path, integration):
    grow(integration, 10)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(CommandError, match="not writable"):
            export(locked)
    finally:
        locked.chmod(0o700)


def test_nothing_published_is_a_clear_error(tmp_path, db):
    with pytest.raises(CommandError, match="No tree head has been published yet"):
        export(tmp_path / "mirror")


def test_the_mirror_paths_are_tile_paths(tmp_path, integration):
    grow(integration, 300)
    export(tmp_path)
    for path in files(tmp_path):
        if path != "checkpoint":
            assert parse_tile_path(path).path == path
