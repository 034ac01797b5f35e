"""The verification flow through C2SP checkpoints, hash tiles and entry bundles (no Django)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sightline_verifier import merkle, tiles
from sightline_verifier.checkpoint import Checkpoint, add_signatures, sign_checkpoint
from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.note import Signer
from sightline_verifier.verify import Options, open_saved, verify_tiles

from tests.verifier.logs import ORIGIN, LogSource, TestLog, leaf, signer

# Sizes around every tile boundary a few thousand entries cross, and a spread between them.
EDGES = sorted(
    {1, 2, 3, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 2047, 2048, 2049, 2560, 3000}
)


@pytest.fixture(scope="module")
def log() -> TestLog:
    return TestLog(3000)


def options(**kwargs) -> Options:
    return Options(log_key=signer().verifier(), **kwargs)


def flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


# --------------------------------------------------------------------------
# The untampered log verifies, whole and through proofs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, *EDGES])
def test_the_whole_log_verifies_at_every_tile_boundary(log, size):
    result = verify_tiles(LogSource(log, size), options())

    assert result.tree_size == size
    assert result.root_hash == log.root(size).hex()
    assert result.origin == ORIGIN
    assert result.counts.total == size
    assert not result.statistics_checked  # a mirror has no statistics API


def test_every_entry_is_read_once_with_its_level_0_tile(log):
    source = LogSource(log, 1000)

    verify_tiles(source, options())

    bundles = [p for p in source.paths if "entries" in p]
    assert bundles == ["/tile/entries/000", "/tile/entries/001", "/tile/entries/002",
                       "/tile/entries/003.p/232"]  # fmt: skip
    assert "/tile/0/003.p/232" in source.paths
    assert "/tile/1/000.p/3" in source.paths


def test_inclusion_and_consistency_through_tiles_for_every_size_up_to_2600(log):
    """For each size n, from tiles only: one entry proved included (the last, the first or one
    inside, in turn) and the log proved consistent with an earlier checkpoint (of size 1, n/2
    or n-1, in turn); only the bundles of the chosen entries are read."""
    for n in range(2, 2601):
        m = (1, n // 2, n - 1)[n % 3]
        index = (n - 1, 0, n // 3)[n % 3 - 1]
        source = LogSource(log, n)
        result = verify_tiles(
            source, options(full=False, previous=log.checkpoint(m).encode(), entries=[index])
        )
        assert (result.previous_size, list(result.entries)) == (m, [index])
        bundles = [p for p in source.paths if "/entries/" in p]
        assert bundles == [LogSource(log, n).bundle_path(index)]


def test_the_full_check_proves_consistency_with_every_earlier_size(log):
    source = LogSource(log, 600)
    for m in [0, 1, 255, 256, 257, 300, 599, 600]:
        result = verify_tiles(source, options(previous=log.checkpoint(m).encode()))
        assert result.previous_size == m


def test_the_leaves_of_chosen_entries_are_returned(log):
    result = verify_tiles(LogSource(log, 700), options(full=False, entries=[5, 699]))

    assert result.entries == {5: leaf(5), 699: leaf(699)}


def test_a_level_2_tree_verifies():
    """70,000 entries: full level-0 and level-1 tiles, partial tiles at levels 0, 1 and 2."""
    big = TestLog(70_000)
    source = LogSource(big)

    result = verify_tiles(source, options(entries=[69_999]))

    assert result.root_hash == big.root().hex()
    assert "/tile/0/273.p/112" in source.paths
    assert "/tile/1/001.p/17" in source.paths
    assert "/tile/2/000.p/1" in source.paths


def test_a_deleted_partial_tile_is_read_from_the_full_tile_that_replaced_it(log):
    source = LogSource(log, 300)
    source._tiles.discard("tile/0/001.p/44")
    source._tiles.discard("tile/entries/001.p/44")
    source._tiles.update({"tile/0/001", "tile/entries/001"})

    assert verify_tiles(source, options()).root_hash == log.root(300).hex()
    assert verify_tiles(source, options(full=False, entries=[299])).entries[299] == leaf(299)


# --------------------------------------------------------------------------
# Tampering is detected
# --------------------------------------------------------------------------


def changed_leaf(sequence: int, **changes) -> bytes:
    return merkle.canonical_json({**leaf(sequence), **changes})


def tamper_bundle(sequence: int, new_leaf: bytes, log: TestLog):
    """A tamper function replacing one entry in its bundle."""
    index, position = divmod(sequence, 256)

    def tamper(path, data):
        if path.startswith(f"tile/entries/{tiles.format_index(index)}"):
            entries = tiles.decode_entry_bundle(data)
            entries[position] = new_leaf
            return tiles.encode_entry_bundle(entries)
        return data

    return tamper


def test_a_changed_entry_bundle_is_detected_against_its_tile(log):
    tamper = tamper_bundle(300, changed_leaf(300, technology="nibin"), log)

    with pytest.raises(
        VerificationFailed, match=r"^sequence 300: its entry hashes to [0-9a-f]{64}"
    ):
        verify_tiles(LogSource(log, 1000, tamper), options())


def test_a_changed_bundle_with_a_matching_level_0_tile_is_detected_by_the_tile_above(log):
    new = changed_leaf(300, technology="nibin")
    bundle = tamper_bundle(300, new, log)

    def tamper(path, data):
        if path == "tile/0/001":
            return data[: 44 * 32] + merkle.leaf_hash(new) + data[45 * 32 :]
        return bundle(path, data)

    with pytest.raises(VerificationFailed, match=r"^root: the root recomputed from the 1000"):
        verify_tiles(LogSource(log, 1000, tamper), options())


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tile/1/000.p/3", r"^tile 1/000.p/3: its hashes are not those of the tiles below"),
        ("tile/0/002", r"^sequence 512: its entry hashes to"),
        ("tile/0/003.p/232", r"^sequence 768: its entry hashes to"),
    ],
)
def test_a_changed_hash_tile_is_detected(log, path, message):
    def tamper(tile_path, data):
        return flip(data) if tile_path == path else data

    with pytest.raises(VerificationFailed, match=message):
        verify_tiles(LogSource(log, 1000, tamper), options())


def test_a_changed_tile_breaks_the_inclusion_proof(log):
    def tamper(path, data):
        return flip(data, 32 * 2) if path == "tile/1/000.p/3" else data

    with pytest.raises(VerificationFailed, match=r"^entry 10: its leaf and the inclusion proof"):
        verify_tiles(LogSource(log, 1000, tamper), options(full=False, entries=[10]))


def test_a_changed_tile_breaks_the_consistency_proof(log):
    def tamper(path, data):
        return flip(data) if path == "tile/0/003.p/232" else data

    with pytest.raises(VerificationFailed, match=r"^consistency: the proof computed from the"):
        verify_tiles(
            LogSource(log, 1000, tamper),
            options(full=False, previous=log.checkpoint(900).encode()),
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda leaf_: {**leaf_, "operator": "B1001"}, r"fields the published format does not"),
        (lambda leaf_: {**leaf_, "date": "2026-01-02T14:05:00"}, r"is not a YYYY-MM-DD date"),
        (lambda leaf_: {**leaf_, "date": "2026-02-30"}, r"is not a calendar date"),
        (lambda leaf_: {**leaf_, "sequence": 8}, r"the leaf says it is sequence 8"),
        (lambda leaf_: {**leaf_, "v": 2}, r"leaf version 2 is not known"),
    ],
    ids=["private-field", "time", "calendar", "sequence", "version"],
)
def test_a_leaf_of_another_shape_fails_even_when_every_hash_agrees(change, message):
    """A forger who rebuilt every tile and re-signed: the leaf itself must still be public."""
    forged = TestLog(10)
    forged.leaves.clear()
    forged.perfect.clear()
    forged.builder = merkle.TreeBuilder()
    forged.grow(10, lambda n: change(leaf(n)) if n == 7 else leaf(n))

    with pytest.raises(VerificationFailed, match=r"^sequence 7: .*" + message):
        verify_tiles(LogSource(forged), options())


def test_a_leaf_not_in_canonical_form_fails():
    forged = TestLog(3)
    data = json.dumps(leaf(3), sort_keys=True).encode()  # spaces after separators
    forged.leaves.append(data)
    for level, index, digest in forged.builder.append(merkle.leaf_hash(data)):
        forged.perfect[(level, index)] = digest

    with pytest.raises(VerificationFailed, match=r"^sequence 3: the leaf is not in canonical JSON"):
        verify_tiles(LogSource(forged), options())


def test_a_missing_bundle_is_a_failure_of_the_log(log):
    source = LogSource(log, 600)
    source._tiles.discard("tile/entries/001")

    with pytest.raises(VerificationFailed, match=r"^tile/entries/001: the log does not serve it"):
        verify_tiles(source, options())


def test_a_truncated_bundle_fails(log):
    def tamper(path, data):
        return data[:-10] if path == "tile/entries/001" else data

    with pytest.raises(VerificationFailed, match=r"^entry bundle 1: entry 255 of the bundle"):
        verify_tiles(LogSource(log, 600, tamper), options())


def test_a_changed_checkpoint_fails(log):
    def tamper(path, data):
        if path != "checkpoint":
            return data
        origin, size, root, rest = data.decode().split("\n", 3)
        root = base64.b64encode(flip(base64.b64decode(root))).decode()
        return f"{origin}\n{size}\n{root}\n{rest}".encode()

    with pytest.raises(VerificationFailed, match=r"^checkpoint: the signature of sightline.test"):
        verify_tiles(LogSource(log, 600, tamper), options())


def test_a_checkpoint_signed_by_another_key_fails(log):
    other = Signer(ORIGIN, Ed25519PrivateKey.generate())
    forged = TestLog(600, key=other)

    with pytest.raises(VerificationFailed, match=r"^checkpoint: not signed by the log's key"):
        verify_tiles(LogSource(forged), options())


def test_a_checkpoint_of_another_log_signed_by_the_same_key_fails(log):
    source = LogSource(log, 5)
    other = Checkpoint(origin="elsewhere.test/log", size=5, root_hash=log.root(5))
    source._checkpoint = sign_checkpoint(other, log.key).encode()

    with pytest.raises(VerificationFailed, match=r"is for the log 'elsewhere.test/log'"):
        verify_tiles(source, options())


# --------------------------------------------------------------------------
# A checkpoint saved earlier
# --------------------------------------------------------------------------


def fork_of(log: TestLog, size: int, at: int) -> TestLog:
    """The same key signing another history: entry ``at`` differs."""
    fork = TestLog(0, key=log.key)
    fork.grow(size, lambda n: {**leaf(n), "scope": "national"} if n == at else leaf(n))
    return fork


@pytest.mark.parametrize("full", [True, False], ids=["full", "quick"])
def test_a_saved_checkpoint_of_a_fork_fails(log, full):
    saved = fork_of(log, 500, at=100).checkpoint(500).encode()

    with pytest.raises(VerificationFailed, match=r"^consistency: "):
        verify_tiles(LogSource(log, 900), options(full=full, previous=saved))


def test_a_log_that_shrank_fails(log):
    with pytest.raises(VerificationFailed, match=r"^consistency: the log shrank: .* 900 .* 800"):
        verify_tiles(LogSource(log, 800), options(previous=log.checkpoint(900).encode()))


def test_two_roots_for_the_same_size_fail(log):
    saved = fork_of(log, 800, at=5).checkpoint(800).encode()

    with pytest.raises(VerificationFailed, match=r"^consistency: two different roots .* 800"):
        verify_tiles(LogSource(log, 800), options(full=False, previous=saved))


def test_a_saved_checkpoint_signed_by_another_key_fails(log):
    other = TestLog(100, key=Signer(ORIGIN, Ed25519PrivateKey.generate()))

    with pytest.raises(VerificationFailed, match=r"^previous checkpoint: not signed by the log"):
        verify_tiles(LogSource(log, 800), options(previous=other.checkpoint().encode()))


def test_a_saved_json_head_of_an_older_verifier_is_read():
    key = Ed25519PrivateKey.generate()
    note_key = Signer(ORIGIN, key)
    log = TestLog(10, key=note_key)
    fields = {"tree_size": 10, "root_hash": log.root().hex(), "timestamp": "2026-01-01T00:00:00Z"}
    signature = key.sign(merkle.canonical_json(fields))
    public = note_key.public_key
    head = {
        **fields,
        "signature": base64.b64encode(signature).decode(),
        "key_id": hashlib.sha256(public).hexdigest(),
    }

    assert open_saved(json.dumps(head).encode(), note_key.verifier()) == (10, log.root())
    with pytest.raises(VerificationFailed, match=r"^previous head: signature is not valid"):
        open_saved(json.dumps({**head, "tree_size": 9}).encode(), note_key.verifier())


# --------------------------------------------------------------------------
# Witnesses' cosignatures
# --------------------------------------------------------------------------


def cosigned(log: TestLog, witnesses: list[Signer], size: int | None = None) -> LogSource:
    size = log.size if size is None else size
    body = Checkpoint(origin=log.key.name, size=size, root_hash=log.root(size)).body
    note = add_signatures(sign_checkpoint(Checkpoint(ORIGIN, size, log.root(size)), log.key),
                          [w.cosign(body, 1_700_000_000) for w in witnesses])  # fmt: skip
    source = LogSource(log, size)
    source._checkpoint = note.encode()
    return source


@pytest.fixture(scope="module")
def witnesses() -> list[Signer]:
    return [Signer(f"witness.test/w{i}", Ed25519PrivateKey.generate()) for i in range(3)]


def test_named_witnesses_that_cosigned_are_counted(log, witnesses):
    source = cosigned(log, witnesses[:2], 500)
    named = [w.verifier(0x04) for w in witnesses[:2]]

    result = verify_tiles(source, options(full=False, witnesses=named))

    assert result.cosigned_by == ["witness.test/w0", "witness.test/w1"]


def test_a_missing_cosignature_fails_below_the_quorum(log, witnesses):
    source = cosigned(log, witnesses[:1], 500)
    named = [w.verifier(0x04) for w in witnesses[:2]]

    with pytest.raises(VerificationFailed, match=r"^witnesses: 1 of the 2 .* from witness.test/w1"):
        verify_tiles(source, options(full=False, witnesses=named))
    assert verify_tiles(source, options(full=False, witnesses=named, quorum=1)).cosigned_by == [
        "witness.test/w0"
    ]


def test_a_cosignature_that_does_not_verify_fails(log, witnesses):
    source = cosigned(log, witnesses[:1], 500)
    lines = source._checkpoint.decode().split("\n")
    name, _, payload = lines[-2].rpartition(" ")
    raw = base64.b64decode(payload)
    lines[-2] = f"{name} {base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()}"
    source._checkpoint = "\n".join(lines).encode()

    with pytest.raises(VerificationFailed, match=r"^witness witness.test/w0: its cosignature"):
        verify_tiles(source, options(full=False, witnesses=[witnesses[0].verifier(0x04)]))


def test_a_mirror_without_a_pinned_key_cannot_be_checked(log):
    with pytest.raises(FetchError, match=r"a mirror cannot vouch for the log's key"):
        verify_tiles(LogSource(log, 5), Options())


def test_a_tile_of_the_wrong_length_fails_rather_than_crashing(log):
    def tamper(path, data):
        return data[:-1] if path.startswith("tile/1/") else data

    with pytest.raises(VerificationFailed, match=r"^entry 10: a tile is malformed"):
        verify_tiles(LogSource(log, 1000, tamper), options(full=False, entries=[10]))
    with pytest.raises(VerificationFailed, match=r"^consistency: a tile is malformed"):
        verify_tiles(
            LogSource(log, 1000, tamper),
            options(full=False, previous=log.checkpoint(900).encode()),
        )
    with pytest.raises(VerificationFailed, match=r"^tile 1/000.p/3: its hashes are not those"):
        verify_tiles(LogSource(log, 1000, tamper), options())


def test_an_entry_outside_the_log_is_refused_before_anything_is_downloaded(log):
    source = LogSource(log, 300)

    with pytest.raises(FetchError, match=r"^entry 300 is not in the log \(it has 300 entries\)"):
        verify_tiles(source, options(entries=[300]))
    assert source.paths == ["/checkpoint"]
