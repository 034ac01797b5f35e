"""Tests for audit.merkle against RFC 6962 vectors and a slice-based reference."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from functools import cache
from pathlib import Path

import pytest
from sightline_verifier import merkle
from sightline_verifier.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    canonical_json,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    needed_subtrees_for_consistency,
    needed_subtrees_for_inclusion,
    node_hash,
    perfect_subtrees,
    perfect_subtrees_for_ranges,
    root_from_leaf_hashes,
    split_point,
    subtree_hash_from,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 / RFC 9162 published vectors, kept in the repository (tests/verifier/data).
VECTORS_PATH = Path(__file__).resolve().parent / "data" / "rfc6962_vectors.json"

MAX_EXHAUSTIVE = 64


# --------------------------------------------------------------------------
# Fixtures and an independent reference straight from the RFC 6962 text
# --------------------------------------------------------------------------


@cache
def _vectors() -> dict:
    if not VECTORS_PATH.is_file():
        pytest.fail(f"RFC 6962 test vectors not found at {VECTORS_PATH}")
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def _h(hex_str: str) -> bytes:
    return bytes.fromhex(hex_str)


def _vector_leaf_hashes() -> list[bytes]:
    return [leaf_hash(_h(x)) for x in _vectors()["leaves_hex"]]


def _ref_mth(hashes: list[bytes]) -> bytes:
    """MTH(D[n]) by the literal recursive definition of RFC 6962 section 2.1."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    left = _ref_mth(hashes[:k])
    right = _ref_mth(hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def _ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) by the literal recursive definition (RFC 6962 2.1.1)."""
    n = len(hashes)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_ref_path(m, hashes[:k]), _ref_mth(hashes[k:])]
    return [*_ref_path(m - k, hashes[k:]), _ref_mth(hashes[:k])]


def _ref_subproof(m: int, hashes: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) by the literal recursive definition (RFC 6962 2.1.2)."""
    n = len(hashes)
    if m == n:
        return [] if b else [_ref_mth(hashes)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_ref_subproof(m, hashes[:k], b), _ref_mth(hashes[k:])]
    return [*_ref_subproof(m - k, hashes[k:], False), _ref_mth(hashes[:k])]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(b"leaf-%d" % i) for i in range(n)]


