"""Verifying a Sightline log through its C2SP checkpoint, hash tiles and entry bundles.

The flow: open the checkpoint with the log's key (pinned by the user, or the site's); count
the cosignatures of the witnesses the user named; prove it consistent with a checkpoint saved
earlier; then either download every entry bundle (the full check: each leaf of the published
shape, the level-0 tiles equal to the leaf hashes, every higher tile equal to the hashes below
it, the root equal to the signed root, the published statistics equal to the leaves' counts)
or, with ``full=False``, only the tiles that the proofs of the chosen entries need.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sightline_verifier import merkle, tiles
from sightline_verifier.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from sightline_verifier.client import Source, TileReader
from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.jsonapi import (
    check_same_tree,
    verify,  # the older JSON-API flow, importable as before
)
from sightline_verifier.note import (
    NoteError,
    UnverifiedNote,
    Verifier,
    cosignature_verifier,
    parse_note,
    parse_vkey,
)
from sightline_verifier.progress import Progress
from sightline_verifier.stats import Counts, Tally, check_statistics
from sightline_verifier.tiles import Tile

__all__ = [
    "NoTiles",
    "Options",
    "Result",
    "check_statistics",
    "log_verifier",
    "open_saved",
    "verify",
    "verify_tiles",
    "witness_verifiers",
]


class NoTiles(FetchError):
    """A live site that serves no C2SP checkpoint (an older Sightline): use its JSON API."""


_NO_OUTPUT: Callable[[str], None] = lambda line: None  # noqa: E731


@dataclass
class Options:
    """What to check, besides the checkpoint's signature."""

    #: The log's key, pinned by the user; None to take the one the site publishes.
    log_key: Verifier | None = None
    #: Witness keys (cosignature/v1) whose cosignatures count; ``quorum`` of them are needed
    #: (None: all of them).
    witnesses: list[Verifier] = field(default_factory=list)
    quorum: int | None = None
    #: A checkpoint (or JSON head) saved earlier, as its bytes: the log must extend it.
    previous: bytes | None = None
    #: Entries whose inclusion is proved from tiles and whose leaves are shown.
    entries: list[int] = field(default_factory=list)
    #: Download and check every entry (False: only the tiles the proofs need).
    full: bool = True
    #: Compare /api/v1/stats/ with the counts of the leaves (full check on a live site only).
    statistics: bool = True
    since: date | None = None
    until: date | None = None
    #: Draw a progress bar on stderr.
    bar: bool = False
    #: One line per step, for people.
    say: Callable[[str], None] = _NO_OUTPUT
    #: Receives each verified leaf's bytes (e.g. for a CSV), in order.
    on_leaf: Callable[[int, bytes], None] | None = None


@dataclass
class Result:
    """What a successful verification established."""

    tree_size: int
    root_hash: str
    origin: str
    #: The checkpoint as served (with its cosignatures), ready to be saved for next time.
    checkpoint: str
    cosigned_by: list[str]
    previous_size: int | None = None
    counts: Counts | None = None
    statistics_checked: bool = False
    #: Entry number → its leaf (decoded), for the entries asked for.
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)


def log_verifier(source: Source, pinned: Verifier | None, say: Callable[[str], None]) -> Verifier:
    """The log's checkpoint key: the pinned one, or the site's ``verifier_key``."""
    if pinned is not None:
        say(f"Log key: {pinned.vkey} (pinned by you).")
        return pinned
    if not source.has_api:
        raise FetchError(
            "a mirror cannot vouch for the log's key: give it with --log-key "
            "(from the log's /log/ page or /api/v1/log/public-key, or a record you trust)."
        )
    document = source.get_json("/api/v1/log/public-key")
    vkey = document.get("verifier_key") if isinstance(document, dict) else None
    if not isinstance(vkey, str):
        raise NoTiles("the site publishes no verifier_key: it serves no C2SP checkpoint.")
    try:
        verifier = parse_vkey(vkey)
    except NoteError as error:
        raise VerificationFailed(
            f"log key: the published verifier key is invalid ({error})."
        ) from None
    say(
        f"Log key: {verifier.vkey} (as the site publishes it; pin it with --log-key to "
        "notice if it ever changes)."
    )
    return verifier


def _open(note: bytes, key: Verifier, what: str) -> tuple[Checkpoint, str]:
    try:
        checkpoint, _ = open_checkpoint(note, [key])
    except UnverifiedNote:
        raise VerificationFailed(
            f"{what}: not signed by the log's key {key.name}+{key.key_id:08x}."
        ) from None
    except NoteError as error:
        raise VerificationFailed(f"{what}: {error}.") from None
    if checkpoint.origin != key.name:
        raise VerificationFailed(
            f"{what}: it is for the log {checkpoint.origin!r}, but the key is {key.name!r}."
        )
    return checkpoint, note.decode("utf-8")


