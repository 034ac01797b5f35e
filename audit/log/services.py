"""Every write to the query log: recording queries and their outcomes, integration keys."""

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection, transaction
from django.utils import timezone
from sightline_verifier.leaf import iso_utc, leaf_hashes_of_rows

from audit.flags import rules as flags
from audit.flags.services import flag_new_entries
from audit.log import signals
from audit.log.bulk import gc_paused, insert_rows, utc_datetime_adapter
from audit.log.models import INTEGRATION_PREFIX, target_prefix
from audit.log.nibrs import offense_category
from audit.log.parsing import QueryInput
from audit.models import (
    Agency,
    Integration,
    LogState,
    MerkleNode,
    Operator,
    QueryLogEntry,
    QueryOutcome,
    Technology,
)
from audit.transparency.services import publish_tree_head_if_due


class IdempotencyConflict(Exception):
    """A client_ref was already recorded by this integration with different content."""

    def __init__(self, client_refs: list[str]):
        super().__init__(
            "client_ref already recorded with different content: " + ", ".join(client_refs)
        )
        self.client_refs = client_refs
        self.positions: list[int] | None = None  # indexes in the request, set by the API


# Not frozen, like QueryInput: one is built per recorded query.
@dataclass(slots=True)
class RecordedQuery:
    """What the log promises about one recorded query."""

    sequence: int
    leaf_hash: str
    recorded_at: datetime
    flags: tuple[str, ...]
    created: bool

    def as_response(self) -> dict:
        return {
            "sequence": self.sequence,
            "leaf_hash": self.leaf_hash,
            "recorded_at": iso_utc(self.recorded_at),
            "flags": list(self.flags),
        }


@dataclass(slots=True)
class RecordedEntry:
    """The facts of a just-written entry that flags and aggregates need (no re-read)."""

    sequence: int
    occurred_at: datetime
    local_date: date
    technology_id: str
    query_type: str
    requesting_agency_code: str
    on_behalf_of: str
    operator_badge: str
    operator_id: int | None
    supervisor_badge: str
    target_fingerprint: str
    offense_code: str
    offense_category: str
    justification: str
    case_number: str
    scope: str
    leaf_hash: str
    integration_id: int | None = None


def technology_query_types() -> dict[str, frozenset[str]]:
    """Each technology slug with its allowed query types (what the parser needs)."""
    return {
        slug: frozenset(types)
        for slug, types in Technology.objects.values_list("slug", "query_types")
    }


def _content_of_input(query: QueryInput) -> tuple:
    return (
        query.technology,
        query.query_type,
        query.occurred_at,
        query.operator,
        query.target_fingerprint,
        query.offense_code,
        query.justification,
        query.case_number,
        query.supervisor,
        query.requesting_agency,
        query.on_behalf_of,
        query.scope,
        query.result_count,
    )


def _content_of_entry(entry: QueryLogEntry) -> tuple:
    return (
        entry.technology_id,
        entry.query_type,
        entry.occurred_at,
        entry.operator_badge,
        entry.target_fingerprint,
        entry.offense_code,
        entry.justification,
        entry.case_number,
        entry.supervisor_badge,
        entry.requesting_agency_code,
        entry.on_behalf_of,
        entry.scope,
        entry.result_count,
    )


def _lock_log() -> LogState:
    """Take the log's append lock for the rest of the transaction and return its state.

    On PostgreSQL this is a row lock on the single state row; on SQLite the IMMEDIATE
    transaction already holds the database's write lock.
    """
    return LogState.objects.select_for_update().get(id=1)


