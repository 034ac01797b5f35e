"""Verifying over Sightline's own JSON API (/api/v1/log/...), for servers without /tlog/.

The older way, kept for servers that do not serve C2SP tiles yet: the public key document, the
latest JSON tree head (Ed25519 over canonical JSON of size, root and timestamp), every entry in
pages of 1000, and a JSON consistency proof from a head saved earlier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sightline_verifier import merkle
from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.progress import Progress
from sightline_verifier.stats import Counts, check_leaf

__all__ = [
    "API",
    "PAGE_SIZE",
    "JsonClient",
    "Result",
    "check_head",
    "check_same_tree",
    "public_key",
    "verify",
]

API = "/api/v1/log"
PAGE_SIZE = 1000  # the most entries /api/v1/log/entries serves per call
_HEX64 = re.compile(r"[0-9a-f]{64}")


class JsonClient(Protocol):
    """Anything that can fetch a JSON document from the log by its path."""

    def get_json(self, path: str) -> Any:
        """Return the decoded JSON at ``path`` (e.g. "/api/v1/log/tree-head").

        Raises FetchError when the document cannot be had.
        """
        ...


@dataclass(frozen=True)
class Result:
    """What a successful verification established."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    #: The verified head exactly as published (tree_size, root_hash, timestamp, signature,
    #: key_id), ready to be saved and passed back as ``previous`` next time.
    head: dict[str, Any]
    counts: Counts
    #: Size of the previously saved head that the log was shown to extend, if one was given.
    previous_size: int | None = None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _digest(value: object, what: str) -> bytes:
    """32 bytes from a lowercase 64-hex string, or VerificationFailed naming ``what``."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise VerificationFailed(f"{what} is not 64 lowercase hex digits.")
    return bytes.fromhex(value)


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationFailed(f"{what} is not a base64 string.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed(f"{what} is not valid base64.") from None


def public_key(document: object) -> tuple[Ed25519PublicKey, str]:
    """The log's key and key id, after checking that the key id is SHA-256 of the raw key."""
    if not isinstance(document, dict):
        raise VerificationFailed("public key: the answer is not a JSON object.")
    if document.get("algorithm") != "Ed25519":
        raise VerificationFailed(
            f"public key: algorithm is {document.get('algorithm')!r}, expected 'Ed25519'."
        )
    raw = _b64(document.get("public_key"), "public key")
    if len(raw) != 32:
        raise VerificationFailed(f"public key: {len(raw)} bytes, an Ed25519 key has 32.")
    key_id = hashlib.sha256(raw).hexdigest()
    if document.get("key_id") != key_id:
        raise VerificationFailed(
            f"public key: the published key id {document.get('key_id')!r} is not the SHA-256 "
            f"of the key ({key_id})."
        )
    return Ed25519PublicKey.from_public_bytes(raw), key_id


def check_head(head: object, key: Ed25519PublicKey, key_id: str, what: str) -> dict[str, Any]:
    """Check a tree head's fields and its signature; return it as the five published fields."""
    if not isinstance(head, dict):
        raise VerificationFailed(f"{what}: not a JSON object.")
    missing = [
        k for k in ("tree_size", "root_hash", "timestamp", "signature", "key_id") if k not in head
    ]
    if missing:
        raise VerificationFailed(f"{what}: missing {', '.join(missing)}.")
    if not _is_count(head["tree_size"]):
        raise VerificationFailed(f"{what}: tree_size is not a whole number.")
    _digest(head["root_hash"], f"{what}: root_hash")
    if not isinstance(head["timestamp"], str) or _parse_time(head["timestamp"]) is None:
        raise VerificationFailed(f"{what}: timestamp {head['timestamp']!r} is not ISO 8601 UTC.")
    if head["key_id"] != key_id:
        raise VerificationFailed(
            f"{what}: signed by key {head['key_id']!r}, but the log's public key is {key_id}. "
            "A change of key must be announced; do not trust this head until it is explained."
        )
    signature = _b64(head["signature"], f"{what}: signature")
    message = merkle.canonical_json(
        {
            "tree_size": head["tree_size"],
            "root_hash": head["root_hash"],
            "timestamp": head["timestamp"],
        }
    )
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise VerificationFailed(
            f"{what}: signature is not valid for size {head['tree_size']}, root "
            f"{head['root_hash']} under key {key_id}."
        ) from None
    return {k: head[k] for k in ("tree_size", "root_hash", "timestamp", "signature", "key_id")}


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
        return None
    return moment


def _fetch_promised(client: JsonClient, path: str, what: str) -> Any:
    """Fetch a document the log promised by signing a head; a refusal (4xx) is a failure."""
    try:
        return client.get_json(path)
    except FetchError as error:
        if error.status is not None and 400 <= error.status < 500 and error.status != 429:
            raise VerificationFailed(
                f"{what}: the log refused to serve it, although its signed head covers it "
                f"({error})."
            ) from None
        raise


