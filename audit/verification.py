"""Full verification of the stored log: leaves, commitments, subtree hashes, state and heads."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

from audit import signing
from audit.leaves import entry_leaf, leaf_hash_hex
from audit.merkle import TreeBuilder
from audit.models import LogState, MerkleNode, QueryLogEntry, SignedTreeHead

CHUNK = 5000
_FIELDS = [
    "sequence",
    "recorded_at",
    "occurred_at",
    "local_date",
    "technology_id",
    "query_type",
    "integration_id",
    "requesting_agency_code",
    "on_behalf_of",
    "operator_badge",
    "supervisor_badge",
    "target_fingerprint",
    "offense_code",
    "offense_category",
    "justification",
    "case_number",
    "scope",
    "result_count",
    "client_ref",
    "salt",
    "leaf_hash",
]


class LogVerificationError(Exception):
    """The stored log does not verify; the message names the first bad sequence or head."""


@dataclass(frozen=True)
class VerifiedLog:
    size: int
    root_hash: str
    heads_checked: int


class _StoredNodes:
    """Streams the stored subtree hashes of each level in index order, one cursor per level."""

    def __init__(self) -> None:
        self._levels: dict[int, Iterator[tuple[int, str]]] = {}

    def next(self, level: int) -> tuple[int, str] | None:
        if level not in self._levels:
            self._levels[level] = (
                MerkleNode.objects.filter(level=level)
                .order_by("index")
                .values_list("index", "hash")
                .iterator(chunk_size=CHUNK)
            )
        return next(self._levels[level], None)

    def levels_started(self) -> list[int]:
        return list(self._levels)


def verify_log(*, progress: Callable[[int], None] = lambda n: None) -> VerifiedLog:
    """Recompute every leaf and subtree from the stored rows and check every published head.

    Each head's signature is checked and its root compared with the root recomputed at its
    size from the same entries, which also proves successive heads consistent. Raises
    LogVerificationError naming the first problem found.
    """
    state = LogState.objects.get(id=1)
    heads = list(SignedTreeHead.objects.order_by("tree_size"))
    public_key = signing.public_key_raw()
    for head in heads:
        if head.key_id != signing.key_id():
            raise LogVerificationError(
                f"Tree head of size {head.tree_size} names key {head.key_id[:16]}…, not ours."
            )
        if not signing.verify_tree_head(
            {
                "tree_size": head.tree_size,
                "root_hash": head.root_hash,
                "timestamp": head.timestamp,
                "signature": head.signature,
            },
            public_key,
        ):
            raise LogVerificationError(f"Tree head of size {head.tree_size}: bad signature.")
    if heads and heads[-1].tree_size > state.size:
        raise LogVerificationError(
            f"Tree head of size {heads[-1].tree_size} was published, but the log holds only "
            f"{state.size} entries: entries were lost (a database restored from an old backup?)."
        )
    pending_heads = iter(heads)
    next_head = next(pending_heads, None)
    if next_head is not None and next_head.tree_size == 0:
        next_head = _check_head(next_head, TreeBuilder(), pending_heads)

    tree = TreeBuilder()
    nodes = _StoredNodes()
    expected = 0
    rows = QueryLogEntry.objects.order_by("sequence").values_list(*_FIELDS)
    done = 0
    for row in rows.iterator(chunk_size=CHUNK):
        entry = SimpleNamespace(**dict(zip(_FIELDS, row, strict=True)))
        if entry.sequence != expected:
            raise LogVerificationError(
                f"Sequence {expected} is missing: the next stored entry is {entry.sequence}."
            )
        if leaf_hash_hex(entry_leaf(entry)) != entry.leaf_hash:
            raise LogVerificationError(
                f"Entry {entry.sequence}: its recorded fields no longer match its leaf hash."
            )
        for level, index, digest in tree.append(bytes.fromhex(entry.leaf_hash)):
            if level == 0:
                continue
            stored = nodes.next(level)
            if stored is None or stored[0] != index or stored[1] != digest.hex():
                first = index << level
                raise LogVerificationError(
                    f"Stored subtree hash L{level}#{index} (entries {first}-"
                    f"{first + (1 << level) - 1}) does not match the entries; first bad "
                    f"sequence {first}."
                )
        expected += 1
        while next_head is not None and next_head.tree_size == tree.size:
            next_head = _check_head(next_head, tree, pending_heads)
        done += 1
        if done == CHUNK:
            progress(done)
            done = 0
    progress(done)

    if expected != state.size:
        raise LogVerificationError(
            f"The log state says {state.size} entries but {expected} are stored."
        )
    for level in nodes.levels_started():
        extra = nodes.next(level)
        if extra is not None:
            raise LogVerificationError(f"Unexpected stored subtree L{level}#{extra[0]}.")
    top = max(nodes.levels_started(), default=0)
    if MerkleNode.objects.filter(level__gt=top).exists():
        raise LogVerificationError("Stored subtrees exist above the tree's height.")
    frontier = [[level, digest.hex()] for level, digest in tree.frontier()]
    if frontier != state.frontier:
        raise LogVerificationError("The log state's frontier does not match the entries.")
    return VerifiedLog(size=expected, root_hash=tree.root().hex(), heads_checked=len(heads))


def _check_head(head: SignedTreeHead, tree: TreeBuilder, rest: Iterator) -> SignedTreeHead | None:
    if tree.root().hex() != head.root_hash:
        raise LogVerificationError(
            f"Tree head of size {head.tree_size} does not match the log's root at that size: "
            "entries before it were changed, or the head was forged."
        )
    return next(rest, None)
