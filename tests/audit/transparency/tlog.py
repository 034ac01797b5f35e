"""Builders shared by the tests of the C2SP surfaces: a log of n entries with published heads."""

import hashlib
from datetime import UTC, datetime, timedelta

from sightline_verifier.note import parse_vkey

from audit.log.parsing import QueryInput
from audit.log.services import record_queries
from audit.models import LogState, SignedTreeHead
from audit.transparency import checkpoints
from audit.transparency.services import publish_tree_head


def query(n: int) -> QueryInput:
    return QueryInput(
        technology=("face-recognition", "license-plate-reader", "nibin")[n % 3],
        query_type=("photo-probe", "plate-search", "casing-correlation")[n % 3],
        occurred_at=datetime(2026, 3, 1, 14, 0, tzinfo=UTC) + timedelta(hours=5 * n),
        operator=f"B{1000 + n % 4}",
        target_fingerprint=hashlib.sha256(f"target {n}".encode()).hexdigest(),
        offense_code=("09A", "", "120", "13A")[n % 4],
        justification=f"Investigation of incident {n}, lead from the camera network.",
        case_number="" if n % 5 == 0 else f"2026-{n:06d}",
        supervisor="" if n % 2 else "B2001",
        requesting_agency="BPD",
        on_behalf_of="" if n % 3 else "Hoover PD",
        scope=("local", "regional", "national")[n % 3],
        result_count=n % 7,
        client_ref=f"tlog-{n}",
    )


def grow(integration, to_size: int, *, publish: bool = True) -> SignedTreeHead | None:
    """Record entries until the log holds to_size, then (by default) publish its head."""
    size = LogState.objects.get(id=1).size
    while size < to_size:
        count = min(1000, to_size - size)
        record_queries(integration=integration, queries=[query(size + i) for i in range(count)])
        size += count
    return publish_tree_head(force=True) if publish else None


def log_verifier():
    return parse_vkey(checkpoints.verifier_key())