def _check_consistency(
    client: JsonClient,
    previous: dict[str, Any],
    current: dict[str, Any],
    progress: Callable[[str], None],
) -> None:
    """Prove that the current head extends the previous one, or raise VerificationFailed."""
    m, n = previous["tree_size"], current["tree_size"]
    old_root = bytes.fromhex(previous["root_hash"])
    new_root = bytes.fromhex(current["root_hash"])
    if m > n:
        raise VerificationFailed(
            f"consistency: the log shrank: your saved head covers {m} entries, the log now "
            f"signs only {n}. Entries were removed or you are shown an old or different log."
        )
    if m == n:
        if old_root != new_root:
            raise VerificationFailed(
                f"consistency: two different roots were signed for the same size {m} "
                f"({previous['root_hash']} and {current['root_hash']}): the log was rewritten."
            )
        progress(f"Consistency: the log still has the {m:,} entries of your saved head.")
        return
    if m == 0:
        if old_root != merkle.EMPTY_ROOT:
            raise VerificationFailed("consistency: your saved head of size 0 has a wrong root.")
        progress("Consistency: your saved head was of the empty log; nothing to prove.")
        return
    document = _fetch_promised(
        client, f"{API}/proof/consistency?first={m}&second={n}", "consistency proof"
    )
    if not isinstance(document, dict) or not isinstance(document.get("consistency"), list):
        raise VerificationFailed("consistency: the proof is not in the published format.")
    if document.get("first") != m or document.get("second") != n:
        raise VerificationFailed(
            f"consistency: asked for a proof from {m} to {n}, got one from "
            f"{document.get('first')!r} to {document.get('second')!r}."
        )
    proof = [_digest(h, "consistency: a proof hash") for h in document["consistency"]]
    if not merkle.verify_consistency(m, n, old_root, new_root, proof):
        raise VerificationFailed(
            f"consistency: the proof does not show that the log of {n} entries extends your "
            f"saved head of {m} entries: earlier entries may have been changed or removed."
        )
    progress(f"Consistency: the log of {n:,} entries extends your saved head of {m:,} entries.")


def _leaf_hashes(
    client: JsonClient,
    tree_size: int,
    counts: Counts,
    progress: Callable[[str], None],
    on_leaf: Callable[[dict[str, Any]], None] | None,
    bar: Progress,
) -> list[bytes]:
    """Download entries 0..tree_size-1 and return their recomputed leaf hashes, in order.

    Every entry must be the next sequence, carry a leaf of the published shape, and the
    served leaf_hash must be SHA-256(0x00 || canonical JSON of the leaf).
    """
    hashes: list[bytes] = []
    reported = 0
    for start in range(0, tree_size, PAGE_SIZE):
        end = min(start + PAGE_SIZE, tree_size)
        document = _fetch_promised(
            client, f"{API}/entries?start={start}&end={end}", f"entries {start} to {end - 1}"
        )
        if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
            raise VerificationFailed(
                f"entries {start} to {end - 1}: the answer is not in the published format."
            )
        entries = document["entries"]
        for offset, entry in enumerate(entries):
            expected = start + offset
            if expected >= end:
                raise VerificationFailed(
                    f"entries {start} to {end - 1}: the log sent more entries than asked for."
                )
            if not isinstance(entry, dict):
                raise VerificationFailed(f"sequence {expected}: the entry is not a JSON object.")
            sequence = entry.get("sequence")
            if sequence != expected or not _is_count(sequence):
                raise VerificationFailed(
                    f"sequence {expected}: expected this sequence next but the log sent "
                    f"{sequence!r}; sequence {expected} is missing or out of order."
                )
            leaf = check_leaf(expected, entry.get("leaf"))
            try:
                recomputed = merkle.leaf_hash(merkle.canonical_json(leaf))
            except (TypeError, ValueError) as error:
                raise VerificationFailed(
                    f"sequence {expected}: the leaf cannot be encoded ({error})."
                ) from None
            served = _digest(entry.get("leaf_hash"), f"sequence {expected}: leaf_hash")
            if served != recomputed:
                raise VerificationFailed(
                    f"sequence {expected}: the leaf does not match its leaf_hash (served "
                    f"{served.hex()}, recomputed {recomputed.hex()})."
                )
            hashes.append(recomputed)
            counts.add(leaf)
            if on_leaf is not None:
                on_leaf(leaf)
        if len(entries) < end - start:
            missing = start + len(entries)
            raise VerificationFailed(
                f"sequence {missing}: missing; the log sent {len(entries)} of the "
                f"{end - start} entries {start} to {end - 1}."
            )
        # A line every tenth of the way, so a big log shows it is moving without flooding.
        bar.advance(end - start)
        if bar.enabled:
            continue  # the bar shows it
        if (10 * end) // tree_size > reported or end == tree_size:
            reported = (10 * end) // tree_size
            progress(f"Entries: {end:,} of {tree_size:,} checked.")
    return hashes


