"""Independent verifier of a Sightline public log; needs only Python and `cryptography`."""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import http.client
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sightline_verifier import merkle

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "PAGE_SIZE",
    "Counts",
    "FetchError",
    "JsonClient",
    "LogClient",
    "Result",
    "VerificationFailed",
    "main",
    "verify",
]

VERSION = "1"
USER_AGENT = f"sightline-verifier/{VERSION} (Python urllib)"
PAGE_SIZE = 1000  # the most entries /api/v1/log/entries serves per call

EXIT_OK = 0
EXIT_FAILED = 1  # the log does not verify
EXIT_UNAVAILABLE = 2  # the check could not be made (network, bad input file, usage)

API = "/api/v1/log"
#: The fields of a version 1 leaf, exactly; also the CSV columns, in this order.
LEAF_FIELDS_V1 = (
    "sequence",
    "date",
    "technology",
    "query_type",
    "agency",
    "offense_category",
    "scope",
    "case_number_present",
    "supervisor_present",
    "on_behalf_of_present",
    "private_commitment",
    "v",
)
CSV_COLUMNS = LEAF_FIELDS_V1
_LEAF_STRINGS = ("technology", "query_type", "agency", "offense_category", "scope")
_LEAF_FLAGS = ("on_behalf_of_present", "case_number_present", "supervisor_present")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Heads and leaves are public: files written are readable like any other (mkstemp gives 0600).
_PUBLIC_FILE_MODE = 0o644


# --------------------------------------------------------------------------
# Errors and results
# --------------------------------------------------------------------------


class VerificationFailed(Exception):
    """The log does not verify; the message names what failed (sequence, signature, root...)."""


class FetchError(Exception):
    """A document could not be fetched (network, HTTP error, not JSON); nothing was judged.

    ``status`` is the HTTP status when the server answered with an error, else None.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JsonClient(Protocol):
    """Anything that can fetch a JSON document from the log by its path."""

    def get_json(self, path: str) -> Any:
        """Return the decoded JSON at ``path`` (e.g. "/api/v1/log/tree-head").

        Raises FetchError when the document cannot be had.
        """
        ...


@dataclass
class Counts:
    """Entries per technology (and by year, agency, missing fields), tallied from verified leaves.

    Only leaves whose date lies in [since, until] (each bound optional, inclusive) are counted.
    """

    since: date | None = None
    until: date | None = None
    total: int = 0
    by_technology: Counter[str] = field(default_factory=Counter)
    by_year: Counter[tuple[str, str]] = field(default_factory=Counter)  # (year, technology)
    by_agency: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, technology)
    without_case_number: Counter[str] = field(default_factory=Counter)
    without_supervisor: Counter[str] = field(default_factory=Counter)
    on_behalf_of_another: Counter[str] = field(default_factory=Counter)

    def add(self, leaf: dict[str, Any]) -> None:
        """Count one (already checked) leaf if its date is inside the range."""
        day = leaf["date"]
        if (self.since and day < self.since.isoformat()) or (
            self.until and day > self.until.isoformat()
        ):
            return
        technology = leaf["technology"]
        self.total += 1
        self.by_technology[technology] += 1
        self.by_year[(day[:4], technology)] += 1
        self.by_agency[(leaf["agency"], technology)] += 1
        if not leaf["case_number_present"]:
            self.without_case_number[technology] += 1
        if not leaf["supervisor_present"]:
            self.without_supervisor[technology] += 1
        if leaf["on_behalf_of_present"]:
            self.on_behalf_of_another[technology] += 1


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


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Decode strict JSON: UTF-8, no duplicate keys, no NaN/Infinity (ValueError otherwise).

    Strict because the verifier recomputes hashes from what it decoded: an ambiguous document
    could mean one thing to this program and another to someone else's.
    """
    return json.loads(
        body.decode("utf-8"),
        object_pairs_hook=_reject_duplicate_keys,
        parse_constant=_reject_constant,
    )