def _perfect_table(hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect aligned subtree (level, index) -> hash over ``hashes``."""
    table: dict[tuple[int, int], bytes] = {}
    level = 0
    while (1 << level) <= len(hashes):
        width = 1 << level
        for index in range(len(hashes) // width):
            table[(level, index)] = _ref_mth(hashes[index * width : (index + 1) * width])
        level += 1
    return table


def _lookup(table: dict[tuple[int, int], bytes]):
    """Adapt a {(level, index): hash} dict to the ``perfect(level, index)`` API."""

    def perfect(level: int, index: int) -> bytes:
        return table[(level, index)]

    return perfect


def _flip(value: bytes, position: int = 0) -> bytes:
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


LEAVES_64 = _leaves(MAX_EXHAUSTIVE)
SOURCE_64 = subtree_hash_from(_lookup(_perfect_table(LEAVES_64)))
ROOTS_64 = {n: _ref_mth(LEAVES_64[:n]) for n in range(MAX_EXHAUSTIVE + 1)}


# --------------------------------------------------------------------------
# Hash primitives
# --------------------------------------------------------------------------


def test_empty_root_is_sha256_of_empty_string():
    assert EMPTY_ROOT.hex() == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert EMPTY_ROOT.hex() == _vectors()["roots_hex"]["0"]


def test_leaf_hash_vectors():
    vectors = _vectors()["leaf_hash_vectors"]
    assert vectors
    for v in vectors:
        assert leaf_hash(_h(v["data_hex"])).hex() == v["hash_hex"]


def test_node_hash_vectors():
    vectors = _vectors()["node_hash_vectors"]
    assert vectors
    for v in vectors:
        assert node_hash(_h(v["left_hex"]), _h(v["right_hex"])).hex() == v["hash_hex"]


def test_leaf_and_node_hash_use_domain_separation():
    data = bytes(range(64))
    assert leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()
    assert node_hash(data[:32], data[32:]) == hashlib.sha256(b"\x01" + data).digest()
    assert leaf_hash(data) != node_hash(data[:32], data[32:])


def test_split_point_matches_brute_force():
    for n in range(2, 2049):
        expected = max(1 << j for j in range(n.bit_length() + 1) if (1 << j) < n)
        assert split_point(n) == expected, n
    assert split_point(2**40 + 1) == 2**40
    assert split_point(2**40) == 2**39


@pytest.mark.parametrize("n", [-1, 0, 1])
def test_split_point_rejects_small_n(n):
    with pytest.raises(ValueError):
        split_point(n)


# --------------------------------------------------------------------------
# Roots and the incremental builder
# --------------------------------------------------------------------------


def test_roots_for_sizes_0_to_8_match_vectors():
    hashes = _vector_leaf_hashes()
    roots = _vectors()["roots_hex"]
    assert sorted(int(k) for k in roots) == list(range(9))
    for size in range(9):
        assert root_from_leaf_hashes(hashes[:size]).hex() == roots[str(size)], size
        builder = TreeBuilder()
        for h in hashes[:size]:
            builder.append(h)
        assert builder.size == size
        assert builder.root().hex() == roots[str(size)], size


def test_node_hash_table_matches_perfect_subtrees():
    hashes = _vector_leaf_hashes()
    levels = _vectors()["node_hashes_hex"]
    source = subtree_hash_from(_lookup(_perfect_table(hashes)))
    checked = 0
    for level, row in enumerate(levels):
        for index, expected in enumerate(row):
            width = 1 << level
            start = index * width
            assert source(start, start + width).hex() == expected
            assert root_from_leaf_hashes(hashes[start : start + width]).hex() == expected
            checked += 1
    assert checked == 15


def test_roots_from_vector_node_table_only():
    """subtree_hash_from over the vectors' node table reproduces every root."""
    table = {
        (level, index): _h(x)
        for level, row in enumerate(_vectors()["node_hashes_hex"])
        for index, x in enumerate(row)
    }
    source = subtree_hash_from(_lookup(table))
    for size in range(9):
        assert source(0, size).hex() == _vectors()["roots_hex"][str(size)]


def test_root_from_leaf_hashes_matches_reference_0_to_100():
    hashes = _leaves(100)
    for size in range(101):
        assert root_from_leaf_hashes(hashes[:size]) == _ref_mth(hashes[:size]), size


def test_tree_builder_matches_root_from_leaf_hashes_0_to_100():
    hashes = _leaves(100)
    builder = TreeBuilder()
    assert builder.size == 0
    assert builder.root() == EMPTY_ROOT
    assert builder.frontier() == []
    for size in range(1, 101):
        builder.append(hashes[size - 1])
        assert builder.size == size
        assert builder.root() == root_from_leaf_hashes(hashes[:size]), size


def test_tree_builder_frontier_is_perfect_decomposition():
    hashes = _leaves(100)
    builder = TreeBuilder()
    for size in range(1, 101):
        builder.append(hashes[size - 1])
        frontier = builder.frontier()
        expected_levels = [b for b in reversed(range(size.bit_length())) if size >> b & 1]
        assert [level for level, _ in frontier] == expected_levels
        decomposition = perfect_subtrees(0, size)
        assert [level for level, _ in decomposition] == expected_levels
        for (level, digest), (dlevel, dindex) in zip(frontier, decomposition, strict=True):
            assert level == dlevel
            start = dindex << level
            assert digest == _ref_mth(hashes[start : start + (1 << level)])


def test_tree_builder_append_subtree_equals_appending_its_leaves():
    """Whole aligned subtrees appended at once give the same frontier, root and completed
    nodes above them as their leaves one by one (verify_log combines its units this way)."""
    hashes = _leaves(100)
    table = _perfect_table(hashes)
    for chunk_level in range(4):
        width = 1 << chunk_level
        by_subtree, by_leaf = TreeBuilder(), TreeBuilder()
        above: dict[tuple[int, int], bytes] = {}
        start = 0
        while start + width <= len(hashes):
            completed = by_subtree.append_subtree(
                chunk_level, table[(chunk_level, start >> chunk_level)]
            )
            assert completed[0] == (
                chunk_level,
                start >> chunk_level,
                table[(chunk_level, start >> chunk_level)],
            )
            above.update({(lv, ix): d for lv, ix, d in completed[1:]})
            for h in hashes[start : start + width]:
                by_leaf.append(h)
            start += width
            assert by_subtree.size == by_leaf.size == start
            assert by_subtree.frontier() == by_leaf.frontier()
            assert by_subtree.root() == root_from_leaf_hashes(hashes[:start])
        assert above == {
            k: v for k, v in table.items() if chunk_level < k[0] and (k[1] + 1) << k[0] <= start
        }


def test_tree_builder_append_subtree_refuses_unaligned_or_malformed_subtrees():
    builder = TreeBuilder()
    builder.append(_leaves(1)[0])
    with pytest.raises(ValueError, match="cannot start at leaf 1"):
        builder.append_subtree(1, b"\x00" * 32)
    with pytest.raises(ValueError):
        builder.append_subtree(0, b"short")
    with pytest.raises(ValueError):
        builder.append_subtree(-1, b"\x00" * 32)
    assert builder.size == 1
    assert builder.append_subtree(0, b"\x01" * 32)[-1][0] == 1  # a leaf-sized subtree is fine


def test_tree_builder_append_reports_completed_subtrees():
    hashes = _leaves(40)
    builder = TreeBuilder()
    seen: dict[tuple[int, int], bytes] = {}
    for position, h in enumerate(hashes):
        completed = builder.append(h)
        assert completed[0] == (0, position, h)
        # One node per trailing one-bit of the old size (binary counter carry).
        carries = (position ^ (position + 1)).bit_length() - 1
        assert len(completed) == 1 + carries
        for level, index, digest in completed:
            width = 1 << level
            assert (index + 1) * width == position + 1
            assert digest == _ref_mth(hashes[index * width : (index + 1) * width])
            assert (level, index) not in seen
            seen[(level, index)] = digest
    assert seen == _perfect_table(hashes)


def test_tree_builder_from_frontier_resumes():
    hashes = _leaves(77)
    original = TreeBuilder()
    for h in hashes[:45]:
        original.append(h)
    resumed = TreeBuilder.from_frontier(original.frontier())
    assert resumed.size == 45
    assert resumed.root() == original.root()
    for h in hashes[45:]:
        resumed.append(h)
    assert resumed.root() == root_from_leaf_hashes(hashes)


@pytest.mark.parametrize(
    "frontier",
    [
        [(1, b"\x00" * 32), (1, b"\x00" * 32)],
        [(0, b"\x00" * 32), (2, b"\x00" * 32)],
        [(-1, b"\x00" * 32)],
        [(3, b"\x00" * 31)],
    ],
)
def test_tree_builder_from_frontier_rejects_bad_input(frontier):
    with pytest.raises(ValueError):
        TreeBuilder.from_frontier(frontier)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32])
