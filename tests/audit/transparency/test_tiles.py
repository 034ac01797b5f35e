"""The log as C2SP tiles: stored tiles give every root and proof, and /tlog/ serves them.

Roots and proofs are recomputed from the served tiles with the verifier package's own tile
reader, and compared with the JSON API's roots and proofs (computed from the stored subtrees)
and with roots recomputed here from the entries' leaf hashes.
"""

import gzip

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from sightline_verifier import merkle
from sightline_verifier.leaf import entry_leaf_bytes
from sightline_verifier.tiles import (
    Tile,
    TileError,
    TileHashes,
    consistency_proof_from_tiles,
    decode_entry_bundle,
    decode_tile,
    entry_bundles_for_size,
    inclusion_proof_from_tiles,
    tiles_for_size,
)

from audit.log.db import create_append_only_triggers, drop_append_only_triggers
from audit.models import QueryLogEntry
from audit.transparency import selectors, tiles
from tests.audit.transparency.tlog import grow

SIZE = 2100  # eight full level-0 tiles, a partial one, and a partial level-1 tile
TLOG = "/tlog"


@pytest.fixture
def log(integration):
    grow(integration, SIZE)
    return [bytes.fromhex(h) for h in QueryLogEntry.objects.values_list("leaf_hash", flat=True)]


def memo_reader():
    """Stored tiles by value (a tile's bytes depend only on its level, index and width)."""
    cache: dict[Tile, bytes] = {}

    def read(tile: Tile) -> bytes:
        if tile not in cache:
            cache[tile] = tiles.hash_tile_bytes(tile)
        return cache[tile]

    return read


