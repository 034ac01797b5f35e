"""Every write to the query log: recording queries and their outcomes, integration keys."""

import os
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone
from sightline_verifier.leaf import commitment_bytes, iso_utc, leaf_bytes, leaf_hash_hex
from sightline_verifier.merkle import TreeBuilder

from audit.flags import rules as flags
from audit.flags.services import flag_new_entries
from audit.log import signals
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


@dataclass(frozen=True, slots=True)
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


_ENTRY_FIELDS = [f for f in QueryLogEntry._meta.concrete_fields]
_NODE_FIELDS = [f for f in MerkleNode._meta.concrete_fields if not f.primary_key]


def _insert_sql(model, fields) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Names come from the model's own metadata, never from input.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


@transaction.atomic
def record_queries(*, integration: Integration, queries: list[QueryInput]) -> list[RecordedQuery]:
    """Append the queries to the log atomically, in order, and return what was recorded.

    A query whose client_ref this integration already recorded with the same content is not
    written again: its original result comes back with created=False. Different content under
    a recorded client_ref raises IdempotencyConflict and nothing is written.
    """
    state = _lock_log()

    refs = [q.client_ref for q in queries if q.client_ref is not None]
    existing: dict[str, QueryLogEntry] = {}
    if refs:
        for entry in QueryLogEntry.objects.filter(integration=integration, client_ref__in=refs):
            existing[entry.client_ref] = entry
    conflicts = [
        q.client_ref
        for q in queries
        if q.client_ref in existing
        and _content_of_input(q) != _content_of_entry(existing[q.client_ref])
    ]
    if conflicts:
        raise IdempotencyConflict(conflicts)

    fresh = [q for q in queries if q.client_ref is None or q.client_ref not in existing]
    agencies = dict(Agency.objects.values_list("code", "id"))
    badges = {q.operator for q in fresh} | {q.supervisor for q in fresh if q.supervisor}
    operators = dict(
        Operator.objects.filter(badge_number__in=badges).values_list("badge_number", "id")
    )

    tree = TreeBuilder.from_frontier((level, bytes.fromhex(h)) for level, h in state.frontier)
    if tree.size != state.size:
        raise RuntimeError("Log state is inconsistent: frontier does not match size.")
    recorded_at = timezone.now()
    local_tz = timezone.get_default_timezone()
    adapt_dt = connection.ops.adapt_datetimefield_value
    adapt_date = connection.ops.adapt_datefield_value
    recorded_at_db = adapt_dt(recorded_at)
    recorded_at_iso = iso_utc(recorded_at)

    entry_rows: list[tuple] = []
    node_rows: list[tuple] = []
    new_results: dict[int, tuple[int, str]] = {}
    recorded: list[RecordedEntry] = []
    sequence = state.size
    for position, q in enumerate(queries):
        if q.client_ref is not None and q.client_ref in existing:
            continue
        salt = os.urandom(16)
        local_date = q.occurred_at.astimezone(local_tz).date()
        category = offense_category(q.offense_code)
        data = leaf_bytes(
            sequence=sequence,
            local_date=local_date.isoformat(),
            technology=q.technology,
            query_type=q.query_type,
            agency=q.requesting_agency,
            on_behalf_of=q.on_behalf_of,
            offense_category=category,
            case_number=q.case_number,
            supervisor_badge=q.supervisor,
            scope=q.scope,
            salt=salt,
            private=commitment_bytes(
                recorded_at=recorded_at_iso,
                occurred_at=iso_utc(q.occurred_at),
                integration_id=integration.pk,
                operator_badge=q.operator,
                supervisor_badge=q.supervisor,
                on_behalf_of=q.on_behalf_of,
                target_fingerprint=q.target_fingerprint,
                offense_code=q.offense_code,
                justification=q.justification,
                case_number=q.case_number,
                result_count=q.result_count,
                client_ref=q.client_ref,
            ),
        )
        digest = leaf_hash_hex(data)
        for level, index, node in tree.append(bytes.fromhex(digest)):
            if level > 0:
                node_rows.append((level, index, node.hex()))
        row = {
            "sequence": sequence,
            "recorded_at": recorded_at_db,
            "occurred_at": adapt_dt(q.occurred_at),
            "local_date": adapt_date(local_date),
            "technology": q.technology,
            "query_type": q.query_type,
            "integration": integration.pk,
            "requesting_agency_code": q.requesting_agency,
            "requesting_agency": agencies.get(q.requesting_agency),
            "on_behalf_of": q.on_behalf_of,
            "operator_badge": q.operator,
            "operator": operators.get(q.operator),
            "supervisor_badge": q.supervisor,
            "supervisor": operators.get(q.supervisor) if q.supervisor else None,
            "target_fingerprint": q.target_fingerprint,
            "offense_code": q.offense_code,
            "offense_category": category,
            "justification": q.justification,
            "case_number": q.case_number,
            "scope": q.scope,
            "result_count": q.result_count,
            "client_ref": q.client_ref,
            "salt": salt.hex(),
            "leaf_hash": digest,
        }
        entry_rows.append(tuple(row[f.name] for f in _ENTRY_FIELDS))
        recorded.append(
            RecordedEntry(
                sequence=sequence,
                occurred_at=q.occurred_at,
                local_date=local_date,
                technology_id=q.technology,
                query_type=q.query_type,
                requesting_agency_code=q.requesting_agency,
                on_behalf_of=q.on_behalf_of,
                operator_badge=q.operator,
                operator_id=row["operator"],
                supervisor_badge=q.supervisor,
                target_fingerprint=q.target_fingerprint,
                offense_code=q.offense_code,
                offense_category=category,
                justification=q.justification,
                case_number=q.case_number,
                scope=q.scope,
            )
        )
        new_results[position] = (sequence, digest)
        sequence += 1

    if entry_rows:
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql(QueryLogEntry, _ENTRY_FIELDS), entry_rows)
            if node_rows:
                cursor.executemany(_insert_sql(MerkleNode, _NODE_FIELDS), node_rows)
        LogState.objects.filter(id=1).update(
            size=sequence, frontier=[[level, h.hex()] for level, h in tree.frontier()]
        )
        new_flags = flag_new_entries(recorded)
        signals.queries_recorded.send(sender=QueryLogEntry, entries=recorded, flags=new_flags)
        # robust: the queries are recorded whatever happens to the head; it is retried later.
        transaction.on_commit(publish_tree_head_if_due, robust=True)
    else:
        new_flags = {}
    old_flags = flags.stored_flags([e.sequence for e in existing.values()])

    results = []
    for position, q in enumerate(queries):
        if position in new_results:
            seq, digest = new_results[position]
            results.append(
                RecordedQuery(seq, digest, recorded_at, tuple(new_flags.get(seq, ())), True)
            )
        else:
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
    return results


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