class LogClient:
    """Fetches JSON documents from a Sightline site over HTTP(S) with urllib."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        user_agent: str = USER_AGENT,
    ) -> None:
        """Prepare a client for the site at ``base_url`` (http or https; ValueError otherwise)."""
        parts = urllib.parse.urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"'{base_url}' is not an http:// or https:// address.")
        self.base_url = urllib.parse.urlunsplit(
            (parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")
        )
        self.timeout = timeout
        self.retries = retries
        self.user_agent = user_agent

    def url(self, path: str) -> str:
        """The absolute address of ``path`` on this site."""
        return self.base_url + path

    def get_json(self, path: str) -> Any:
        """Return the decoded JSON at ``path``; raise FetchError if it cannot be had.

        Busy servers (429, 502-504) and timeouts are retried ``retries`` times with a short
        pause; any other error is raised at once.
        """
        url = self.url(path)
        request = urllib.request.Request(  # noqa: S310 -- scheme checked in __init__
            url, headers={"Accept": "application/json", "User-Agent": self.user_agent}
        )
        attempt = 0
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    body = response.read(_MAX_RESPONSE_BYTES + 1)
                break
            except urllib.error.HTTPError as error:
                if error.code in _RETRY_STATUSES and attempt < self.retries:
                    attempt += 1
                    time.sleep(attempt)
                    continue
                raise FetchError(
                    f"{url} answered HTTP {error.code}{_error_detail(error)}", status=error.code
                ) from None
            except (OSError, http.client.HTTPException) as error:  # URLError is OSError
                reason = getattr(error, "reason", error)
                if isinstance(reason, TimeoutError) and attempt < self.retries:
                    attempt += 1
                    time.sleep(attempt)
                    continue
                raise FetchError(f"could not fetch {url}: {reason}") from None
        if len(body) > _MAX_RESPONSE_BYTES:
            raise FetchError(f"{url} sent more than {_MAX_RESPONSE_BYTES} bytes.")
        try:
            return parse_json(body)
        except ValueError as error:
            raise FetchError(f"{url} did not answer with valid JSON ({error}).") from None


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The server's own explanation of an HTTP error, if it sent a JSON one."""
    try:
        document = parse_json(error.read(64 * 1024))
    except (ValueError, OSError):
        return ""
    if isinstance(document, dict) and document:
        return f": {json.dumps(document, ensure_ascii=False)[:300]}"
    return ""


# --------------------------------------------------------------------------
# Checking documents
# --------------------------------------------------------------------------


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


def _public_key(document: object) -> tuple[Ed25519PublicKey, str]:
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


def _check_head(head: object, key: Ed25519PublicKey, key_id: str, what: str) -> dict[str, Any]:
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