def test_stored_tiles_give_every_root_and_proof_up_to_the_size(log):
    read = memo_reader()
    roots = [merkle.EMPTY_ROOT]
    builder = merkle.TreeBuilder()
    for leaf in log:
        builder.append(leaf)
        roots.append(builder.root())
    for size in range(1, SIZE + 1):
        hashes = TileHashes(size, read, root=roots[size])  # raises unless the root matches
        subtree = hashes.subtree_hash()
        for index in {0, size // 2, size - 1}:
            proof = merkle.inclusion_proof(index, size, subtree)
            assert merkle.verify_inclusion(index, size, log[index], proof, roots[size])
        for first in {1, size // 3, size - 1} - {0}:
            proof = merkle.consistency_proof(first, size, subtree)
            assert merkle.verify_consistency(first, size, roots[first], roots[size], proof)
    # Each tile is only a re-encoding of the same stored tree the JSON API reads.
    for size in (1, 255, 256, 257, 1000, SIZE):
        assert selectors.root_at(size) == roots[size]
        assert [bytes.fromhex(h) for h in selectors.inclusion_proof(size - 1, size)] == (
            inclusion_proof_from_tiles(size - 1, size, read)
        )
        assert [bytes.fromhex(h) for h in selectors.consistency_proof(1, size)] == (
            consistency_proof_from_tiles(1, size, read)
        )


def test_a_tile_is_one_query(log):
    with CaptureQueriesContext(connection) as queries:
        data = tiles.hash_tile_bytes(Tile(1, 0, 8))
    assert len(queries) == 1
    assert len(data) == 8 * 32
    with CaptureQueriesContext(connection) as queries:
        tiles.hash_tile_bytes(Tile(0, 3))
    assert len(queries) == 1


def test_entry_bundles_hash_to_the_level0_tiles(log):
    read = memo_reader()
    hashes = TileHashes(SIZE, read, root=selectors.root_at(SIZE))
    for bundle in entry_bundles_for_size(SIZE):
        entries = decode_entry_bundle(tiles.entry_bundle_bytes(bundle), bundle.width)
        hashes.check_entries(bundle, entries)
        assert [merkle.leaf_hash(e) for e in entries] == decode_tile(
            read(bundle.hash_tile()), bundle.width
        )
    first = QueryLogEntry.objects.get(sequence=0)
    assert decode_entry_bundle(tiles.entry_bundle_bytes(Tile(0, 0, entries=True)))[0] == (
        entry_leaf_bytes(first)
    )


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def published(integration):
    """Heads at 300 and 600 entries: partial tiles exist at their widths only."""
    grow(integration, 300)
    grow(integration, 600)


def get(client, path: str, **headers):
    return client.get(f"{TLOG}/{path}", headers=headers)


def test_every_tile_of_a_published_size_is_served(client, published):
    for size in (300, 600):
        for tile in tiles_for_size(size) + entry_bundles_for_size(size):
            response = get(client, tile.path)
            assert response.status_code == 200, tile.path
            assert response["Content-Type"] == "application/octet-stream"
            assert response["Access-Control-Allow-Origin"] == "*"
            expected = (
                tiles.entry_bundle_bytes(tile) if tile.entries else tiles.hash_tile_bytes(tile)
            )
            assert response.content == expected


def test_tiles_served_over_http_give_the_signed_root(client, published):
    def read(tile: Tile) -> bytes:
        response = get(client, tile.path)
        assert response.status_code == 200, tile.path
        return response.content

    for size in (300, 600):
        root = selectors.root_at(size)
        hashes = TileHashes(size, read, root=root)
        for bundle in entry_bundles_for_size(size):
            hashes.check_entries(bundle, decode_entry_bundle(read(bundle), bundle.width))


def test_cache_headers(client, published):
    full = get(client, "tile/0/000")
    assert full["Cache-Control"] == "public, max-age=604800, immutable"
    partial = get(client, "tile/0/002.p/88")
    assert partial.status_code == 200
    assert "immutable" not in partial["Cache-Control"]
    assert "max-age" in partial["Cache-Control"]
    bundle = get(client, "tile/entries/001")
    assert bundle["Cache-Control"] == "public, max-age=604800, immutable"
    assert "Accept-Encoding" in bundle["Vary"]


def test_partial_tiles_exist_only_at_published_widths(client, published):
    # 300 = one full level-0 tile + 44 entries; 600 = two + 88; level 1: 1 then 2 hashes.
    for path in ("tile/0/001.p/44", "tile/1/000.p/1", "tile/0/002.p/88", "tile/1/000.p/2"):
        assert get(client, path).status_code == 200, path
    for path in ("tile/entries/001.p/44", "tile/entries/002.p/88"):
        assert get(client, path).status_code == 200, path
    for path in ("tile/0/001.p/45", "tile/0/002.p/87", "tile/1/000.p/3", "tile/entries/002.p/9"):
        assert get(client, path).status_code == 404, path


def test_other_tiles_are_404(client, published):
    for path in (
        "tile/0/003",  # beyond the published tree
        "tile/1/000",  # a full level-1 tile needs 65,536 entries
        "tile/0/x000/001",  # not canonical
        "tile/00/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/64/000",
        "tile/entries/x001",
        "tile/data/000",
        "tile",
        "tile/entries/000/",
    ):
        assert get(client, path).status_code == 404, path


def test_nothing_is_served_before_a_head_is_published(client, integration):
    grow(integration, 300, publish=False)
    assert get(client, "tile/0/000").status_code == 404
    assert get(client, "tile/entries/000").status_code == 404
    assert get(client, "checkpoint").status_code == 404


def test_tiles_are_read_only(client, published):
    assert client.post(f"{TLOG}/tile/0/000").status_code == 405
    assert client.head(f"{TLOG}/tile/0/000").status_code == 200


def test_entry_bundles_are_gzipped_on_request(client, published):
    plain = get(client, "tile/entries/000")
    packed = get(client, "tile/entries/000", accept_encoding="gzip, identity")
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) // 2
    assert "Content-Encoding" not in plain


def test_a_tile_costs_a_few_queries(client, published):
    with CaptureQueriesContext(connection) as queries:
        assert get(client, "tile/0/001").status_code == 200
    assert len(queries) <= 3
    with CaptureQueriesContext(connection) as queries:
        assert get(client, "tile/0/002.p/88").status_code == 200
    assert len(queries) <= 3


def test_an_entry_changed_in_the_database_no_longer_matches_its_tile(client, published):
    """An entry edited behind the log's back (triggers dropped by deliberate DDL) is served as
    it now is, and a client checking the bundle against the signed tiles catches it."""
    drop_append_only_triggers(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_querylogentry SET case_number = '' WHERE sequence = 301")
    finally:
        create_append_only_triggers(connection)

    def read(tile: Tile) -> bytes:
        return get(client, tile.path).content

    hashes = TileHashes(600, read, root=selectors.root_at(600))
    bundle = Tile(0, 1, entries=True)
    with pytest.raises(TileError, match="entry 301 in tile/entries/001 does not match"):
        hashes.check_entries(bundle, decode_entry_bundle(read(bundle), 256))
