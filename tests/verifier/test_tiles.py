"""Tiles: paths, the tile set of a size, tile data, entry bundles, roots and proofs from tiles."""

from __future__ import annotations

import hashlib
import struct

import pytest
from sightline_verifier import merkle
from sightline_verifier.tiles import (
    TILE_WIDTH,
    Tile,
    TileError,
    TileHashes,
    consistency_proof_from_tiles,
    decode_entry_bundle,
    decode_tile,
    encode_entry_bundle,
    encode_tile,
    entry_bundles_for_size,
    format_index,
    inclusion_proof_from_tiles,
    parse_index,
    parse_tile_path,
    root_from_tiles,
    tile_data,
    tile_for_hash,
    tiles_for_consistency,
    tiles_for_inclusion,
    tiles_for_root,
    tiles_for_size,
)


@pytest.mark.parametrize(
    ("index", "path"),
    [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_index_paths(index, path):
    assert format_index(index) == path
    assert parse_index(path) == index


@pytest.mark.parametrize("path", ["1", "0001", "x000/001", "001/002", "x1/002", "abc", "", "x001/"])
def test_non_canonical_indexes_are_refused(path):
    with pytest.raises(TileError):
        parse_index(path)


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("tile/0/x001/x234/067", Tile(0, 1234067)),
        ("tile/0/x001/x234/067.p/8", Tile(0, 1234067, 8)),
        ("tile/3/000.p/1", Tile(3, 0, 1)),
        ("tile/63/001", Tile(63, 1)),
        ("tile/entries/x001/000", Tile(0, 1000, entries=True)),
        ("tile/entries/012.p/255", Tile(0, 12, 255, entries=True)),
    ],
)
def test_tile_paths_round_trip(path, tile):
    assert parse_tile_path(path) == tile
    assert tile.path == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/00/001",
        "tile/64/001",
        "tile/-1/001",
        "tile/0/001.p/0",
        "tile/0/001.p/256",
        "tile/0/001.p/08",
        "tile/0/001.p/",
        "tile/0/1",
        "tile/0",
        "tiles/0/001",
        "tile/data/001",
        "tile/entries/001.p/x",
    ],
)
def test_bad_tile_paths_are_refused(path):
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_tile_set_of_size_70000_is_the_specs():
    tiles = tiles_for_size(70_000)
    level0 = [t for t in tiles if t.level == 0]
    assert len([t for t in level0 if t.is_full]) == 273
    partial = [t.path for t in tiles if not t.is_full]
    assert partial == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert [t.path for t in tiles if t.level >= 1 and t.is_full] == ["tile/1/000"]
    assert len(tiles) == 273 + 1 + 1 + 1 + 1


def test_tile_set_of_size_256_is_the_specs():
    assert [t.path for t in tiles_for_size(256)] == ["tile/0/000", "tile/1/000.p/1"]


def test_tile_sets_of_small_sizes():
    assert tiles_for_size(0) == []
    assert [t.path for t in tiles_for_size(1)] == ["tile/0/000.p/1"]
    assert [t.path for t in tiles_for_size(257)] == [
        "tile/0/000",
        "tile/0/001.p/1",
        "tile/1/000.p/1",
    ]
    assert [t.path for t in entry_bundles_for_size(257)] == [
        "tile/entries/000",
        "tile/entries/001.p/1",
    ]


# --- a tree in memory ---


