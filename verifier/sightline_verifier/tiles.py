"""C2SP tiled logs (c2sp.org/tlog-tiles): tile paths, tile sets, tile data and entry bundles.

Tiles have height 8: a level-``l`` tile holds up to 256 hashes of perfect subtrees of
``256**l`` leaves, i.e. the RFC 6962 tree's hashes at tree level ``8*l``. Every hash a root or
proof needs is either such a hash or the root of a small subtree inside one tile, so a client
that fetches the tiles listed here can compute any root, inclusion or consistency proof.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sightline_verifier import merkle
from sightline_verifier.merkle import HASH_SIZE, PerfectHash

__all__ = [
    "ENTRY_MAX_BYTES",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "TileHashes",
    "consistency_proof_from_tiles",
    "decode_entry_bundle",
    "decode_tile",
    "encode_entry_bundle",
    "encode_tile",
    "entry_bundles_for_size",
    "format_index",
    "inclusion_proof_from_tiles",
    "parse_index",
    "parse_tile_path",
    "root_from_tiles",
    "tile_data",
    "tile_for_hash",
    "tiles_for_consistency",
    "tiles_for_inclusion",
    "tiles_for_root",
    "tiles_for_size",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: Tile levels are 0..63 in paths.
MAX_LEVEL = 63
#: An entry in a bundle is prefixed by a uint16 length.
ENTRY_MAX_BYTES = 0xFFFF


class TileError(ValueError):
    """A tile path, tile or entry bundle is malformed, or a tile the tree needs is missing."""


@dataclass(frozen=True, order=True)
class Tile:
    """One hash tile (``entries`` False) or entry bundle (``entries`` True) of a tree.

    ``index`` counts tiles at ``level`` from the left; ``width`` (1..256) is how many hashes or
    entries it holds, 256 for a full tile. An entry bundle has level 0 and mirrors the level-0
    hash tile of the same index and width.
    """

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise TileError(f"tile level {self.level} is not in 0..{MAX_LEVEL}")
        if self.entries and self.level != 0:
            raise TileError("entry bundles are level 0")
        if self.index < 0:
            raise TileError("a tile index is non-negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"a tile width is 1..{TILE_WIDTH}")

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The path under the log prefix: ``tile/0/x001/x234/067.p/5``, ``tile/entries/…``."""
        kind = "entries" if self.entries else str(self.level)
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{kind}/{format_index(self.index)}{suffix}"

    @property
    def tree_level(self) -> int:
        """The RFC 6962 tree level of the hashes in this tile (0 = leaf hashes)."""
        return self.level * TILE_HEIGHT

    @property
    def first(self) -> int:
        """Index, among the hashes of ``tree_level``, of this tile's first hash."""
        return self.index * TILE_WIDTH

    def full(self) -> Tile:
        return Tile(self.level, self.index, TILE_WIDTH, self.entries)

    def hash_tile(self) -> Tile:
        """The level-0 hash tile an entry bundle hashes to (itself for a hash tile)."""
        return Tile(self.level, self.index, self.width)