def test_leaf_hash_length_is_checked(bad):
    with pytest.raises(ValueError):
        root_from_leaf_hashes([leaf_hash(b"a"), bad])
    with pytest.raises(ValueError):
        TreeBuilder().append(bad)


def test_root_from_leaf_hashes_large_tree_matches_level_wise_build():
    hashes = _leaves(2**12 + 3)
    level = hashes
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    assert root_from_leaf_hashes(hashes) == level[0]
    assert root_from_leaf_hashes(iter(hashes)) == level[0]


# --------------------------------------------------------------------------
# Subtree lookups
# --------------------------------------------------------------------------


def test_subtree_hash_from_agrees_with_direct_computation_for_all_ranges():
    table = _perfect_table(LEAVES_64)
    for start in range(MAX_EXHAUSTIVE + 1):
        for end in range(start, MAX_EXHAUSTIVE + 1):
            calls: list[tuple[int, int]] = []

            def lookup(level: int, index: int) -> bytes:
                calls.append((level, index))  # noqa: B023
                return table[(level, index)]

            got = subtree_hash_from(lookup)(start, end)
            assert got == _ref_mth(LEAVES_64[start:end]), (start, end)
            assert calls == perfect_subtrees(start, end), (start, end)
            covered = [
                i for level, index in calls for i in range(index << level, (index + 1) << level)
            ]
            assert covered == list(range(start, end))