def leaves(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


class MemoryTree:
    """Every perfect subtree hash of a tree, computed by brute force (the reference)."""

    def __init__(self, entries: list[bytes]) -> None:
        self.levels = [[merkle.leaf_hash(e) for e in entries]]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def reader(self, size: int, reads: list | None = None):
        def read(tile: Tile) -> bytes:
            assert tile in set(tiles_for_size(size))  # only tiles that exist at this size
            if reads is not None:
                reads.append(tile)
            return tile_data(tile, self.perfect)

        return read


def test_tile_data_is_the_hashes_of_the_tiles_level():
    tree = MemoryTree(leaves(600))
    data = tile_data(Tile(0, 1), tree.perfect)
    assert len(data) == 8192
    assert decode_tile(data, 256)[3] == merkle.leaf_hash(b"entry 259")
    (upper,) = decode_tile(tile_data(Tile(1, 0, 2), tree.perfect), 2)[1:]
    assert upper == merkle.root_from_leaf_hashes([merkle.leaf_hash(e) for e in leaves(512)[256:]])


@pytest.mark.parametrize("size", [1, 2, 3, 255, 256, 257, 511, 512, 513, 1000, 65_537])
def test_root_from_tiles(size):
    entries = leaves(size)
    tree = MemoryTree(entries)
    reads: list[Tile] = []
    root = root_from_tiles(size, tree.reader(size, reads))
    assert root == merkle.root_from_leaf_hashes([merkle.leaf_hash(e) for e in entries])
    assert sorted(set(reads)) == tiles_for_root(size)


def test_root_of_the_empty_tree_needs_no_tiles():
    assert root_from_tiles(0, lambda tile: pytest.fail("no tile")) == merkle.EMPTY_ROOT


def test_proofs_from_tiles_for_every_size_up_to_600():
    tree = MemoryTree(leaves(600))
    subtree = merkle.subtree_hash_from(tree.perfect)
    roots = [merkle.EMPTY_ROOT] + [subtree(0, n) for n in range(1, 601)]
    for size in range(1, 601):
        read = tree.reader(size)
        assert root_from_tiles(size, read) == roots[size]
        for index in {0, size // 3, size - 1}:
            proof = inclusion_proof_from_tiles(index, size, read)
            assert merkle.verify_inclusion(index, size, tree.perfect(0, index), proof, roots[size])
        for first in {1, size // 2, size - 1}:
            if first < 1:
                continue
            proof = consistency_proof_from_tiles(first, size, read)
            assert merkle.verify_consistency(first, size, roots[first], roots[size], proof)


def test_tiles_for_proofs_are_the_tiles_read():
    tree = MemoryTree(leaves(70_000))
    reads: list[Tile] = []
    inclusion_proof_from_tiles(12_345, 70_000, tree.reader(70_000, reads))
    assert sorted(set(reads)) == tiles_for_inclusion(12_345, 70_000)
    reads.clear()
    consistency_proof_from_tiles(40_000, 70_000, tree.reader(70_000, reads))
    assert sorted(set(reads)) == tiles_for_consistency(40_000, 70_000)


def altered_reader(read, target: Tile, position: int = 3):
    def altered(tile: Tile) -> bytes:
        data = bytearray(read(tile))
        if tile == target:
            data[position * 32] ^= 1
        return bytes(data)

    return altered


def test_a_changed_full_tile_is_caught_against_the_tile_above():
    tree = MemoryTree(leaves(700))
    root = merkle.subtree_hash_from(tree.perfect)(0, 700)
    honest = TileHashes(700, tree.reader(700), root=root)
    assert honest.tile(Tile(0, 1))[3] == merkle.leaf_hash(b"entry 259")
    tampered = TileHashes(700, altered_reader(tree.reader(700), Tile(0, 1)), root=root)
    with pytest.raises(TileError, match=r"tile/0/001 does not match its hash in tile/1/000\.p/2"):
        tampered.tile(Tile(0, 1))
    # Leaf 258's proof starts with leaf 259's hash, read from that tile: it no longer verifies.
    proof = inclusion_proof_from_tiles(258, 700, altered_reader(tree.reader(700), Tile(0, 1)))
    assert not merkle.verify_inclusion(258, 700, tree.perfect(0, 258), proof, root)


@pytest.mark.parametrize("target", [Tile(1, 0, 2), Tile(0, 2, 188)])
def test_a_changed_tile_the_root_is_computed_from_fails_the_root(target):
    tree = MemoryTree(leaves(700))
    root = merkle.subtree_hash_from(tree.perfect)(0, 700)
    with pytest.raises(TileError, match="do not give the checkpoint's root"):
        TileHashes(700, altered_reader(tree.reader(700), target, position=1), root=root)


def test_entries_are_checked_against_the_authenticated_level0_tile():
    entries = leaves(300)
    tree = MemoryTree(entries)
    hashes = TileHashes(300, tree.reader(300), root=merkle.subtree_hash_from(tree.perfect)(0, 300))
    hashes.check_entries(Tile(0, 0, entries=True), entries[:256])
    hashes.check_entries(Tile(0, 1, 44, entries=True), entries[256:])
    changed = [*entries[:256]]
    changed[17] = b"entry 17!"
    with pytest.raises(TileError, match="entry 17 in tile/entries/000 does not match"):
        hashes.check_entries(Tile(0, 0, entries=True), changed)
    with pytest.raises(TileError, match="holds 255 entries, not 256"):
        hashes.check_entries(Tile(0, 0, entries=True), entries[:255])


def test_a_tile_of_the_wrong_length_is_refused():
    tree = MemoryTree(leaves(600))
    read = tree.reader(600)
    hashes = TileHashes(600, lambda tile: read(tile)[:-1] if tile.is_full else read(tile))
    with pytest.raises(TileError, match="8192 bytes, not 8191"):
        hashes.tile(Tile(0, 1))


def test_tile_for_hash_maps_subtrees_into_tiles():
    # L3#40 covers leaves 320..327: level-0 tile 1, positions 64..71.
    assert tile_for_hash(3, 40, 1000) == (Tile(0, 1), 64, 8)
    # L8#2 is hash 2 of level-1 tile 0, which at size 1000 holds 3 hashes.
    assert tile_for_hash(8, 2, 1000) == (Tile(1, 0, 3), 2, 1)
    with pytest.raises(TileError):
        tile_for_hash(8, 3, 1000)


# --- entry bundles ---


def test_entry_bundle_round_trip_and_layout():
    entries = [b"", b"a", b"x" * 300, "é".encode()]
    data = encode_entry_bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a"
    assert data[5:7] == struct.pack(">H", 300)
    assert decode_entry_bundle(data) == entries
    assert decode_entry_bundle(data, 4) == entries


def test_entry_bundle_hashes_to_the_level0_tile():
    entries = leaves(256)
    tree = MemoryTree(entries)
    bundle = decode_entry_bundle(encode_entry_bundle(entries), TILE_WIDTH)
    tile = decode_tile(tile_data(Tile(0, 0), tree.perfect), TILE_WIDTH)
    assert [hashlib.sha256(b"\x00" + e).digest() for e in bundle] == tile


@pytest.mark.parametrize(
    ("data", "width", "message"),
    [
        (b"\x00", None, "inside a length prefix"),
        (b"\x00\x05abc", None, "cut short"),
        (b"\x00\x01a\x00", None, "inside a length prefix"),
        (b"\x00\x01a", 2, "holds 1 entries, not 2"),
        (b"", None, "not empty"),
        (b"\x00\x00" * 257, None, "at most 256"),
    ],
)
def test_bad_entry_bundles_are_refused(data, width, message):
    with pytest.raises(TileError, match=message):
        decode_entry_bundle(data, width)


def test_entries_too_long_or_too_many_are_refused():
    with pytest.raises(TileError, match="at most 65535 bytes"):
        encode_entry_bundle([bytes(65_536)])
    assert decode_entry_bundle(encode_entry_bundle([bytes(65_535)])) == [bytes(65_535)]
    with pytest.raises(TileError, match=r"1\.\.256 entries"):
        encode_entry_bundle([b"a"] * 257)
    with pytest.raises(TileError, match=r"1\.\.256 entries"):
        encode_entry_bundle([])


def test_tiles_refuse_bad_hashes_and_widths():
    with pytest.raises(TileError):
        encode_tile([bytes(31)])
    with pytest.raises(TileError):
        encode_tile([])
    with pytest.raises(TileError):
        Tile(0, 0, 0)
    with pytest.raises(TileError):
        Tile(1, 0, entries=True)