# The entry's columns in the order the recording path builds its rows.
_ENTRY_FIELD_NAMES = (
    "sequence", "recorded_at", "occurred_at", "local_date", "technology", "query_type",
    "integration", "requesting_agency_code", "requesting_agency", "on_behalf_of",
    "operator_badge", "operator", "supervisor_badge", "supervisor", "target_fingerprint",
    "target_prefix", "offense_code", "offense_category", "justification", "case_number", "scope",
    "result_count", "client_ref", "salt", "leaf_hash",
)  # fmt: skip
# A column added to the model without a database default fails every insert (NOT NULL), and
# tests/audit/log/test_bulk_recording.py checks that the list covers every column.
_ENTRY_FIELDS = [QueryLogEntry._meta.get_field(name) for name in _ENTRY_FIELD_NAMES]
_NODE_FIELDS = [MerkleNode._meta.get_field(name) for name in ("level", "index", "hash")]


def _in_chunks(values: list) -> list[list]:
    """Split the values of an IN list so that no statement exceeds the backend's parameters."""
    size = (connection.features.max_query_params or 10_000) - 10
    return [values[start : start + size] for start in range(0, len(values), size)]


def _existing_entries(integration: Integration, refs: list[str]) -> dict[str, QueryLogEntry]:
    """The entries this integration already recorded under any of these client_refs."""
    table = connection.ops.quote_name(QueryLogEntry._meta.db_table)
    # The expression of the client_ref_unique_per_integration index, written as that index's
    # definition writes it (the prefix a literal, not a parameter), so that both databases read
    # the index. The whole id is compared here, not in SQL: with "integration_id = %s" there,
    # SQLite puts that constant into the expression and no longer sees the index's.
    if connection.vendor == "postgresql":
        where = f"LEFT(integration_id, {INTEGRATION_PREFIX}) = %s"
    else:
        where = f"SUBSTR(integration_id, 1, {INTEGRATION_PREFIX}) = %s"
    prefix = integration.pk[:INTEGRATION_PREFIX]
    found: list[tuple[int, str]] = []
    # A bare existence check first: a fresh batch (the usual case) loads no entry at all.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT sequence, integration_id FROM {table} "  # noqa: S608
                f"WHERE {where} AND client_ref = ANY(%s)",
                [prefix, refs],
            )
            found.extend(cursor.fetchall())
        else:
            for chunk in _in_chunks(refs):
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT sequence, integration_id FROM {table} "  # noqa: S608
                    f"WHERE {where} AND client_ref IN ({marks})",
                    [prefix, *chunk],
                )
                found.extend(cursor.fetchall())
    sequences = [sequence for sequence, of in found if of == integration.pk]
    existing: dict[str, QueryLogEntry] = {}
    for chunk in _in_chunks(sequences):
        for entry in QueryLogEntry.objects.filter(sequence__in=chunk):
            existing[entry.client_ref] = entry
    return existing


def record_queries(*, integration: Integration, queries: list[QueryInput]) -> list[RecordedQuery]:
    """Append the queries to the log atomically, in order, and return what was recorded.

    A query whose client_ref this integration already recorded with the same content is not
    written again: its original result comes back with created=False. Different content under
    a recorded client_ref raises IdempotencyConflict and nothing is written.

    Any number of queries may be passed (the API sends at most 1000; importers send larger
    batches): the work per query is plain Python over tuples, and every table is written with
    one prepared statement (COPY on PostgreSQL), so a large batch costs far less per query.
    """
    with gc_paused(), transaction.atomic():
        return _record(integration, queries)