def test_perfect_subtrees_of_rfc_ranges_fold_to_mth():
    for size in range(1, MAX_EXHAUSTIVE + 1):
        for index in range(size):
            for start, end in needed_subtrees_for_inclusion(index, size):
                parts = perfect_subtrees(start, end)
                assert len(parts) <= (end - start).bit_length()
                digests = [SOURCE_64(i << lv, (i + 1) << lv) for lv, i in parts]
                folded = digests[-1]
                for d in reversed(digests[:-1]):
                    folded = node_hash(d, folded)
                assert folded == _ref_mth(LEAVES_64[start:end])


def test_perfect_subtrees_examples():
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(0, 1) == [(0, 0)]
    assert perfect_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_subtrees(4, 7) == [(1, 2), (0, 6)]
    assert perfect_subtrees(8, 16) == [(3, 1)]
    # A non-RFC range: MTH(D[1:4]) splits as [1,3) + [3,4), and [1,3) is unaligned.
    assert perfect_subtrees(1, 4) == [(0, 1), (0, 2), (0, 3)]
    assert perfect_subtrees_for_ranges([(0, 7), (4, 7), (6, 7)]) == [
        (0, 6),
        (1, 2),
        (2, 0),
    ]
    with pytest.raises(ValueError):
        perfect_subtrees(5, 4)
    with pytest.raises(ValueError):
        perfect_subtrees(-1, 4)


def test_subtree_hash_from_edge_cases():
    table = _perfect_table(LEAVES_64[:8])
    source = subtree_hash_from(_lookup(table))
    assert source(3, 3) == EMPTY_ROOT
    with pytest.raises(ValueError):
        source(4, 3)
    with pytest.raises(KeyError):
        source(0, 9)  # leaf 8 is not in the table


# --------------------------------------------------------------------------
# Inclusion proofs
# --------------------------------------------------------------------------


def _inclusion_cases() -> list[dict]:
    v = _vectors()
    return v["inclusion"] + v["inclusion_structural"]


def test_inclusion_vectors_generate_and_verify():
    hashes = _vector_leaf_hashes()
    source = subtree_hash_from(_lookup(_perfect_table(hashes)))
    cases = _inclusion_cases()
    assert len(cases) >= 10
    for case in cases:
        index, size = case["index"], case["size"]
        expected = [_h(x) for x in case["path_hex"]]
        root = _h(case["root_hex"])
        assert root == root_from_leaf_hashes(hashes[:size])
        assert inclusion_proof(index, size, source) == expected, (index, size)
        assert verify_inclusion(index, size, hashes[index], expected, root)
        assert not verify_inclusion(index, size, _flip(hashes[index]), expected, root)


def test_inclusion_verify_only_vector_from_real_ct_log():
    for case in _vectors()["inclusion_verify_only"]:
        leaf = _h(case["leaf_hash_hex"])
        path = [_h(x) for x in case["path_hex"]]
        root = _h(case["root_hex"])
        index, size = case["index"], case["size"]
        assert len(path) == len(needed_subtrees_for_inclusion(index, size))
        assert verify_inclusion(index, size, leaf, path, root)
        assert not verify_inclusion(index + 1, size, leaf, path, root)
        # The path alone does not bind the exact size (only its shape near the
        # leaf), but a size with a different path length must be rejected.
        assert not verify_inclusion(index, size * 2, leaf, path, root)
        assert not verify_inclusion(index, index + 1, leaf, path, root)
        assert not verify_inclusion(index, size, leaf, path[:-1], root)
        assert not verify_inclusion(index, size, leaf, [*path, path[0]], root)
        for i in range(len(path)):
            tampered = [*path[:i], _flip(path[i], 31), *path[i + 1 :]]
            assert not verify_inclusion(index, size, leaf, tampered, root)


