"""The canonical leaf of a Sightline log entry: the one written-down definition.

The server records entries with it, serves them with it and rechecks them with it (verify_log),
and this package's verifier recomputes them with it, so the layout exists once. An entry's
public leaf is the canonical JSON (sorted keys, no spaces, UTF-8, see `merkle.canonical_json`)
of its public fields, the local date (never a time), presence flags instead of private values,
and private_commitment = SHA-256(salt || canonical JSON of the private fields).

The JSON is written directly rather than through `json.dumps(..., sort_keys=True)` because it is
several times faster; the tests hold it byte-equal to `canonical_json` of the same objects.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

LEAF_VERSION = 1
# The C-accelerated string encoder json.dumps(ensure_ascii=False) itself uses.
_string = json.encoder.encode_basestring
_sha256 = hashlib.sha256

#: The stored values of an entry, in the order `leaf_bytes_of_row` reads them. Times are the
#: committed text (`iso_utc`), the date ISO 8601, the salt hex; the rest as stored.
ROW_FIELDS = (
    "sequence",
    "recorded_at",
    "occurred_at",
    "local_date",
    "technology",
    "query_type",
    "integration_id",
    "agency",
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
)


def iso_utc(moment: datetime) -> str:
    """A timestamp in the one form the log commits to: UTC, microseconds, '+00:00'."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _private(
    recorded_at, occurred_at, integration_id, operator_badge, supervisor_badge,
    target_fingerprint, offense_code, justification, case_number, on_behalf_of,
    result_count, client_ref, quote=_string,
) -> bytes:  # fmt: skip
    # The private fields, sealed by the commitment. `quote` may be a cache of _string for the
    # columns with few distinct values.
    return (
        f'{{"case_number":{_string(case_number)},'
        f'"client_ref":{"null" if client_ref is None else _string(client_ref)},'
        f'"integration":{quote(integration_id)},'
        f'"justification":{_string(justification)},'
        f'"occurred_at":{_string(occurred_at)},'
        f'"offense_code":{quote(offense_code)},'
        f'"on_behalf_of":{quote(on_behalf_of)},'
        f'"operator":{quote(operator_badge)},'
        f'"recorded_at":{_string(recorded_at)},'
        f'"result_count":{"null" if result_count is None else int(result_count)},'
        f'"supervisor":{quote(supervisor_badge)},'
        f'"target_fingerprint":{_string(target_fingerprint)}}}'
    ).encode()


def _public(
    sequence, local_date, technology, query_type, agency, on_behalf_of, offense_category,
    case_number, supervisor_badge, scope, commitment: str, quote=_string,
) -> bytes:  # fmt: skip
    return (
        f'{{"agency":{quote(agency)},'
        f'"case_number_present":{"true" if case_number else "false"},'
        f'"date":{quote(local_date)},'
        f'"offense_category":{quote(offense_category)},'
        f'"on_behalf_of_present":{"true" if on_behalf_of else "false"},'
        f'"private_commitment":"{commitment}",'
        f'"query_type":{quote(query_type)},'
        f'"scope":{quote(scope)},'
        f'"sequence":{int(sequence)},'
        f'"supervisor_present":{"true" if supervisor_badge else "false"},'
        f'"technology":{quote(technology)},'
        f'"v":{LEAF_VERSION}}}'
    ).encode()


def commitment_bytes(
    *,
    recorded_at: str,
    occurred_at: str,
    integration_id: str,
    operator_badge: str,
    supervisor_badge: str,
    on_behalf_of: str,
    target_fingerprint: str,
    offense_code: str,
    justification: str,
    case_number: str,
    result_count: int | None,
    client_ref: str | None,
) -> bytes:
    """Canonical JSON of every recorded field the public leaf does not show (times as iso_utc)."""
    return _private(
        recorded_at, occurred_at, integration_id, operator_badge, supervisor_badge,
        target_fingerprint, offense_code, justification, case_number, on_behalf_of,
        result_count, client_ref,
    )  # fmt: skip


def leaf_bytes(
    *,
    sequence: int,
    local_date: str,
    technology: str,
    query_type: str,
    agency: str,
    on_behalf_of: str,
    offense_category: str,
    case_number: str,
    supervisor_badge: str,
    scope: str,
    salt: bytes,
    private: bytes,
) -> bytes:
    """Canonical JSON of the public leaf; `private` is the entry's commitment_bytes."""
    return _public(
        sequence, local_date, technology, query_type, agency, on_behalf_of, offense_category,
        case_number, supervisor_badge, scope, _sha256(salt + private).hexdigest(),
    )  # fmt: skip


class _QuotedCache(dict):
    """JSON strings of values seen before: most columns repeat a few values (technologies,
    query types, agencies, badges, offenses), so each is escaped once per call."""

    __slots__ = ()

    def __missing__(self, value: str) -> str:
        quoted = self[value] = _string(value)
        return quoted


def leaf_hashes_of_rows(rows) -> list[bytes]:
    """RFC 6962 leaf hashes (32 bytes each) of many stored entries, given as ROW_FIELDS tuples."""
    quote = _QuotedCache().__getitem__
    sha256 = _sha256
    fromhex = bytes.fromhex
    out = []
    append = out.append
    for (sequence, recorded_at, occurred_at, local_date, technology, query_type,
         integration_id, agency, on_behalf_of, operator_badge, supervisor_badge,
         target_fingerprint, offense_code, category, justification, case_number, scope,
         result_count, client_ref, salt) in rows:  # fmt: skip
        private = _private(
            recorded_at, occurred_at, integration_id, operator_badge, supervisor_badge,
            target_fingerprint, offense_code, justification, case_number, on_behalf_of,
            result_count, client_ref, quote,
        )  # fmt: skip
        leaf = _public(
            sequence, local_date, technology, query_type, agency, on_behalf_of, category,
            case_number, supervisor_badge, scope, sha256(fromhex(salt) + private).hexdigest(),
            quote,
        )  # fmt: skip
        append(sha256(b"\x00" + leaf).digest())
    return out


def leaf_hash_hex(data: bytes) -> str:
    """RFC 6962 leaf hash SHA-256(0x00 || leaf bytes), hex."""
    return _sha256(b"\x00" + data).hexdigest()


def entry_leaf_bytes(entry: Any) -> bytes:
    """The leaf bytes of a stored entry (any object with QueryLogEntry's field attributes)."""
    local_date = entry.local_date
    return leaf_bytes(
        sequence=entry.sequence,
        local_date=local_date.isoformat() if isinstance(local_date, date) else local_date,
        technology=entry.technology_id,
        query_type=entry.query_type,
        agency=entry.requesting_agency_code,
        on_behalf_of=entry.on_behalf_of,
        offense_category=entry.offense_category,
        case_number=entry.case_number,
        supervisor_badge=entry.supervisor_badge,
        scope=entry.scope,
        salt=bytes.fromhex(entry.salt),
        private=commitment_bytes(
            recorded_at=iso_utc(entry.recorded_at),
            occurred_at=iso_utc(entry.occurred_at),
            integration_id=entry.integration_id,
            operator_badge=entry.operator_badge,
            supervisor_badge=entry.supervisor_badge,
            on_behalf_of=entry.on_behalf_of,
            target_fingerprint=entry.target_fingerprint,
            offense_code=entry.offense_code,
            justification=entry.justification,
            case_number=entry.case_number,
            result_count=entry.result_count,
            client_ref=entry.client_ref,
        ),
    )


def entry_leaf(entry: Any) -> dict[str, Any]:
    """The public leaf of a stored entry as a JSON object (what the public API serves)."""
    return json.loads(entry_leaf_bytes(entry))