def format_index(index: int) -> str:
    """A tile index in 3-digit groups, all but the last prefixed ``x``: 1234067 → x001/x234/067."""
    if index < 0:
        raise TileError("a tile index is non-negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_index(text: str) -> int:
    """The tile index of its path form; only the canonical form is accepted."""
    groups = text.split("/")
    value = 0
    for position, group in enumerate(groups):
        digits = group[1:] if position < len(groups) - 1 and group.startswith("x") else group
        if position < len(groups) - 1 and not group.startswith("x"):
            raise TileError(f"tile index {text!r}: every group but the last starts with 'x'")
        if len(digits) != 3 or not digits.isascii() or not digits.isdigit():
            raise TileError(f"tile index {text!r}: groups are three digits")
        value = value * 1000 + int(digits)
    if format_index(value) != text:
        raise TileError(f"tile index {text!r} is not in canonical form")
    return value


def parse_tile_path(path: str) -> Tile:
    """The tile of ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (prefix removed)."""
    if not path.startswith("tile/"):
        raise TileError(f"{path!r} is not a tile path")
    kind, slash, rest = path[len("tile/") :].partition("/")
    if not slash:
        raise TileError(f"{path!r} is not a tile path")
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, width_text = rest.partition(".p/")
        if not width_text.isascii() or not width_text.isdigit() or width_text.startswith("0"):
            raise TileError(f"{path!r}: a partial width is a decimal without leading zeros")
        width = int(width_text)
        if not 1 <= width < TILE_WIDTH:
            raise TileError(f"{path!r}: a partial width is 1..{TILE_WIDTH - 1}")
    index = parse_index(rest)
    if kind == "entries":
        return Tile(0, index, width, entries=True)
    if not kind.isascii() or not kind.isdigit() or (len(kind) > 1 and kind[0] == "0"):
        raise TileError(f"{path!r}: the level is a decimal without leading zeros")
    level = int(kind)
    if level > MAX_LEVEL:
        raise TileError(f"{path!r}: the level is 0..{MAX_LEVEL}")
    return Tile(level, index, width)


# --- which tiles a tree has --------------------------------------------------------------------


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile of the tree of ``size`` leaves, full and partial, level by level.

    A level-``l`` tile is partial when ``floor(size / 256**l) mod 256`` hashes remain after the
    full ones; empty tiles do not exist (the spec's example: 70,000 → 273 full level-0 tiles,
    ``0/x273.p/112``, one full level-1 tile, ``1/001.p/17``, ``2/000.p/1``).
    """
    if size < 0:
        raise TileError("a tree size is non-negative")
    out: list[Tile] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes = size >> (TILE_HEIGHT * level)
        full, width = divmod(hashes, TILE_WIDTH)
        out.extend(Tile(level, index) for index in range(full))
        if width:
            out.append(Tile(level, full, width))
        level += 1
    return out


def entry_bundles_for_size(size: int) -> list[Tile]:
    """Every entry bundle of the tree of ``size`` leaves (the last one partial if need be)."""
    return [
        Tile(0, tile.index, tile.width, entries=True)
        for tile in tiles_for_size(size)
        if tile.level == 0
    ]


def tile_for_hash(tree_level: int, index: int, size: int) -> tuple[Tile, int, int]:
    """Where the perfect subtree (tree_level, index) of a tree of ``size`` is found in tiles.

    Returns ``(tile, start, count)``: the subtree's hash is the RFC 6962 root of the ``count``
    hashes from position ``start`` of that tile (count is 1 when tree_level is a multiple of 8).
    The tile's width is the one it has at ``size``. Raises TileError when the subtree is not
    inside the tree.
    """
    if tree_level < 0 or index < 0 or (index + 1) << tree_level > size:
        raise TileError(f"the subtree L{tree_level}#{index} is not in a tree of size {size}")
    level, height = divmod(tree_level, TILE_HEIGHT)
    count = 1 << height
    first = index << height  # among the hashes of tree level 8*level
    tile_index, start = divmod(first, TILE_WIDTH)
    hashes = size >> (TILE_HEIGHT * level)
    width = min(TILE_WIDTH, hashes - tile_index * TILE_WIDTH)
    return Tile(level, tile_index, width), start, count


def _tiles_for_ranges(ranges: Iterable[tuple[int, int]], size: int) -> list[Tile]:
    needed = {
        tile_for_hash(level, index, size)[0]
        for level, index in merkle.perfect_subtrees_for_ranges(ranges)
    }
    return sorted(needed)


def tiles_for_root(size: int) -> list[Tile]:
    """The hash tiles from which the root of the tree of ``size`` leaves is computed."""
    return _tiles_for_ranges([(0, size)] if size else [], size)


def tiles_for_inclusion(index: int, size: int) -> list[Tile]:
    """The hash tiles holding the inclusion proof of leaf ``index`` in the tree of ``size``."""
    return _tiles_for_ranges(merkle.needed_subtrees_for_inclusion(index, size), size)


def tiles_for_consistency(first: int, second: int) -> list[Tile]:
    """The hash tiles holding the consistency proof from size ``first`` to size ``second``."""
    return _tiles_for_ranges(merkle.needed_subtrees_for_consistency(first, second), second)


# --- tile data ---------------------------------------------------------------------------------


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    """A hash tile's bytes: its 1..256 hashes, 32 bytes each, concatenated."""
    if not 1 <= len(hashes) <= TILE_WIDTH:
        raise TileError(f"a tile holds 1..{TILE_WIDTH} hashes")
    for digest in hashes:
        if len(digest) != HASH_SIZE:
            raise TileError(f"tile hashes are {HASH_SIZE} bytes")
    return b"".join(hashes)


def decode_tile(data: bytes, width: int) -> list[bytes]:
    """The hashes of a tile of ``width`` hashes; its length must be exactly 32 * width."""
    if len(data) != width * HASH_SIZE:
        raise TileError(f"a tile of width {width} is {width * HASH_SIZE} bytes, not {len(data)}")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tile_data(tile: Tile, perfect: PerfectHash) -> bytes:
    """A hash tile's bytes from ``perfect(tree_level, index)``, the stored subtree hashes."""
    level = tile.tree_level
    return encode_tile([perfect(level, tile.first + i) for i in range(tile.width)])


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries as a bundle: each one ``uint16 big-endian length || bytes``."""
    out = bytearray()
    count = 0
    for entry in entries:
        if len(entry) > ENTRY_MAX_BYTES:
            raise TileError(f"an entry is at most {ENTRY_MAX_BYTES} bytes, not {len(entry)}")
        out += struct.pack(">H", len(entry))
        out += entry
        count += 1
    if not 1 <= count <= TILE_WIDTH:
        raise TileError(f"a bundle holds 1..{TILE_WIDTH} entries")
    return bytes(out)


def decode_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """The entries of a bundle; with ``width``, exactly that many, nothing after the last."""
    entries: list[bytes] = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise TileError("the entry bundle ends inside a length prefix")
        (length,) = struct.unpack_from(">H", data, position)
        position += 2
        if position + length > len(data):
            raise TileError(f"entry {len(entries)} of the bundle is cut short")
        entries.append(data[position : position + length])
        position += length
        if len(entries) > TILE_WIDTH:
            raise TileError(f"a bundle holds at most {TILE_WIDTH} entries")
    if width is not None and len(entries) != width:
        raise TileError(f"the bundle holds {len(entries)} entries, not {width}")
    if not entries:
        raise TileError("an entry bundle is not empty")
    return entries


# --- roots and proofs from tiles ---------------------------------------------------------------


class TileHashes:
    """Subtree hashes of a tree of ``size`` leaves, read from its hash tiles on demand.

    ``read(tile)`` returns a tile's bytes (from a server, a mirror or memory); each tile is read
    at most once and its length checked. Given the trusted ``root`` (from a verified
    checkpoint), every tile is authenticated before use: the tiles the root is computed from
    must give that root, and any other (full) tile must hash to its entry in the tile above,
    itself authenticated the same way; a mismatch raises TileError. Without ``root`` nothing
    read is trusted by itself.
    """

    def __init__(
        self, size: int, read: Callable[[Tile], bytes], *, root: bytes | None = None
    ) -> None:
        if size < 0:
            raise TileError("a tree size is non-negative")
        self.size = size
        self._read = read
        self._tiles: dict[Tile, list[bytes]] = {}
        self._subtrees: dict[tuple[int, int], bytes] = {}
        self._root: bytes | None = None
        if root is not None:
            computed = self.subtree_hash()(0, size)
            if computed != root:
                raise TileError(f"the tiles of size {size} do not give the checkpoint's root")
            # Every hash of the tiles read so far went into the root.
            self._root = root

    def tile(self, tile: Tile) -> list[bytes]:
        """The hashes of a tile of this tree (authenticated when the root was given)."""
        hashes = self._tiles.get(tile)
        if hashes is None:
            hashes = decode_tile(self._read(tile), tile.width)
            if self._root is not None:
                self._authenticate(tile, hashes)
            self._tiles[tile] = hashes
        return hashes

    def _authenticate(self, tile: Tile, hashes: list[bytes]) -> None:
        if not tile.is_full:
            # A partial tile of this size is among those the root was computed from.
            raise TileError(f"{tile.path} is not a tile of the tree of size {self.size}")
        parent, position, _ = tile_for_hash(tile.tree_level + TILE_HEIGHT, tile.index, self.size)
        if merkle.root_from_leaf_hashes(hashes) != self.tile(parent)[position]:
            raise TileError(f"{tile.path} does not match its hash in {parent.path}")

    def perfect(self, tree_level: int, index: int) -> bytes:
        """The hash of the perfect subtree (tree_level, index), a ``merkle.PerfectHash``."""
        tile, start, count = tile_for_hash(tree_level, index, self.size)
        if count == 1:
            return self.tile(tile)[start]
        # A subtree inside a tile is hashed once, however many proofs use it.
        digest = self._subtrees.get((tree_level, index))
        if digest is None:
            digest = merkle.root_from_leaf_hashes(self.tile(tile)[start : start + count])
            self._subtrees[(tree_level, index)] = digest
        return digest

    def subtree_hash(self) -> merkle.SubtreeHash:
        return merkle.subtree_hash_from(self.perfect)

    def check_entries(self, bundle: Tile, entries: Sequence[bytes]) -> None:
        """Raise TileError unless the entries hash to the level-0 tile of the bundle."""
        expected = self.tile(bundle.hash_tile())
        if len(entries) != len(expected):
            raise TileError(f"{bundle.path} holds {len(entries)} entries, not {len(expected)}")
        for offset, (entry, digest) in enumerate(zip(entries, expected, strict=True)):
            if merkle.leaf_hash(entry) != digest:
                raise TileError(
                    f"entry {bundle.first + offset} in {bundle.path} does not match its leaf hash"
                )


def root_from_tiles(size: int, read: Callable[[Tile], bytes]) -> bytes:
    """The RFC 6962 root of the tree of ``size`` leaves, computed from its tiles."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return TileHashes(size, read).subtree_hash()(0, size)


def inclusion_proof_from_tiles(index: int, size: int, read: Callable[[Tile], bytes]) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree of ``size``, from its tiles."""
    return merkle.inclusion_proof(index, size, TileHashes(size, read).subtree_hash())


def consistency_proof_from_tiles(
    first: int, second: int, read: Callable[[Tile], bytes]
) -> list[bytes]:
    """The consistency proof from ``first`` to ``second`` leaves, from the tiles of ``second``."""
    return merkle.consistency_proof(first, second, TileHashes(second, read).subtree_hash())