def test_inclusion_proofs_exhaustive_up_to_64():
    for size in range(1, MAX_EXHAUSTIVE + 1):
        root = ROOTS_64[size]
        for index in range(size):
            leaf = LEAVES_64[index]
            proof = inclusion_proof(index, size, SOURCE_64)
            assert proof == _ref_path(index, LEAVES_64[:size]), (index, size)
            assert verify_inclusion(index, size, leaf, proof, root), (index, size)

            # Tampered leaf, tampered root.
            assert not verify_inclusion(index, size, _flip(leaf), proof, root)
            assert not verify_inclusion(index, size, leaf, proof, _flip(root, 17))
            # Any other leaf's hash at this position.
            other = LEAVES_64[(index + 1) % MAX_EXHAUSTIVE]
            assert not verify_inclusion(index, size, other, proof, root)
            # Each tampered proof element.
            for i in range(len(proof)):
                tampered = [*proof[:i], _flip(proof[i], i % 32), *proof[i + 1 :]]
                assert not verify_inclusion(index, size, leaf, tampered, root)
            # Every wrong index.
            for wrong in range(size):
                if wrong != index:
                    assert not verify_inclusion(wrong, size, leaf, proof, root)
            # Wrong length.
            assert not verify_inclusion(index, size, leaf, [*proof, root], root)
            if proof:
                assert not verify_inclusion(index, size, leaf, proof[:-1], root)
                assert not verify_inclusion(index, size, leaf, proof[1:], root)
            if len(proof) > 1:
                assert not verify_inclusion(index, size, leaf, proof[::-1], root)


def test_inclusion_proof_asks_exactly_for_needed_subtrees():
    for size in range(1, MAX_EXHAUSTIVE + 1):
        for index in range(size):
            calls: list[tuple[int, int]] = []

            def spy(start: int, end: int) -> bytes:
                calls.append((start, end))  # noqa: B023
                return SOURCE_64(start, end)

            proof = inclusion_proof(index, size, spy)
            needed = needed_subtrees_for_inclusion(index, size)
            assert calls == needed
            assert len(proof) == len(needed)
            # The ranges partition [0, size) minus the leaf itself.
            covered = sorted(i for s, e in needed for i in range(s, e))
            assert covered == [i for i in range(size) if i != index]


def test_inclusion_proof_single_leaf_tree_is_empty():
    assert inclusion_proof(0, 1, SOURCE_64) == []
    assert verify_inclusion(0, 1, LEAVES_64[0], [], ROOTS_64[1])
    assert LEAVES_64[0] == ROOTS_64[1]


@pytest.mark.parametrize("index,size", [(0, 0), (1, 1), (5, 3), (-1, 4)])
def test_inclusion_proof_rejects_bad_arguments(index, size):
    with pytest.raises(ValueError):
        inclusion_proof(index, size, SOURCE_64)
    with pytest.raises(ValueError):
        needed_subtrees_for_inclusion(index, size)


def test_verify_inclusion_malformed_input_returns_false():
    size, index = 13, 6
    leaf = LEAVES_64[index]
    root = ROOTS_64[size]
    proof = inclusion_proof(index, size, SOURCE_64)
    assert verify_inclusion(index, size, leaf, proof, root)
    assert verify_inclusion(index, size, leaf, tuple(proof), root)

    malformed = [
        (size, size, leaf, proof, root),  # index == size
        (size + 3, size, leaf, proof, root),  # index > size
        (0, 0, leaf, [], EMPTY_ROOT),  # empty tree
        (0, 0, leaf, proof, root),
        (-1, size, leaf, proof, root),
        (index, -size, leaf, proof, root),
        (True, size, leaf, proof, root),
        (float(index), size, leaf, proof, root),
        ("6", size, leaf, proof, root),
        (index, None, leaf, proof, root),
        (index, size, leaf, [*proof, proof[0]], root),  # extra element
        (index, size, leaf, proof + [b"\x00" * 32] * 50, root),
        (index, size, leaf, proof[:-1], root),  # missing element
        (index, size, leaf, [], root),
        (index, size, leaf, None, root),
        (index, size, leaf, 42, root),
        (index, size, leaf, b"".join(proof), root),
        (index, size, leaf, [p.hex() for p in proof], root),
        (index, size, leaf, [None] * len(proof), root),
        (index, size, leaf, [*proof[:-1], proof[-1][:31]], root),
        (index, size, leaf, [*proof[:-1], proof[-1] + b"\x00"], root),
        (index, size, leaf[:31], proof, root),
        (index, size, None, proof, root),
        (index, size, leaf, proof, root[:31]),
        (index, size, leaf, proof, None),
        (index, size, leaf.hex(), proof, root),
    ]
    for args in malformed:
        assert verify_inclusion(*args) is False, args