def open_saved(saved: bytes, key: Verifier) -> tuple[int, bytes]:
    """The size and root of a saved checkpoint (or JSON head), after checking its signature."""
    if saved.lstrip()[:1] == b"{":
        return _open_json_head(saved, key)
    try:
        parse_checkpoint(parse_note(saved).text)
    except NoteError as error:
        # Not a checkpoint at all (a wrong or damaged file): no verdict on the log.
        raise FetchError(f"cannot read the saved checkpoint: {error}") from None
    checkpoint, _ = _open(saved, key, "previous checkpoint")
    return checkpoint.size, checkpoint.root_hash


def _open_json_head(saved: bytes, key: Verifier) -> tuple[int, bytes]:
    """A head saved by an older verifier: signed with the same Ed25519 key over its JSON."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from sightline_verifier.client import parse_json
    from sightline_verifier.jsonapi import check_head

    try:
        head = parse_json(saved)
    except ValueError as error:
        raise VerificationFailed(f"previous head: not JSON ({error}).") from None
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    checked = check_head(head, public, hashlib.sha256(key.public_key).hexdigest(), "previous head")
    return checked["tree_size"], bytes.fromhex(checked["root_hash"])


def _cosigners(note: bytes, checkpoint_text: str, options: Options) -> list[str]:
    """Names of the named witnesses whose cosignature verifies; FAILED below the quorum."""
    if not options.witnesses:
        return []
    signatures = parse_note(note).signatures
    good: list[str] = []
    for witness in options.witnesses:
        for sig in signatures:
            if (sig.name, sig.key_id) != (witness.name, witness.key_id):
                continue
            if not witness.verify(checkpoint_text, sig.signature):
                raise VerificationFailed(
                    f"witness {witness.name}: its cosignature on the checkpoint does not verify."
                )
            good.append(witness.name)
            break
    quorum = len(options.witnesses) if options.quorum is None else options.quorum
    missing = [w.name for w in options.witnesses if w.name not in good]
    if len(good) < quorum:
        raise VerificationFailed(
            f"witnesses: {len(good)} of the {len(options.witnesses)} witnesses you named "
            f"cosigned the checkpoint, {quorum} needed; no valid cosignature from "
            f"{', '.join(missing)}."
        )
    options.say(
        f"Witnesses: {len(good)} of {len(options.witnesses)} cosigned it ({', '.join(good)})"
        + (f"; none from {', '.join(missing)}." if missing else ".")
    )
    return good


def verify_tiles(source: Source, options: Options) -> Result:
    """Verify the log behind ``source`` through its tiles; return what was established.

    Raises VerificationFailed naming the first thing that failed, or FetchError when something
    could not be fetched (no verdict). A live site with no /tlog/checkpoint raises FetchError
    with status 404 before anything is judged, so the caller can fall back to the JSON API.
    """
    say = options.say
    key = log_verifier(source, options.log_key, say)
    try:
        note = source.get_bytes(f"{source.tlog_prefix}/checkpoint")
    except FetchError as error:
        if error.status == 404 and source.has_api:
            where = source.url(source.tlog_prefix + "/checkpoint")
            raise NoTiles(f"{where} is not served.") from None
        raise
    checkpoint, text = _open(note, key, "checkpoint")
    n, root = checkpoint.size, checkpoint.root_hash
    say(f"Checkpoint: {checkpoint.origin}, {n:,} entries, root {root.hex()}; signature valid.")
    body = checkpoint.body
    result = Result(
        tree_size=n,
        root_hash=root.hex(),
        origin=checkpoint.origin,
        checkpoint=text,
        cosigned_by=_cosigners(note, body, options),
    )
    if source.has_api:
        check_same_tree(source, key.public_key, n, root, say)
    reader = TileReader(source)
    for index in options.entries:
        if not 0 <= index < n:
            raise FetchError(f"entry {index} is not in the log (it has {n:,} entries).")

    old: tuple[int, bytes] | None = None
    if options.previous is not None:
        old = open_saved(options.previous, key)
        result.previous_size = old[0]
        _check_sizes(old, n, root, say)

    if options.full:
        _full_check(reader, checkpoint, options, result, old)
    elif old is not None and 0 < old[0] < n:
        try:
            proof = tiles.consistency_proof_from_tiles(old[0], n, reader.read)
        except tiles.TileError as error:
            raise VerificationFailed(f"consistency: a tile is malformed ({error}).") from None
        if not merkle.verify_consistency(old[0], n, old[1], root, proof):
            raise VerificationFailed(
                f"consistency: the proof computed from the tiles does not show that the log of "
                f"{n} entries extends your saved checkpoint of {old[0]} entries."
            )
        say(
            f"Consistency: the log of {n:,} entries extends your saved checkpoint of "
            f"{old[0]:,} entries (a proof of {len(proof)} hashes from the tiles)."
        )

    for index in options.entries:
        result.entries[index] = _check_entry(reader, index, n, root, say)
    return result


def _check_sizes(old: tuple[int, bytes], n: int, root: bytes, say: Callable[[str], None]) -> None:
    m, old_root = old
    if m > n:
        raise VerificationFailed(
            f"consistency: the log shrank: your saved checkpoint covers {m} entries, the log "
            f"now signs only {n}. Entries were removed or you are shown an old or other log."
        )
    if m == n and old_root != root:
        raise VerificationFailed(
            f"consistency: two different roots were signed for the same size {m} "
            f"({old_root.hex()} and {root.hex()}): the log was rewritten."
        )
    if m == 0 and old_root != merkle.EMPTY_ROOT:
        raise VerificationFailed("consistency: your saved checkpoint of size 0 has a wrong root.")
    if m == n:
        say(f"Consistency: the log still has the {m:,} entries of your saved checkpoint.")


def _check_entry(
    reader: TileReader, index: int, n: int, root: bytes, say: Callable[[str], None]
) -> dict[str, Any]:
    """Prove entry ``index`` is in the signed tree from tiles; return its leaf."""
    bundle_index, position = divmod(index, tiles.TILE_WIDTH)
    width = min(tiles.TILE_WIDTH, n - bundle_index * tiles.TILE_WIDTH)
    bundle = Tile(0, bundle_index, width, entries=True)
    try:
        data = tiles.decode_entry_bundle(reader.read(bundle))[position]
    except (tiles.TileError, IndexError) as error:
        raise VerificationFailed(f"entry bundle {bundle_index}: {error}.") from None
    try:
        proof = tiles.inclusion_proof_from_tiles(index, n, reader.read)
    except tiles.TileError as error:
        raise VerificationFailed(f"entry {index}: a tile is malformed ({error}).") from None
    if not merkle.verify_inclusion(index, n, merkle.leaf_hash(data), proof, root):
        raise VerificationFailed(
            f"entry {index}: its leaf and the inclusion proof computed from the tiles do not "
            "lead to the signed root: the entry or a tile was changed."
        )
    tally = Tally()
    tally.add_bytes(index, data)
    say(
        f"Entry {index}: included in the signed tree (a proof of {len(proof)} hashes); "
        f"leaf {data.decode('utf-8')}"
    )
    return json.loads(data)


def _full_check(
    reader: TileReader,
    checkpoint: Checkpoint,
    options: Options,
    result: Result,
    old: tuple[int, bytes] | None,
) -> None:
    """Download every bundle and tile of the tree and check them all against the checkpoint."""
    n, root = checkpoint.size, checkpoint.root_hash
    say = options.say
    tally = Tally()
    builder = merkle.TreeBuilder()
    m = old[0] if old is not None and 0 < old[0] < n else None
    bundles = tiles.entry_bundles_for_size(n)
    level1: list[bytes] = []  # roots of the full level-0 tiles: the hashes of level-1 tiles
    wanted = [t for bundle in bundles for t in (bundle, bundle.hash_tile())]
    sha256 = hashlib.sha256
    started = time.monotonic()
    with Progress(n, "Entries", enabled=options.bar) as bar:
        bodies = reader.read_many(wanted)
        for bundle in bundles:
            first = bundle.index * tiles.TILE_WIDTH
            entries = _split_bundle(next(bodies), bundle.index)
            if len(entries) < bundle.width:
                raise VerificationFailed(
                    f"entry bundle {bundle.index}: {len(entries)} entries, the checkpoint "
                    f"implies {bundle.width}."
                )
            del entries[bundle.width :]
            hashes = [sha256(b"\x00" + e).digest() for e in entries]
            tile_data = next(bodies)
            if tile_data != b"".join(hashes):
                _explain_tile(bundle, hashes, tile_data)
            tally.add_bundle(first, entries)
            if options.on_leaf is not None:
                for offset, data in enumerate(entries):
                    options.on_leaf(first + offset, data)
            if m is not None and first < m <= first + bundle.width:
                # The saved checkpoint's size falls in this bundle: its root is the root of
                # the first m leaves, computed here directly (stronger than a proof).
                cut = m - first
                for h in hashes[:cut]:
                    builder.append(h)
                _check_old_root(builder.root(), old, say)  # type: ignore[arg-type]
                for h in hashes[cut:]:
                    builder.append(h)
                if bundle.is_full:
                    level1.append(merkle.root_from_leaf_hashes(hashes))
            elif bundle.is_full:
                subtree = merkle.root_from_leaf_hashes(hashes)
                level1.append(subtree)
                builder.append_subtree(tiles.TILE_HEIGHT, subtree)
            else:
                for h in hashes:
                    builder.append(h)
            bar.advance(len(entries))
    if builder.root() != root:
        raise VerificationFailed(
            f"root: the root recomputed from the {n} entries is {builder.root().hex()}, but the "
            f"checkpoint signs {root.hex()}."
        )
    upper = _check_upper_tiles(reader, n, level1)
    seconds = time.monotonic() - started
    say(
        f"Root: recomputed from {n:,} entries in {len(bundles):,} bundles ({seconds:.1f} s); "
        f"it equals the signed root. All {len(bundles) + upper:,} hash tiles match the entries."
    )
    result.counts = tally.counts(options.since, options.until)
    if options.statistics and reader.source.has_api:
        result.statistics_checked = check_statistics(reader.source, tally, n, say)


def _split_bundle(data: bytes, index: int) -> list[bytes]:
    """The entries of a bundle (``uint16 length || bytes`` each); VerificationFailed if it is
    not one. A plain loop: the package's decoder checks more per entry, and explains."""
    out: list[bytes] = []
    append = out.append
    at, end = 0, len(data)
    try:
        while at < end:
            length = (data[at] << 8) | data[at + 1]
            at += 2
            append(data[at : at + length])
            at += length
    except IndexError:
        at = end + 1
    if at != end or not out or len(out) > tiles.TILE_WIDTH:
        try:
            tiles.decode_entry_bundle(data)
        except tiles.TileError as error:
            raise VerificationFailed(f"entry bundle {index}: {error}.") from None
        raise VerificationFailed(f"entry bundle {index}: not an entry bundle.")
    return out


