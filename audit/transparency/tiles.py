"""The log as C2SP tiles (c2sp.org/tlog-tiles): which tiles are published, and their bytes.

A level-``l`` tile holds the hashes the tree stores at level ``8*l``: entries' leaf hashes at
level 0, ``MerkleNode`` rows above; each tile is one indexed range read. Only tiles of published
trees exist: a full tile once a published head covers it, a partial tile only at the widths some
published head's size gives it (the spec lets clients fetch no other partial tile).
"""

from sightline_verifier.leaf import entry_leaf_bytes
from sightline_verifier.tiles import Tile, encode_entry_bundle, parse_tile_path

from audit.models import MerkleNode, QueryLogEntry, SignedTreeHead
from audit.transparency.selectors import latest_tree_size


class TileNotPublished(LookupError):
    """No published tree head has this tile (or not at this width)."""


def _hash_range(tile: Tile) -> tuple[int, int]:
    """The tile's hashes as a range of indexes at its tree level."""
    return tile.first, tile.first + tile.width


def is_published(tile: Tile) -> bool:
    """True when a published tree head has this tile at exactly this width."""
    # The tile's last hash covers the leaves up to `end`; a hash of level l covers 256**l.
    end = (tile.first + tile.width) << tile.tree_level
    if tile.is_full:
        return end <= (latest_tree_size() or 0)
    # A partial tile of width W exists at the sizes s with floor(s / 256**l) = first + W.
    step = 1 << tile.tree_level
    return SignedTreeHead.objects.filter(tree_size__gte=end, tree_size__lt=end + step).exists()


def published_tile(path: str, *, entries: bool) -> Tile:
    """The tile of a request path if it is published; TileNotPublished otherwise.

    ``path`` is the part after ``tile/`` (``0/x001/234`` or ``entries/001.p/7``); a malformed
    path raises the package's TileError.
    """
    tile = parse_tile_path(f"tile/{path}")
    if tile.entries != entries or not is_published(tile):
        raise TileNotPublished(path)
    return tile


def hash_tile_bytes(tile: Tile) -> bytes:
    """A hash tile's bytes: its hashes read in one query from the stored tree."""
    start, end = _hash_range(tile)
    if tile.level == 0:
        rows = (
            QueryLogEntry.objects.filter(sequence__gte=start, sequence__lt=end)
            .order_by("sequence")
            .values_list("leaf_hash", flat=True)
        )
    else:
        rows = (
            MerkleNode.objects.filter(level=tile.tree_level, index__gte=start, index__lt=end)
            .order_by("index")
            .values_list("hash", flat=True)
        )
    hashes = [bytes.fromhex(digest) for digest in rows]
    if len(hashes) != tile.width:
        raise LookupError(f"The stored tree lacks hashes of {tile.path} ({len(hashes)} found)")
    return b"".join(hashes)


def entry_bundle_bytes(tile: Tile) -> bytes:
    """An entry bundle: the public leaves' canonical bytes, each prefixed by its uint16 length."""
    start, end = _hash_range(tile)
    entries = list(
        QueryLogEntry.objects.filter(sequence__gte=start, sequence__lt=end).order_by("sequence")
    )
    if len(entries) != tile.width:
        raise LookupError(f"The log lacks entries of {tile.path} ({len(entries)} found)")
    return encode_entry_bundle(entry_leaf_bytes(entry) for entry in entries)