# --------------------------------------------------------------------------
# Consistency proofs
# --------------------------------------------------------------------------


def _consistency_cases() -> list[dict]:
    v = _vectors()
    return v["consistency"] + v["consistency_structural"]


def test_consistency_vectors_generate_and_verify():
    hashes = _vector_leaf_hashes()
    source = subtree_hash_from(_lookup(_perfect_table(hashes)))
    cases = _consistency_cases()
    assert len(cases) >= 20
    for case in cases:
        first, second = case["size1"], case["size2"]
        expected = [_h(x) for x in case["proof_hex"]]
        root1, root2 = _h(case["root1_hex"]), _h(case["root2_hex"])
        assert root1 == root_from_leaf_hashes(hashes[:first])
        assert root2 == root_from_leaf_hashes(hashes[:second])
        assert consistency_proof(first, second, source) == expected, (first, second)
        assert verify_consistency(first, second, root1, root2, expected)
        assert not verify_consistency(first, second, _flip(root1), root2, expected)
        assert not verify_consistency(first, second, root1, _flip(root2), expected)


def test_consistency_proofs_exhaustive_up_to_64():
    for second in range(1, MAX_EXHAUSTIVE + 1):
        root2 = ROOTS_64[second]
        for first in range(1, second + 1):
            root1 = ROOTS_64[first]
            proof = consistency_proof(first, second, SOURCE_64)
            assert proof == _ref_subproof(first, LEAVES_64[:second], True), (
                first,
                second,
            )
            assert verify_consistency(first, second, root1, root2, proof), (
                first,
                second,
            )

            assert not verify_consistency(first, second, _flip(root1), root2, proof)
            assert not verify_consistency(first, second, root1, _flip(root2, 9), proof)
            if first != second:
                assert not verify_consistency(first, second, root2, root1, proof)
            if first == second:
                assert proof == []
                assert not verify_consistency(first, second, root1, root2, [root1])
                continue

            assert proof, (first, second)
            for i in range(len(proof)):
                tampered = [*proof[:i], _flip(proof[i], i * 7 % 32), *proof[i + 1 :]]
                assert not verify_consistency(first, second, root1, root2, tampered)
            assert not verify_consistency(first, second, root1, root2, [*proof, root2])
            assert not verify_consistency(first, second, root1, root2, proof[:-1])
            assert not verify_consistency(first, second, root1, root2, [])
            # The same proof must not vouch for other sizes with the right roots.
            for other_first in range(1, second):
                if other_first != first:
                    assert not verify_consistency(
                        other_first, second, ROOTS_64[other_first], root2, proof
                    ), (other_first, first, second)
            # Nor for a second size whose proof has another length, even given the
            # real second root. (Sizes with the same proof shape near the old tree
            # can legitimately verify: the proof does not bind the exact size.)
            for other_second in range(first, MAX_EXHAUSTIVE + 1):
                if len(needed_subtrees_for_consistency(first, other_second)) != len(proof):
                    assert not verify_consistency(first, other_second, root1, root2, proof), (
                        first,
                        second,
                        other_second,
                    )
            # A tree that is not an extension must not verify.
            forked = [*LEAVES_64[: first - 1], _flip(LEAVES_64[first - 1])]
            forked_root = root_from_leaf_hashes(forked)
            assert not verify_consistency(first, second, forked_root, root2, proof)