def _explain_tile(bundle: Tile, hashes: list[bytes], tile_data: bytes) -> None:
    if len(tile_data) != len(hashes) * merkle.HASH_SIZE:
        raise VerificationFailed(
            f"tile 0/{tiles.format_index(bundle.index)}: {len(tile_data)} bytes, the checkpoint "
            f"implies {len(hashes)} hashes ({len(hashes) * merkle.HASH_SIZE} bytes)."
        )
    for offset, h in enumerate(hashes):
        served = tile_data[offset * merkle.HASH_SIZE : (offset + 1) * merkle.HASH_SIZE]
        if served != h:
            sequence = bundle.index * tiles.TILE_WIDTH + offset
            raise VerificationFailed(
                f"sequence {sequence}: its entry hashes to {h.hex()}, but level-0 tile "
                f"{tiles.format_index(bundle.index)} holds {served.hex()}: the entry bundle or "
                "the tile was changed."
            )


def _check_old_root(old_root: bytes, old: tuple[int, bytes], say: Callable[[str], None]) -> None:
    m, saved_root = old
    if old_root != saved_root:
        raise VerificationFailed(
            f"consistency: the first {m} entries of the log now hash to {old_root.hex()}, but "
            f"your saved checkpoint of {m} entries signs {saved_root.hex()}: earlier entries "
            "were changed or removed."
        )
    say(f"Consistency: the first {m:,} entries still hash to the root of your saved checkpoint.")


