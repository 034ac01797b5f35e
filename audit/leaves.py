"""What each log entry publishes: its public leaf, the commitment to its private fields, its hash.

`leaf_bytes` is the single definition used when an entry is recorded, when the public API serves
it and when verify_log recomputes it from the stored row, so they can never disagree. It writes
the canonical JSON (sorted keys, no spaces, UTF-8) of the fixed leaf schema directly, which is
several times faster than `json.dumps(..., sort_keys=True)`; the tests prove it byte-equal to
`audit.merkle.canonical_json` of the same objects.
"""

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

LEAF_VERSION = 1
# The C-accelerated string encoder json.dumps(ensure_ascii=False) itself uses.
_string = json.encoder.encode_basestring
_sha256 = hashlib.sha256


def iso_utc(moment: datetime) -> str:
    """A timestamp in the one form the log commits to: UTC, microseconds, '+00:00'."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _present(value: str) -> str:
    return "true" if value else "false"


def _nullable_string(value: str | None) -> str:
    return "null" if value is None else _string(value)


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
    return (
        f'{{"case_number":{_string(case_number)},'
        f'"client_ref":{_nullable_string(client_ref)},'
        f'"integration":{_string(integration_id)},'
        f'"justification":{_string(justification)},'
        f'"occurred_at":{_string(occurred_at)},'
        f'"offense_code":{_string(offense_code)},'
        f'"on_behalf_of":{_string(on_behalf_of)},'
        f'"operator":{_string(operator_badge)},'
        f'"recorded_at":{_string(recorded_at)},'
        f'"result_count":{"null" if result_count is None else int(result_count)},'
        f'"supervisor":{_string(supervisor_badge)},'
        f'"target_fingerprint":{_string(target_fingerprint)}}}'
    ).encode()


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
    """Canonical JSON of the public leaf; `private` is the entry's commitment_bytes.

    The leaf holds only public fields, the local date (never a time), presence flags instead of
    values, and private_commitment = SHA-256(salt || private) so nobody can guess sealed values.
    """
    commitment = _sha256(salt + private).hexdigest()
    return (
        f'{{"agency":{_string(agency)},'
        f'"case_number_present":{_present(case_number)},'
        f'"date":{_string(local_date)},'
        f'"offense_category":{_string(offense_category)},'
        f'"on_behalf_of_present":{_present(on_behalf_of)},'
        f'"private_commitment":"{commitment}",'
        f'"query_type":{_string(query_type)},'
        f'"scope":{_string(scope)},'
        f'"sequence":{int(sequence)},'
        f'"supervisor_present":{_present(supervisor_badge)},'
        f'"technology":{_string(technology)},'
        f'"v":{LEAF_VERSION}}}'
    ).encode()


#: The stored values `leaf_hashes_of_rows` reads from each row, in this order. Times are the
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


class _QuotedCache(dict):
    """JSON strings of values seen before: most columns repeat a few values (technologies,
    query types, agencies, badges, offenses), so each is escaped once per call."""

    __slots__ = ()

    def __missing__(self, value: str) -> str:
        quoted = self[value] = _string(value)
        return quoted


def leaf_hashes_of_rows(rows) -> list[bytes]:
    """RFC 6962 leaf hashes (32 bytes each) of many stored entries, given as ROW_FIELDS tuples.

    The same bytes as `leaf_bytes(..., private=commitment_bytes(...))` for each row, in one
    tight loop (no keyword calls or helpers per field): verify_log spends most of its time
    here. The tests prove it byte-equal to the keyword functions and to `json.dumps`.
    """
    string = _string
    quoted = _QuotedCache()  # only for the columns with few distinct values
    sha256 = _sha256
    fromhex = bytes.fromhex
    out = []
    append = out.append
    for (sequence, recorded_at, occurred_at, local_date, technology, query_type,
         integration_id, agency, on_behalf_of, operator_badge, supervisor_badge,
         target_fingerprint, offense_code, category, justification, case_number, scope,
         result_count, client_ref, salt) in rows:  # fmt: skip
        private = (
            f'{{"case_number":{string(case_number)},'
            f'"client_ref":{"null" if client_ref is None else string(client_ref)},'
            f'"integration":{quoted[integration_id]},'
            f'"justification":{string(justification)},'
            f'"occurred_at":{string(occurred_at)},'
            f'"offense_code":{quoted[offense_code]},'
            f'"on_behalf_of":{quoted[on_behalf_of]},'
            f'"operator":{quoted[operator_badge]},'
            f'"recorded_at":{string(recorded_at)},'
            f'"result_count":{"null" if result_count is None else int(result_count)},'
            f'"supervisor":{quoted[supervisor_badge]},'
            f'"target_fingerprint":{string(target_fingerprint)}}}'
        ).encode()
        leaf = (
            f'\x00{{"agency":{quoted[agency]},'
            f'"case_number_present":{"true" if case_number else "false"},'
            f'"date":{quoted[local_date]},'
            f'"offense_category":{quoted[category]},'
            f'"on_behalf_of_present":{"true" if on_behalf_of else "false"},'
            f'"private_commitment":"{sha256(fromhex(salt) + private).hexdigest()}",'
            f'"query_type":{quoted[query_type]},'
            f'"scope":{quoted[scope]},'
            f'"sequence":{int(sequence)},'
            f'"supervisor_present":{"true" if supervisor_badge else "false"},'
            f'"technology":{quoted[technology]},'
            f'"v":{LEAF_VERSION}}}'
        )
        append(sha256(leaf.encode()).digest())
    return out


def leaf_hash_hex(data: bytes) -> str:
    """RFC 6962 leaf hash SHA-256(0x00 || leaf bytes), hex."""
    return _sha256(b"\x00" + data).hexdigest()


def entry_leaf_bytes(entry) -> bytes:
    """Recompute the leaf bytes of a stored QueryLogEntry (or an object with its attributes)."""
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


def entry_leaf(entry) -> dict[str, Any]:
    """The public leaf of a stored entry as a JSON object (what the public API serves)."""
    return json.loads(entry_leaf_bytes(entry))
