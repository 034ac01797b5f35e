"""What each log entry publishes: its public leaf, the commitment to its private fields, its hash.

These functions are the single definition used when an entry is recorded and when verify_log
recomputes it from the stored row, so the two can never disagree.
"""

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from audit.merkle import canonical_json, leaf_hash

LEAF_VERSION = 1


def iso_utc(moment: datetime) -> str:
    """A timestamp in the one form the log commits to: UTC, microseconds, '+00:00'."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def private_fields(
    *,
    recorded_at: datetime,
    occurred_at: datetime,
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
) -> dict[str, Any]:
    """Every recorded field that the public leaf does not show, in committed form."""
    return {
        "recorded_at": iso_utc(recorded_at),
        "occurred_at": iso_utc(occurred_at),
        "integration": integration_id,
        "operator": operator_badge,
        "supervisor": supervisor_badge,
        "on_behalf_of": on_behalf_of,
        "target_fingerprint": target_fingerprint,
        "offense_code": offense_code,
        "justification": justification,
        "case_number": case_number,
        "result_count": result_count,
        "client_ref": client_ref,
    }


def private_commitment(salt: bytes, fields: dict[str, Any]) -> str:
    """SHA-256(salt || canonical JSON of the private fields), hex. The salt stops guessing."""
    return hashlib.sha256(salt + canonical_json(fields)).hexdigest()


def public_leaf(
    *,
    sequence: int,
    local_date: date,
    technology: str,
    query_type: str,
    agency: str,
    on_behalf_of_present: bool,
    offense_category: str,
    case_number_present: bool,
    supervisor_present: bool,
    scope: str,
    commitment: str,
) -> dict[str, Any]:
    """The public leaf: only public fields, dates not times, presence flags instead of values."""
    return {
        "v": LEAF_VERSION,
        "sequence": sequence,
        "date": local_date.isoformat(),
        "technology": technology,
        "query_type": query_type,
        "agency": agency,
        "on_behalf_of_present": on_behalf_of_present,
        "offense_category": offense_category,
        "case_number_present": case_number_present,
        "supervisor_present": supervisor_present,
        "scope": scope,
        "private_commitment": commitment,
    }


def leaf_hash_hex(leaf: dict[str, Any]) -> str:
    """RFC 6962 leaf hash of the canonical JSON of a public leaf, hex."""
    return leaf_hash(canonical_json(leaf)).hex()


def entry_leaf(entry) -> dict[str, Any]:
    """Recompute the public leaf of a stored QueryLogEntry from its row."""
    fields = private_fields(
        recorded_at=entry.recorded_at,
        occurred_at=entry.occurred_at,
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
    )
    return public_leaf(
        sequence=entry.sequence,
        local_date=entry.local_date,
        technology=entry.technology_id,
        query_type=entry.query_type,
        agency=entry.requesting_agency_code,
        on_behalf_of_present=bool(entry.on_behalf_of),
        offense_category=entry.offense_category,
        case_number_present=bool(entry.case_number),
        supervisor_present=bool(entry.supervisor_badge),
        scope=entry.scope,
        commitment=private_commitment(bytes.fromhex(entry.salt), fields),
    )
