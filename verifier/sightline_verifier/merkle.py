"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and verification.

Over 500 lines: the tree's hashing, incremental building, proof generation and proof checking
are one definition that the server and every verifier share; split, a reader would have to hold
four files side by side to check one RFC section.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TreeBuilder",
    "canonical_json",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "needed_subtrees_for_consistency",
    "needed_subtrees_for_inclusion",
    "node_hash",
    "perfect_subtrees",
    "perfect_subtrees_for_ranges",
    "root_from_leaf_hashes",
    "split_point",
    "subtree_hash_from",
    "verify_consistency",
    "verify_inclusion",
]

#: Size in bytes of every hash handled by this module (SHA-256).
HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256

#: MTH({}) -- the root of the empty tree, SHA-256 of the empty string.
EMPTY_ROOT: bytes = _sha256(b"").digest()

#: A lookup ``subtree_hash(start, end)`` returning MTH(D[start:end]).
SubtreeHash = Callable[[int, int], bytes]
#: A lookup ``perfect(level, index)`` returning the hash of the perfect,
#: aligned subtree over leaves [index * 2**level, (index + 1) * 2**level).
PerfectHash = Callable[[int, int], bytes]


# --------------------------------------------------------------------------
# Hashing primitives
# --------------------------------------------------------------------------


def leaf_hash(leaf_bytes: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || leaf_bytes)."""
    return _sha256(_LEAF_PREFIX + leaf_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """Return k, the largest power of two strictly smaller than ``n``.

    This is the RFC 6962 split: MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n])).
    Raises ValueError when ``n < 2`` (no such split exists).
    """
    if n < 2:
        raise ValueError(f"split_point needs n >= 2, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


def _check_digest(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")


# --------------------------------------------------------------------------
# Tree roots
# --------------------------------------------------------------------------


def _fold_frontier(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree roots (left to right, decreasing size) right to left."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = _sha256(_NODE_PREFIX + h + root).digest()
    return root


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return MTH over the given leaf hashes (EMPTY_ROOT for no leaves).

    Runs in O(n) time and O(log n) memory: perfect subtrees are merged on a
    stack as leaves arrive (binary-counter style), and the final root is the
    right-to-left fold of the remaining perfect-subtree roots, which is exactly
    the RFC 6962 tree. Every leaf hash must be a 32-byte ``bytes`` value
    (ValueError otherwise).
    """
    sha = _sha256
    prefix = _NODE_PREFIX
    stack: list[bytes] = []
    push = stack.append
    pop = stack.pop
    for count, h in enumerate(hashes, start=1):
        if type(h) is not bytes or len(h) != HASH_SIZE:
            _check_digest(h, "leaf hash")
        # Merge once per trailing zero bit of the new count: each one closes a
        # perfect subtree of the next level.
        c = count
        while not c & 1:
            h = sha(prefix + pop() + h).digest()
            c >>= 1
        push(h)
    return _fold_frontier(stack)