def _check_leaf(sequence: int, leaf: object) -> dict[str, Any]:
    """Check that a leaf has the published shape (only public fields, a date not a time)."""
    where = f"sequence {sequence}"
    if not isinstance(leaf, dict):
        raise VerificationFailed(f"{where}: the leaf is not a JSON object.")
    if type(leaf.get("v")) is not int or leaf["v"] != 1:
        raise VerificationFailed(
            f"{where}: leaf version {leaf.get('v')!r} is not known to this verifier "
            f"(version {VERSION} knows leaf version 1); get a newer verifier."
        )
    extra = sorted(set(leaf) - set(LEAF_FIELDS_V1))
    if extra:
        raise VerificationFailed(
            f"{where}: the leaf has fields the published format does not allow: " + ", ".join(extra)
        )
    missing = sorted(set(LEAF_FIELDS_V1) - set(leaf))
    if missing:
        raise VerificationFailed(f"{where}: the leaf lacks fields: {', '.join(missing)}.")
    if leaf["sequence"] != sequence or not _is_count(leaf["sequence"]):
        raise VerificationFailed(f"{where}: the leaf says it is sequence {leaf['sequence']!r}.")
    day = leaf["date"]
    if not isinstance(day, str) or not _DATE.fullmatch(day):
        raise VerificationFailed(f"{where}: leaf date {day!r} is not a YYYY-MM-DD date.")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise VerificationFailed(f"{where}: leaf date {day!r} is not a calendar date.") from None
    for name in _LEAF_STRINGS:
        if not isinstance(leaf[name], str):
            raise VerificationFailed(f"{where}: leaf field {name!r} is not a string.")
    for name in _LEAF_FLAGS:
        if not isinstance(leaf[name], bool):
            raise VerificationFailed(f"{where}: leaf field {name!r} is not true or false.")
    _digest(leaf["private_commitment"], f"{where}: private_commitment")
    return leaf


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


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
            leaf = _check_leaf(expected, entry.get("leaf"))
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
    leaves dated within [since, until].
    """
    say = progress or (lambda line: None)

    key, key_id = _public_key(client.get_json(f"{API}/public-key"))
    if expected_key_id is not None and key_id != expected_key_id.strip().lower():
        raise VerificationFailed(
            f"public key: the log's key id is {key_id}, not the {expected_key_id} you expected."
        )
    say(f"Public key: Ed25519, key id {key_id} (the key id matches the key).")

    head = _check_head(client.get_json(f"{API}/tree-head"), key, key_id, "tree head")
    n = head["tree_size"]
    say(
        f"Tree head: {n:,} entries, root {head['root_hash']}, signed at {head['timestamp']}"
        f"{_age(head['timestamp'])}; signature valid."
    )

    previous_size = None
    if previous is not None:
        saved = _check_head(previous, key, key_id, "previous head")
        previous_size = saved["tree_size"]
        say(
            f"Previous head: {previous_size:,} entries, signed at {saved['timestamp']}; "
            "signature valid."
        )
        _check_consistency(client, saved, head, say)

    counts = Counts(since=since, until=until)
    hashes = _leaf_hashes(client, n, counts, say, on_leaf)
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


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def format_counts(counts: Counts) -> list[str]:
    """The counts as aligned plain-text table lines."""
    if counts.since or counts.until:
        period = f"dated {counts.since or 'the start'} to {counts.until or 'the end'}"
    else:
        period = "all dates"
    lines = [f"Entries recomputed from the verified leaves ({period}): {counts.total:,}"]
    if not counts.total:
        return lines
    technologies = sorted(counts.by_technology)
    width = max(len("technology"), *(len(t) for t in technologies))
    lines.append(
        f"  {'technology':<{width}}  {'entries':>9}  {'no case no.':>11}  "
        f"{'no supervisor':>13}  {'for another agency':>18}"
    )
    for tech in technologies:
        lines.append(
            f"  {tech:<{width}}  {counts.by_technology[tech]:>9,}  "
            f"{counts.without_case_number[tech]:>11,}  {counts.without_supervisor[tech]:>13,}  "
            f"{counts.on_behalf_of_another[tech]:>18,}"
        )
    for title, table in (("year", counts.by_year), ("agency", counts.by_agency)):
        rows = sorted({row for row, _ in table})
        row_width = max(len(title), *(len(r) for r in rows))
        columns = [max(len(t), 9) for t in technologies]
        lines.append(f"  By {title}:")
        lines.append(
            f"  {title:<{row_width}}  "
            + "  ".join(f"{t:>{w}}" for t, w in zip(technologies, columns, strict=True))
        )
        for row in rows:
            cells = (f"{table[(row, t)]:>{w},}" for t, w in zip(technologies, columns, strict=True))
            lines.append(f"  {row:<{row_width}}  " + "  ".join(cells))
    return lines


def _write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, _PUBLIC_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _CsvOutput:
    """A CSV of verified leaves that only appears at ``path`` once the whole log verified."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Written beside the target and renamed at the end, so a failed run never leaves a
        # file of unverified leaves behind.
        fd, self._tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        os.chmod(self._tmp, _PUBLIC_FILE_MODE)
        self._writer = csv.DictWriter(self._file, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()

    def write(self, leaf: dict[str, Any]) -> None:
        self._writer.writerow(leaf)

    def commit(self) -> None:
        self._file.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Remove the temporary file unless it was committed (safe to call twice)."""
        self._file.close()
        Path(self._tmp).unlink(missing_ok=True)


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a YYYY-MM-DD date") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sightline-verify",
        description=(
            "Check a Sightline public log yourself: download its public key, its latest signed "
            "tree head and every public leaf, recompute the root and check the signature, and "
            "with --previous prove the log only grew since a head you saved. Prints per-"
            "technology counts recomputed from the leaves."
        ),
        epilog=(
            "Exit status: 0 the log verifies; 1 it does not (a line starting FAILED: says "
            "what); 2 the check could not be made (network, unreadable file)."
        ),
    )
    parser.add_argument("--url", required=True, help="the site, e.g. https://sightline.example.org")
    parser.add_argument(
        "--previous", type=Path, metavar="HEAD.json", help="a head saved earlier with --save"
    )
    parser.add_argument(
        "--save", type=Path, metavar="HEAD.json", help="save the verified head here for next time"
    )
    parser.add_argument(
        "--key-id",
        metavar="HEX",
        help="the key id you expect, published somewhere you trust (e.g. a council record)",
    )
    parser.add_argument(
        "--csv", type=Path, metavar="FILE", help="also write every verified leaf to a CSV file"
    )
    parser.add_argument(
        "--since", type=_date_arg, metavar="YYYY-MM-DD", help="count from this date"
    )
    parser.add_argument("--until", type=_date_arg, metavar="YYYY-MM-DD", help="count to this date")
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per request (default 30)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: Callable[[str, float], JsonClient] | None = None,
) -> int:
    """Run the command line; return the exit status (0 OK, 1 FAILED, 2 could not check).

    ``client_factory(url, timeout)`` builds the client (LogClient by default).
    """
    args = _parser().parse_args(argv)

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    def unavailable(message: str) -> int:
        print(f"ERROR: {message}", file=sys.stderr)
        print("Nothing was verified: this is not a verdict on the log.", file=sys.stderr)
        return EXIT_UNAVAILABLE

    previous = None
    if args.previous is not None:
        try:
            previous = parse_json(args.previous.read_bytes())
        except (OSError, ValueError) as error:
            return unavailable(f"cannot read the saved head {args.previous}: {error}")

    try:
        client = (client_factory or _default_client)(args.url, args.timeout)
    except ValueError as error:
        return unavailable(str(error))

    say(f"Verifying the log at {args.url}")
    try:
        csv_out = _CsvOutput(args.csv) if args.csv is not None else None
    except OSError as error:
        return unavailable(f"cannot write {args.csv}: {error}")
    try:
        result = verify(
            client,
            previous,
            expected_key_id=args.key_id,
            since=args.since,
            until=args.until,
            progress=say,
            on_leaf=csv_out.write if csv_out else None,
        )
        if csv_out is not None:
            csv_out.commit()
    except VerificationFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return EXIT_FAILED
    except FetchError as error:
        return unavailable(str(error))
    except OSError as error:
        return unavailable(f"cannot write {args.csv}: {error}")
    finally:
        if csv_out is not None:
            csv_out.discard()

    if args.save is not None:
        try:
            _write_json_atomically(args.save, result.head)
        except OSError as error:
            return unavailable(f"the log verified, but the head could not be saved: {error}")
        say(f"Saved the verified head to {args.save}; use --previous {args.save} next time.")
    if args.csv is not None:
        say(f"Wrote {result.tree_size:,} verified leaves to {args.csv}.")
    for line in format_counts(result.counts):
        print(line)
    print(f"OK: {result.tree_size} entries, root {result.root_hash}")
    return EXIT_OK


def _default_client(url: str, timeout: float) -> JsonClient:
    return LogClient(url, timeout=timeout)


def run() -> None:
    """Entry point of the `sightline-verify` command."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted: nothing was verified.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run()