def test_consistency_proof_asks_exactly_for_needed_subtrees():
    for second in range(1, MAX_EXHAUSTIVE + 1):
        for first in range(second + 1):
            calls: list[tuple[int, int]] = []

            def spy(start: int, end: int) -> bytes:
                calls.append((start, end))  # noqa: B023
                return SOURCE_64(start, end)

            proof = consistency_proof(first, second, spy)
            needed = needed_subtrees_for_consistency(first, second)
            assert calls == needed
            assert len(proof) == len(needed)
            assert all(0 <= s < e <= second for s, e in needed)
            if first in (0, second):
                assert needed == []


def test_consistency_edge_cases():
    root5 = ROOTS_64[5]
    assert consistency_proof(0, 5, SOURCE_64) == []
    assert consistency_proof(0, 0, SOURCE_64) == []
    assert consistency_proof(5, 5, SOURCE_64) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, root5, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, ROOTS_64[1], root5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root5, [root5])
    assert verify_consistency(5, 5, root5, root5, [])
    assert not verify_consistency(5, 5, root5, ROOTS_64[6], [])


@pytest.mark.parametrize("first,second", [(3, 2), (-1, 4), (1, 0)])
def test_consistency_proof_rejects_bad_arguments(first, second):
    with pytest.raises(ValueError):
        consistency_proof(first, second, SOURCE_64)
    with pytest.raises(ValueError):
        needed_subtrees_for_consistency(first, second)


def test_verify_consistency_malformed_input_returns_false():
    first, second = 6, 13
    r1, r2 = ROOTS_64[first], ROOTS_64[second]
    proof = consistency_proof(first, second, SOURCE_64)
    assert verify_consistency(first, second, r1, r2, proof)
    assert verify_consistency(first, second, r1, r2, tuple(proof))

    malformed = [
        (second, first, r2, r1, proof),  # first > second
        (-1, second, r1, r2, proof),
        (first, -1, r1, r2, proof),
        (True, second, r1, r2, proof),
        (float(first), second, r1, r2, proof),
        (first, None, r1, r2, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, proof[0]]),
        (first, second, r1, r2, proof + [b"\x00" * 32] * 40),
        (first, second, r1, r2, proof[:-1]),
        (first, second, r1, r2, None),
        (first, second, r1, r2, 7),
        (first, second, r1, r2, b"".join(proof)),
        (first, second, r1, r2, [p.hex() for p in proof]),
        (first, second, r1, r2, [None, *proof[1:]]),
        (first, second, r1, r2, [proof[0][:31], *proof[1:]]),
        (first, second, r1[:31], r2, proof),
        (first, second, r1, None, proof),
        (first, second, r1.hex(), r2, proof),
        (0, second, EMPTY_ROOT, r2, proof),  # first == 0 with a proof
        (second, second, r2, r2, proof),  # equal sizes with a proof
    ]
    for args in malformed:
        assert verify_consistency(*args) is False, args


# --------------------------------------------------------------------------
# Canonical JSON
# --------------------------------------------------------------------------


def test_canonical_json_exact_bytes():
    obj = {"b": [1, 2.5, None, True], "a": {"z": "x", "é": "Ω"}, "c": ""}
    assert canonical_json(obj) == ('{"a":{"z":"x","é":"Ω"},"b":[1,2.5,null,true],"c":""}'.encode())
    assert canonical_json(obj) == canonical_json(dict(reversed(list(obj.items()))))
    assert canonical_json("Ω") == b'"\xce\xa9"'
    assert canonical_json({"k": '\n"\\'}) == b'{"k":"\\n\\"\\\\"}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"x": float("-inf")}])
def test_canonical_json_rejects_non_finite_numbers(value):
    with pytest.raises(ValueError):
        canonical_json(value)


def test_module_imports_only_the_standard_library():
    tree = ast.parse(Path(merkle.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert "hashlib" in imported
    assert imported <= set(sys.stdlib_module_names)