def _check_upper_tiles(reader: TileReader, n: int, below: list[bytes]) -> int:
    """Check every tile of level 1 and up against the hashes computed from the level below.

    ``below`` holds the roots of the full tiles of the level below (from the entries). Returns
    how many tiles were checked.
    """
    checked = 0
    level = 1
    while n >> (tiles.TILE_HEIGHT * level):
        wanted = [t for t in tiles.tiles_for_size(n) if t.level == level]
        above: list[bytes] = []
        for tile, data in zip(wanted, reader.read_many(wanted), strict=True):
            hashes = below[tile.first : tile.first + tile.width]
            if data != b"".join(hashes):
                raise VerificationFailed(
                    f"tile {level}/{tiles.format_index(tile.index)}"
                    f"{'' if tile.is_full else f'.p/{tile.width}'}: its hashes are not those of "
                    "the tiles below it: the tile was changed."
                )
            if tile.is_full:
                above.append(merkle.root_from_leaf_hashes(hashes))
            checked += 1
        below = above
        level += 1
    return checked


def witness_verifiers(vkeys: Iterable[str]) -> list[Verifier]:
    """Cosignature verifiers for witness keys given as 0x04 (or plain 0x01) vkeys."""
    return [cosignature_verifier(parse_vkey(v)) for v in vkeys]