def verify(
    client: JsonClient,
    previous: dict[str, Any] | None = None,
    *,
    expected_key_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    progress: Callable[[str], None] | None = None,
    on_leaf: Callable[[dict[str, Any]], None] | None = None,
    bar: bool = False,
) -> Result:
    """Verify the whole log behind ``client``; return what was established.

    Checks, in order: the public key and its key id (and that it is ``expected_key_id`` if
    given); the latest tree head's signature; with ``previous`` (a head saved earlier, as
    published), that head's signature and a consistency proof that the log only grew since;
    then every entry: sequences 0..n-1 with none missing, each leaf of the published shape and
    matching its leaf hash, and the root recomputed from all leaves equal to the signed root.

    Raises VerificationFailed naming the first thing that failed, or FetchError when a document
    could not be fetched. ``progress`` receives one human-readable line per step. ``on_leaf``
    receives each leaf, in order, once its own checks passed (the root is only checked after
    the last one, so keep what it receives provisional until verify returns). Counts cover
    leaves dated within [since, until]. ``bar`` draws a progress bar on stderr instead of the
    progress lines about entries.
    """
    say = progress or (lambda line: None)

    key, key_id = public_key(client.get_json(f"{API}/public-key"))
    if expected_key_id is not None and key_id != expected_key_id.strip().lower():
        raise VerificationFailed(
            f"public key: the log's key id is {key_id}, not the {expected_key_id} you expected."
        )
    say(f"Public key: Ed25519, key id {key_id} (the key id matches the key).")

    head = check_head(client.get_json(f"{API}/tree-head"), key, key_id, "tree head")
    n = head["tree_size"]
    say(
        f"Tree head: {n:,} entries, root {head['root_hash']}, signed at {head['timestamp']}"
        f"{_age(head['timestamp'])}; signature valid."
    )

    previous_size = None
    if previous is not None:
        saved = check_head(previous, key, key_id, "previous head")
        previous_size = saved["tree_size"]
        say(
            f"Previous head: {previous_size:,} entries, signed at {saved['timestamp']}; "
            "signature valid."
        )
        _check_consistency(client, saved, head, say)

    counts = Counts(since=since, until=until)
    with Progress(n, "Entries", enabled=bar) as shown:
        hashes = _leaf_hashes(client, n, counts, say, on_leaf, shown)
    root = merkle.root_from_leaf_hashes(hashes)
    if root.hex() != head["root_hash"]:
        raise VerificationFailed(
            f"root: the root recomputed from the {n} leaves is {root.hex()}, but the signed "
            f"root is {head['root_hash']}."
        )
    say(f"Root: recomputed from {n:,} leaves; it equals the signed root.")
    return Result(
        tree_size=n,
        root_hash=head["root_hash"],
        timestamp=head["timestamp"],
        key_id=key_id,
        head=head,
        counts=counts,
        previous_size=previous_size,
    )


def _age(timestamp: str) -> str:
    moment = _parse_time(timestamp)
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < -300:
        return " (in the future: check your computer's clock)"
    minutes = max(0, int(seconds // 60))
    if minutes < 120:
        return f" ({_plural(minutes, 'minute')} ago)"
    hours = minutes // 60
    return f" ({_plural(hours, 'hour')} ago)" if hours < 72 else f" ({hours // 24} days ago)"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def check_same_tree(
    client: JsonClient, public_key: bytes, size: int, root: bytes, say: Callable[[str], None]
) -> bool:
    """Check that the JSON API's signed head of ``size`` has the checkpoint's ``root``.

    Both are signed with the same Ed25519 key (``public_key``, raw): a site showing one history
    as a checkpoint and another as a JSON head would be signing two trees of one size. True
    when compared; a size the JSON API has no head for (404) is said, not a failure.
    """
    try:
        document = client.get_json(f"{API}/tree-head?tree_size={size}")
    except FetchError as error:
        if error.status == 404:
            say(f"JSON API: no head of size {size:,} to compare with the checkpoint.")
            return False
        raise
    key = Ed25519PublicKey.from_public_bytes(public_key)
    head = check_head(document, key, hashlib.sha256(public_key).hexdigest(), "JSON tree head")
    if head["tree_size"] != size or head["root_hash"] != root.hex():
        raise VerificationFailed(
            f"JSON tree head: the site's signed JSON head of size {head['tree_size']} has root "
            f"{head['root_hash']}, but its checkpoint of size {size} has root {root.hex()}: "
            "the same key signed two different trees."
        )
    say(f"JSON API: its signed head of size {size:,} has the checkpoint's root.")
    return True