class TreeBuilder:
    """Incremental RFC 6962 tree: append leaf hashes, read the root at any size.

    Memory is O(log n): only the frontier (the roots of the perfect subtrees
    that make up the current size, one per set bit of ``size``) is kept.
    """

    __slots__ = ("_hashes", "_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[int] = []
        self._hashes: list[bytes] = []
        self._size = 0

    @classmethod
    def from_frontier(cls, frontier: Iterable[tuple[int, bytes]]) -> TreeBuilder:
        """Resume a builder from a saved ``frontier()`` (levels strictly decreasing).

        The resulting ``size`` is the sum of 2**level. Raises ValueError if the
        levels are not strictly decreasing non-negative ints or a hash is not
        32 bytes.
        """
        builder = cls()
        previous: int | None = None
        for level, digest in frontier:
            if not isinstance(level, int) or level < 0:
                raise ValueError("frontier levels must be non-negative ints")
            if previous is not None and level >= previous:
                raise ValueError("frontier levels must be strictly decreasing")
            _check_digest(digest, "frontier hash")
            builder._levels.append(level)
            builder._hashes.append(digest)
            builder._size += 1 << level
            previous = level
        return builder

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash (32 bytes) and return the subtrees it completed.

        The return value lists every perfect aligned subtree that became
        complete with this leaf, as ``(level, index, hash)`` from the leaf
        itself (level 0) upwards; the subtree covers leaves
        [index * 2**level, (index + 1) * 2**level). A database layer can store
        these to later serve ``subtree_hash_from`` lookups.
        """
        return self.append_subtree(0, leaf_hash)

    def append_subtree(self, level: int, digest: bytes) -> list[tuple[int, int, bytes]]:
        """Append the root of a whole perfect subtree of 2**level leaves at the current size.

        Same as appending its 2**level leaves one by one, as far as the frontier and the
        subtrees completed above ``level`` go: the return value lists ``(level, index, hash)``
        for the appended subtree itself and every subtree it completed, upwards. The size must
        be a multiple of 2**level (the subtree must be aligned); ValueError otherwise.
        """
        _check_digest(digest, "subtree hash")
        if not isinstance(level, int) or level < 0:
            raise ValueError("subtree level must be a non-negative int")
        position = self._size
        if position % (1 << level):
            raise ValueError(f"a subtree of level {level} cannot start at leaf {position}")
        completed = [(level, position >> level, digest)]
        h = digest
        levels = self._levels
        hashes = self._hashes
        while levels and levels[-1] == level:
            levels.pop()
            h = node_hash(hashes.pop(), h)
            level += 1
            completed.append((level, position >> level, h))
        levels.append(level)
        hashes.append(h)
        self._size = position + (1 << completed[0][0])
        return completed

    def root(self) -> bytes:
        """Return MTH of all leaves appended so far (EMPTY_ROOT when empty)."""
        return _fold_frontier(self._hashes)

    def frontier(self) -> list[tuple[int, bytes]]:
        """Return ``(level, hash)`` of the current perfect subtrees, left to right.

        Levels are strictly decreasing and correspond to the set bits of
        ``size``; the i-th entry covers the leaves right after the previous one.
        """
        return list(zip(self._levels, self._hashes, strict=True))


# --------------------------------------------------------------------------
# Subtree decomposition
# --------------------------------------------------------------------------


def _check_range(start: int, end: int) -> None:
    if start < 0 or end < start:
        raise ValueError(f"invalid leaf range [{start}, {end})")


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Return the perfect aligned subtrees ``subtree_hash_from`` reads for [start, end).

    Each entry is ``(level, index)``, covering leaves
    [index * 2**level, (index + 1) * 2**level); entries are disjoint, listed
    left to right, and together cover exactly [start, end). They are the leaves
    of the RFC 6962 split recursion over that range, stopping at any range that
    already is a perfect aligned subtree.

    For the ranges RFC 6962 proofs use (``start`` a multiple of a power of two
    that is >= ``end - start``, e.g. [0, n) or any range the PATH/SUBPROOF
    recursion produces) this is the binary decomposition of ``end - start``,
    largest first, and MTH(D[start:end]) is the right-to-left fold of these
    subtree hashes. Empty ranges yield ``[]``.
    """
    _check_range(start, end)
    out: list[tuple[int, int]] = []
    # Explicit stack of ranges still to decompose, processed left to right.
    todo = [(start, end)]
    while todo:
        lo, hi = todo.pop()
        n = hi - lo
        if n == 0:
            continue
        if n & (n - 1) == 0 and lo % n == 0:
            out.append((n.bit_length() - 1, lo // n))
            continue
        mid = lo + split_point(n)
        todo.append((mid, hi))
        todo.append((lo, mid))
    return out


def perfect_subtrees_for_ranges(
    ranges: Iterable[tuple[int, int]],
) -> list[tuple[int, int]]:
    """Return the sorted, de-duplicated ``(level, index)`` set needed for ``ranges``.

    Convenience for batch-fetching every stored perfect subtree a proof needs,
    e.g. ``perfect_subtrees_for_ranges(needed_subtrees_for_inclusion(i, n))``.
    """
    needed: set[tuple[int, int]] = set()
    for start, end in ranges:
        needed.update(perfect_subtrees(start, end))
    return sorted(needed)


def subtree_hash_from(perfect: PerfectHash) -> SubtreeHash:
    """Build ``subtree_hash(start, end)`` = MTH(D[start:end]) from perfect subtrees.

    ``perfect(level, index)`` must return the hash of the perfect subtree of
    2**level leaves starting at leaf index * 2**level (level 0 = leaf hashes).
    The returned function follows the RFC 6962 recursion: a range that is a
    perfect aligned subtree is looked up directly, otherwise it is split at
    k = split_point(n) and the halves are combined with ``node_hash``.

    Every range the RFC 6962 PATH/SUBPROOF recursion produces (and every
    [0, n)) has a left half that is itself a perfect aligned subtree, so it
    costs at most one lookup per level (O(log n)), namely the ranges listed by
    ``perfect_subtrees(start, end)``. Other ranges are still computed
    correctly but may need lower-level lookups. An empty range returns
    EMPTY_ROOT. Errors raised by ``perfect`` (e.g. KeyError for a missing
    node) propagate; ValueError is raised for an invalid range.
    """

    def compute(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return perfect(n.bit_length() - 1, lo // n)
        mid = lo + split_point(n)
        return node_hash(compute(lo, mid), compute(mid, hi))

    def subtree_hash(start: int, end: int) -> bytes:
        _check_range(start, end)
        if start == end:
            return EMPTY_ROOT
        return compute(start, end)

    return subtree_hash


# --------------------------------------------------------------------------
# Proof generation (RFC 6962 section 2.1.1 PATH and 2.1.2 PROOF/SUBPROOF)
# --------------------------------------------------------------------------


def needed_subtrees_for_inclusion(index: int, size: int) -> list[tuple[int, int]]:
    """Return the (start, end) ranges whose MTH make up PATH(index, D[size]).

    The list is in proof order (leaf's sibling first, root's child last), so
    ``inclusion_proof`` is ``[subtree_hash(s, e) for s, e in ranges]``.
    Raises ValueError unless 0 <= index < size.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} not in tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + split_point(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """Return the RFC 6962 audit path PATH(index, D[size]) for leaf ``index``.

    ``subtree_hash(start, end)`` must return MTH(D[start:end]); it is called
    once per range of ``needed_subtrees_for_inclusion(index, size)``. A tree
    of size 1 gives an empty proof. Raises ValueError unless
    0 <= index < size.
    """
    return [subtree_hash(s, e) for s, e in needed_subtrees_for_inclusion(index, size)]


def needed_subtrees_for_consistency(first: int, second: int) -> list[tuple[int, int]]:
    """Return the (start, end) ranges whose MTH make up PROOF(first, D[second]).

    In proof order, so ``consistency_proof`` is
    ``[subtree_hash(s, e) for s, e in ranges]``. Empty when ``first == 0`` or
    ``first == second`` (nothing to prove). Raises ValueError unless
    0 <= first <= second.
    """
    if not 0 <= first <= second:
        raise ValueError(f"invalid consistency sizes {first} -> {second}")
    if first == 0:
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, second
    m = first  # number of old-tree leaves inside [lo, hi)
    whole_old_subtree = True  # RFC 6962 flag "b"
    while True:
        n = hi - lo
        if m == n:
            if not whole_old_subtree:
                ranges.append((lo, hi))
            break
        k = split_point(n)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            whole_old_subtree = False
    ranges.reverse()
    return ranges


def consistency_proof(first: int, second: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """Return the RFC 6962 consistency proof PROOF(first, D[second]).

    ``subtree_hash(start, end)`` must return MTH(D[start:end]). The proof is
    empty when ``first == second`` (RFC 6962: SUBPROOF(m, D[m], true) = {})
    and, by convention, when ``first == 0`` (every tree extends the empty
    tree, RFC 6962 leaves that case undefined). Raises ValueError unless
    0 <= first <= second.
    """
    return [subtree_hash(s, e) for s, e in needed_subtrees_for_consistency(first, second)]


# --------------------------------------------------------------------------
# Verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2)
# --------------------------------------------------------------------------


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_digest(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _as_digest_list(proof: object) -> list[bytes] | None:
    """Return ``proof`` as a list of 32-byte hashes, or None if malformed."""
    try:
        items = list(proof)  # type: ignore[call-overload]
    except TypeError:
        return None
    if not all(_is_digest(p) for p in items):
        return None
    return items


def verify_inclusion(
    index: int,
    size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
) -> bool:
    """Return True iff ``proof`` shows leaf ``index`` with ``leaf_hash`` is in ``root``.

    Implements RFC 9162 section 2.1.3.2 (it also accepts RFC 6962 paths).
    ``root`` must be the trusted root for ``size``: a path only fixes the
    tree's shape near the leaf, so it can also check out for nearby sizes.
    Never raises: malformed input -- index >= size, size 0, negative or
    non-int numbers, a proof of the wrong length, hashes that are not 32
    bytes -- yields False.
    """
    if not (_is_size(index) and _is_size(size) and index < size):
        return False
    if not (_is_digest(leaf_hash) and _is_digest(root)):
        return False
    path = _as_digest_list(proof)
    if path is None:
        return False

    fn = index
    sn = size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False  # proof longer than the tree is deep
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn != 0 and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Return True iff ``proof`` shows tree ``second`` is an extension of ``first``.

    Implements RFC 9162 section 2.1.4.2 for 0 < first < second. As with
    inclusion, the roots must be the trusted roots for the stated sizes.
    Edge cases:
    ``first == second`` requires an empty proof and equal roots;
    ``first == 0`` requires an empty proof and ``first_root == EMPTY_ROOT``.
    Never raises: malformed input (first > second, negative or non-int
    sizes, wrong proof length, hashes that are not 32 bytes) yields False.
    """
    if not (_is_size(first) and _is_size(second) and first <= second):
        return False
    if not (_is_digest(first_root) and _is_digest(second_root)):
        return False
    path = _as_digest_list(proof)
    if path is None:
        return False

    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path and first_root == EMPTY_ROOT
    if not path:
        return False

    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn = first - 1
    sn = second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # proof too long
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn != 0 and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --------------------------------------------------------------------------
# Canonical serialisation
# --------------------------------------------------------------------------


def canonical_json(obj: Any) -> bytes:
    """Return the canonical UTF-8 JSON encoding of ``obj`` used for leaf data.

    Keys sorted, no whitespace, non-ASCII kept as UTF-8 (not \\u escapes).
    NaN and infinities are rejected with ValueError (they are not JSON).
    This is deterministic for a given Python value but is not RFC 8785 JCS.
    """
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")
