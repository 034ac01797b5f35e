"""On SQLite the entries' sequence is the table's rowid (`LogPositionField`): no second B-tree
for the primary key, and every other index of the log holds the sequence. The migration that
made it so (audit 0014) rebuilds the tables involved on SQLite and keeps every row and every
append-only trigger, both ways."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.log.services import record_outcome, record_queries
from audit.models import AuditReview, EntryFlags, QueryLogEntry, QueryOutcome
from audit.transparency.verification import verify_log
from audit.workspace.services import record_review
from tests.audit.queries import make_query, query_plan

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="a rowid is SQLite's; PostgreSQL keeps bigint"
)
BEFORE = [("audit", "0013_entry_operator_date_technology")]
# The append-only tables the migration rebuilds on SQLite (each has an entry foreign key).
REBUILT = ("audit_querylogentry", "audit_queryoutcome", "audit_auditreview")


def automatic_indexes(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA index_list({table})")
        return [row[1] for row in cursor.fetchall() if row[3] == "pk"]


@sqlite_only
@pytest.mark.django_db
def test_the_sequence_is_the_entries_rowid_and_every_index_holds_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'audit_querylogentry'")
        assert '"sequence" integer NOT NULL PRIMARY KEY' in cursor.fetchone()[0]
    # No separate index for the primary key, on the entries or on their flags (keyed by it).
    assert automatic_indexes("audit_querylogentry") == []
    assert automatic_indexes("audit_entryflags") == []
    assert "INTEGER PRIMARY KEY" in query_plan(
        "SELECT leaf_hash FROM audit_querylogentry WHERE sequence = %s", [7]
    )
    assert "INTEGER PRIMARY KEY" in query_plan(
        "SELECT mask FROM audit_entryflags WHERE entry_id = %s", [7]
    )
    # An index read that wants the sequence too never visits the table.
    assert "USING COVERING INDEX entry_operator_date" in query_plan(
        "SELECT sequence FROM audit_querylogentry WHERE operator_badge = %s AND local_date = %s",
        ["B4107", "2026-05-01"],
    )


def stored() -> dict:
    return {
        "entries": list(QueryLogEntry.objects.order_by("sequence").values_list()),
        "flags": list(EntryFlags.objects.order_by("entry_id").values_list()),
        "outcomes": list(QueryOutcome.objects.order_by("id").values_list()),
        "reviews": list(AuditReview.objects.order_by("id").values_list()),
    }


# A change of nothing, per table: the triggers refuse any UPDATE.
UNCHANGED = {
    "audit_querylogentry": "recorded_at = recorded_at",
    "audit_queryoutcome": "note = note",
    "audit_auditreview": "note = note",
}


def refuses_changes(table: str) -> bool:
    for statement in (f"UPDATE {table} SET {UNCHANGED[table]}", f"DELETE FROM {table}"):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        except DatabaseError as refused:
            if "append-only" not in str(refused):
                raise
        else:
            return False
    return True


def triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT DISTINCT trigger_name FROM information_schema.triggers")
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_row_and_the_append_only_triggers_both_ways(integration, users):
    recorded = record_queries(
        integration=integration,
        queries=[
            make_query(target="ABC 123", client_ref="one"),
            make_query(target="XYZ 999", client_ref="two", justification="investigation"),
            make_query(target=None, client_ref="three"),
        ],
    )
    entry = QueryLogEntry.objects.get(sequence=recorded[1].sequence)
    record_outcome(integration=integration, entry=entry, outcome="lead")
    record_review(entry=entry, reviewer=users["auditor"], finding="compliant", note="Fine.")
    before, all_triggers = stored(), triggers()
    assert before["flags"] and before["outcomes"] and before["reviews"]
    assert "audit_rowrecording_no_update" in all_triggers or connection.vendor != "sqlite"
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        if connection.vendor == "sqlite":
            assert automatic_indexes("audit_querylogentry") != []  # bigint again, beside a rowid
        assert stored() == before
        assert triggers() == all_triggers
        assert all(refuses_changes(table) for table in REBUILT)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        # Forward to the latest migrations, as every other test expects the schema.
        executor.migrate(executor.loader.graph.leaf_nodes())
    if connection.vendor == "sqlite":
        assert automatic_indexes("audit_querylogentry") == []
    assert stored() == before
    assert triggers() == all_triggers  # an import's links among them, which this log has none of
    assert all(refuses_changes(table) for table in REBUILT)
    assert verify_log(workers=1).size == 3