def _record(integration: Integration, queries: list[QueryInput]) -> list[RecordedQuery]:
    state = _lock_log()

    refs = [q.client_ref for q in queries if q.client_ref is not None]
    existing = _existing_entries(integration, refs) if refs else {}
    conflicts = [
        q.client_ref
        for q in queries
        if q.client_ref in existing
        and _content_of_input(q) != _content_of_entry(existing[q.client_ref])
    ]
    if conflicts:
        raise IdempotencyConflict(conflicts)

    if existing:
        fresh = [q for q in queries if q.client_ref is None or q.client_ref not in existing]
    else:
        fresh = queries
    if fresh:
        recorded_at, recorded, new_flags = _append(integration, state, fresh)
    else:
        recorded_at, recorded, new_flags = None, [], {}
    old_flags = flags.stored_flags([e.sequence for e in existing.values()]) if existing else {}

    no_flags = ()
    if not existing:
        return [
            RecordedQuery(
                e.sequence,
                e.leaf_hash,
                recorded_at,
                tuple(new_flags.get(e.sequence, no_flags)),
                True,
            )
            for e in recorded
        ]
    results = []
    new = iter(recorded)
    for q in queries:
        if q.client_ref is not None and q.client_ref in existing:
            entry = existing[q.client_ref]
            results.append(
                RecordedQuery(
                    entry.sequence,
                    entry.leaf_hash,
                    entry.recorded_at,
                    tuple(old_flags.get(entry.sequence, ())),
                    False,
                )
            )
        else:
            e = next(new)
            results.append(
                RecordedQuery(
                    e.sequence,
                    e.leaf_hash,
                    recorded_at,
                    tuple(new_flags.get(e.sequence, no_flags)),
                    True,
                )
            )
    return results


def _append(
    integration: Integration, state: LogState, fresh: list[QueryInput]
) -> tuple[datetime, list[RecordedEntry], dict[int, list[str]]]:
    """Write the fresh queries after the log's end (the lock is held): entries, Merkle nodes,
    the log state and flags, then tell the rollups; returns (recorded_at, entries, flags)."""
    agencies = dict(Agency.objects.values_list("code", "id"))
    badges = {q.operator for q in fresh} | {q.supervisor for q in fresh if q.supervisor}
    operators = {}
    for chunk in _in_chunks(sorted(badges)):
        operators.update(
            Operator.objects.filter(badge_number__in=chunk).values_list("badge_number", "id")
        )
    levels = [level for level, _ in state.frontier]
    hashes = [bytes.fromhex(h) for _, h in state.frontier]
    if sum(1 << level for level in levels) != state.size or levels != sorted(levels, reverse=True):
        raise RuntimeError("Log state is inconsistent: frontier does not match size.")

    recorded_at = timezone.now()
    recorded_at_iso = iso_utc(recorded_at)
    integration_id = integration.pk
    local_tz = timezone.get_default_timezone()
    adapt_dt = utc_datetime_adapter()
    adapt_date = connection.ops.adapt_datefield_value
    recorded_at_db = adapt_dt(recorded_at)
    first = state.size
    salts = os.urandom(16 * len(fresh)).hex()  # 16 random bytes per entry

    # Values that repeat across a batch are computed once: local dates, offense groups.
    days: dict[date, tuple[date, str, object]] = {}
    categories: dict[str, str] = {}
    leaf_rows = []
    locals_ = []
    for i, q in enumerate(fresh):
        # In UTC, as stored: flags and rollups then read the same local time as from the log.
        occurred = q.occurred_at.astimezone(UTC)
        day = occurred.astimezone(local_tz).date()
        facts = days.get(day)
        if facts is None:
            facts = days[day] = (day, day.isoformat(), adapt_date(day))
        category = categories.get(q.offense_code)
        if category is None:
            category = categories[q.offense_code] = offense_category(q.offense_code)
        locals_.append((occurred, facts, category))
        leaf_rows.append(
            (
                first + i, recorded_at_iso, iso_utc(occurred), facts[1], q.technology,
                q.query_type, integration_id, q.requesting_agency, q.on_behalf_of, q.operator,
                q.supervisor, q.target_fingerprint, q.offense_code, category, q.justification,
                q.case_number, q.scope, q.result_count, q.client_ref, salts[32 * i : 32 * i + 32],
            )
        )  # fmt: skip
    # The canonical leaves and their RFC 6962 hashes, by the verifier package's own code.
    digests = leaf_hashes_of_rows(leaf_rows)

    sha256 = hashlib.sha256
    entry_rows: list[tuple] = []
    node_rows: list[tuple] = []
    recorded: list[RecordedEntry] = []
    get_agency = agencies.get
    get_operator = operators.get
    prefix_of = target_prefix
    for i, (q, digest, (occurred, facts, category)) in enumerate(
        zip(fresh, digests, locals_, strict=True)
    ):
        sequence = first + i
        # Append the leaf to the tree: each trailing one bit of the sequence closes a subtree.
        h, level = digest, 0
        while levels and levels[-1] == level:
            levels.pop()
            h = sha256(b"\x01" + hashes.pop() + h).digest()
            level += 1
            node_rows.append((level, sequence >> level, h.hex()))
        levels.append(level)
        hashes.append(h)
        leaf_hash = digest.hex()
        operator_id = get_operator(q.operator)
        supervisor = q.supervisor
        entry_rows.append(
            (
                sequence, recorded_at_db, adapt_dt(occurred), facts[2], q.technology,
                q.query_type, integration_id, q.requesting_agency, get_agency(q.requesting_agency),
                q.on_behalf_of, q.operator, operator_id, supervisor,
                get_operator(supervisor) if supervisor else None, q.target_fingerprint,
                prefix_of(q.target_fingerprint), q.offense_code, category, q.justification,
                q.case_number, q.scope, q.result_count, q.client_ref, leaf_rows[i][19], leaf_hash,
            )
        )  # fmt: skip
        recorded.append(
            RecordedEntry(
                sequence, occurred, facts[0], q.technology, q.query_type,
                q.requesting_agency, q.on_behalf_of, q.operator, operator_id, supervisor,
                q.target_fingerprint, q.offense_code, category, q.justification, q.case_number,
                q.scope, leaf_hash, integration_id,
            )
        )  # fmt: skip

    insert_rows(QueryLogEntry, _ENTRY_FIELDS, entry_rows)
    insert_rows(MerkleNode, _NODE_FIELDS, node_rows)
    LogState.objects.filter(id=1).update(
        size=first + len(fresh),
        frontier=[[level, h.hex()] for level, h in zip(levels, hashes, strict=True)],
    )
    new_flags = flag_new_entries(recorded, newest=True)
    signals.queries_recorded.send(sender=QueryLogEntry, entries=recorded, flags=new_flags)
    # robust: the queries are recorded whatever happens to the head; it is retried later.
    transaction.on_commit(publish_tree_head_if_due, robust=True)
    return recorded_at, recorded, new_flags


