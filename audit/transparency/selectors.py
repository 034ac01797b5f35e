"""Reads of the transparency log: public leaves, stored subtree hashes, roots, proofs, heads."""

from collections.abc import Iterable

from django.db import connection
from sightline_verifier import merkle
from sightline_verifier.leaf import entry_leaf

from audit.models import (
    MerkleNode,
    QueryLogEntry,
    SignedTreeHead,
)

MAX_ENTRIES_PER_PAGE = 1000


def latest_tree_head() -> SignedTreeHead | None:
    return SignedTreeHead.objects.order_by("-tree_size").first()


def latest_tree_size() -> int | None:
    """The latest published head's size in one indexed read (asked on every public page view)."""
    table = SignedTreeHead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(tree_size) FROM {table}")  # noqa: S608 (name from the model)
        return cursor.fetchone()[0]


def tree_head_of_size(tree_size: int) -> SignedTreeHead | None:
    return SignedTreeHead.objects.filter(tree_size=tree_size).first()


def tree_head_document(head: SignedTreeHead) -> dict:
    """A head as published: the signed fields plus signature and key id."""
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "signature": head.signature,
        "key_id": head.key_id,
    }


def public_entries(start: int, end: int) -> list[dict]:
    """Public leaves of entries [start, end), recomputed from the stored rows."""
    rows = QueryLogEntry.objects.filter(sequence__gte=start, sequence__lt=end).order_by("sequence")
    return [{"sequence": e.sequence, "leaf": entry_leaf(e), "leaf_hash": e.leaf_hash} for e in rows]


def perfect_subtree_hashes(positions: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored hashes of perfect subtrees (level, index), in two queries whatever their number."""
    positions = set(positions)
    leaves = [index for level, index in positions if level == 0]
    found: dict[tuple[int, int], bytes] = {}
    if leaves:
        for sequence, digest in QueryLogEntry.objects.filter(sequence__in=leaves).values_list(
            "sequence", "leaf_hash"
        ):
            found[(0, sequence)] = bytes.fromhex(digest)
    nodes = [(level, index) for level, index in positions if level > 0]
    if nodes:
        # One raw query with an OR of exact positions: each term is an index lookup on both
        # databases (SQLite answers a row-value `IN (VALUES ...)` with a full table scan), and
        # building the same OR from Q objects costs more than the lookups themselves.
        table = MerkleNode._meta.db_table
        terms = " OR ".join(['(level = %s AND "index" = %s)'] * len(nodes))
        sql = f'SELECT level, "index", hash FROM {table} WHERE {terms}'  # noqa: S608 (names from the model, values as parameters)
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for node in nodes for value in node])
            for level, index, digest in cursor.fetchall():
                found[(level, index)] = bytes.fromhex(digest)
    missing = positions - found.keys()
    if missing:
        raise LookupError(f"Stored tree is missing subtrees {sorted(missing)[:5]}")
    return found


def _subtree_source(ranges: list[tuple[int, int]]) -> merkle.SubtreeHash:
    stored = perfect_subtree_hashes(merkle.perfect_subtrees_for_ranges(ranges))
    return merkle.subtree_hash_from(lambda level, index: stored[(level, index)])


def root_at(tree_size: int) -> bytes:
    """MTH of the first tree_size entries, from O(log n) stored subtrees."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    return _subtree_source([(0, tree_size)])(0, tree_size)


def inclusion_proof(leaf_index: int, tree_size: int) -> list[str]:
    ranges = merkle.needed_subtrees_for_inclusion(leaf_index, tree_size)
    return [h.hex() for h in merkle.inclusion_proof(leaf_index, tree_size, _subtree_source(ranges))]


def consistency_proof(first: int, second: int) -> list[str]:
    ranges = merkle.needed_subtrees_for_consistency(first, second)
    proof = merkle.consistency_proof(first, second, _subtree_source(ranges))
    return [h.hex() for h in proof]