@dataclass(frozen=True, slots=True)
class OutcomeInput:
    """An outcome to append to the recorded query with this sequence."""

    sequence: int
    outcome: str
    integration: Integration | None
    note: str = ""


@transaction.atomic
def record_outcomes(*, outcomes: list[OutcomeInput]) -> list[QueryOutcome]:
    """Append outcomes (lead, arrest, ...) to recorded queries, all or none."""
    now = timezone.now()
    created = QueryOutcome.objects.bulk_create(
        [
            QueryOutcome(
                entry_id=o.sequence,
                outcome=o.outcome,
                note=o.note,
                recorded_at=now,
                integration=o.integration,
            )
            for o in outcomes
        ]
    )
    signals.outcomes_recorded.send(sender=QueryOutcome, outcomes=created)
    return created


def record_outcome(
    *, integration: Integration | None, entry: QueryLogEntry, outcome: str, note: str = ""
) -> QueryOutcome:
    """Append one outcome to a recorded query."""
    return record_outcomes(outcomes=[OutcomeInput(entry.sequence, outcome, integration, note)])[0]


def create_integration(*, agency: Agency, name: str, expires_at=None) -> tuple[Integration, str]:
    """Create a machine client and return it with its key, which is shown this once only."""
    integration, key = Integration.objects.create_key(
        agency=agency, name=name, expiry_date=expires_at
    )
    return integration, key
