"""The append-only tables refuse edits: on the ORM paths, and in the database itself by raw SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from audit.log.parsing import parse_queries
from audit.log.services import record_outcome, record_queries, technology_query_types
from audit.models import (
    AppendOnlyError,
    LogState,
    MerkleNode,
    QueryLogEntry,
    QueryOutcome,
    SignedTreeHead,
)
from audit.transparency.services import publish_tree_head
from audit.transparency.verification import verify_log


def _queries(integration, count):
    payload = [
        {
            "technology": "license-plate-reader",
            "query_type": "plate-search",
            "occurred_at": f"2026-02-0{1 + n % 9}T10:00:00-06:00",
            "operator": f"B{100 + n}",
            "target": f"PLATE{n}",
            "case_number": f"BPD-2026-{n:06d}",
            "justification": "Robbery investigation, suspect vehicle seen on camera.",
        }
        for n in range(count)
    ]
    queries, _ = parse_queries(
        payload,
        technologies=technology_query_types(),
        default_agency=integration.agency.code,
    )
    return queries


@pytest.fixture
def log(integration):
    """Four entries (so stored subtrees exist), an outcome and a signed tree head."""
    record_queries(integration=integration, queries=_queries(integration, 4))
    entry = QueryLogEntry.objects.get(sequence=1)
    record_outcome(integration=integration, entry=entry, outcome="lead", note="first")
    head = publish_tree_head(force=True)
    assert head is not None and head.tree_size == 4
    assert MerkleNode.objects.filter(level=2).count() == 1
    return {
        "entry": entry,
        "outcome": QueryOutcome.objects.get(),
        "node": MerkleNode.objects.get(level=2, index=0),
        "head": head,
    }


def _snapshot(model):
    return list(model.objects.order_by("pk").values())


APPEND_ONLY = [QueryLogEntry, QueryOutcome, MerkleNode, SignedTreeHead]
# One text column of each table to try to overwrite.
TEXT_COLUMN = {
    QueryLogEntry: ("justification", "edited"),
    QueryOutcome: ("note", "edited"),
    MerkleNode: ("hash", "0" * 64),
    SignedTreeHead: ("root_hash", "0" * 64),
}
KEY = {QueryLogEntry: "entry", QueryOutcome: "outcome", MerkleNode: "node", SignedTreeHead: "head"}


# --- ORM paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_save_of_existing_row_raises(log, model):
    before = _snapshot(model)
    row = model.objects.get(pk=log[KEY[model]].pk)
    column, value = TEXT_COLUMN[model]
    setattr(row, column, value)
    with pytest.raises(AppendOnlyError, match="append-only: update refused"):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.save(update_fields=[column])
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_instance_delete_raises(log, model):
    before = _snapshot(model)
    with pytest.raises(AppendOnlyError, match="append-only: delete refused"):
        model.objects.get(pk=log[KEY[model]].pk).delete()
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_queryset_update_raises(log, model):
    before = _snapshot(model)
    column, value = TEXT_COLUMN[model]
    with pytest.raises(AppendOnlyError, match="update refused"):
        model.objects.all().update(**{column: value})
    with pytest.raises(AppendOnlyError, match="update refused"):
        model.objects.filter(pk=log[KEY[model]].pk).update(**{column: value})
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_queryset_delete_raises(log, model):
    before = _snapshot(model)
    with pytest.raises(AppendOnlyError, match="delete refused"):
        model.objects.all().delete()
    with pytest.raises(AppendOnlyError, match="delete refused"):
        model.objects.filter(pk=log[KEY[model]].pk).delete()
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_bulk_update_raises(log, model):
    before = _snapshot(model)
    rows = list(model.objects.all())
    column, value = TEXT_COLUMN[model]
    for row in rows:
        setattr(row, column, value)
    with pytest.raises(AppendOnlyError):
        model.objects.bulk_update(rows, [column])
    assert _snapshot(model) == before


def test_new_rows_can_still_be_appended(log, integration):
    """The guard refuses edits only: appending keeps working and the log still verifies."""
    record_queries(integration=integration, queries=_queries(integration, 3))
    record_outcome(integration=integration, entry=log["entry"], outcome="arrest")
    assert QueryLogEntry.objects.count() == 7
    assert LogState.objects.get(id=1).size == 7
    assert QueryOutcome.objects.count() == 2
    assert verify_log().size == 7


def test_deleting_an_entry_with_outcomes_is_refused_before_cascading(log):
    """PROTECT and the append-only guard both stand in the way; nothing disappears."""
    with pytest.raises(AppendOnlyError):
        log["entry"].delete()
    assert QueryLogEntry.objects.filter(pk=log["entry"].pk).exists()
    assert QueryOutcome.objects.filter(entry=log["entry"]).count() == 1


# --- The database itself (raw SQL) -------------------------------------------------------------


def _raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_raw_update_is_refused_by_the_database(log, model):
    before = _snapshot(model)
    table = model._meta.db_table
    column, value = TEXT_COLUMN[model]
    pk = model._meta.pk.column
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", [value, log[KEY[model]].pk])
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"UPDATE {table} SET {column} = %s", [value])
    assert _snapshot(model) == before


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_raw_delete_is_refused_by_the_database(log, model):
    before = _snapshot(model)
    table = model._meta.db_table
    pk = model._meta.pk.column
    if model is QueryLogEntry:
        # Delete an entry without outcomes, so only the trigger (not the FK) can refuse it.
        target = QueryLogEntry.objects.get(sequence=3).pk
    else:
        target = log[KEY[model]].pk
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {table} WHERE {pk} = %s", [target])
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {table}")
    assert _snapshot(model) == before


def test_raw_sql_tampering_leaves_the_log_verifiable(log):
    """After every refused attempt the whole log still verifies against its signed head."""
    for model in APPEND_ONLY:
        table = model._meta.db_table
        column, value = TEXT_COLUMN[model]
        with pytest.raises(DatabaseError):
            _raw(f"UPDATE {table} SET {column} = %s", [value])
    result = verify_log()
    assert result.size == 4
    assert result.root_hash == log["head"].root_hash
    assert result.heads_checked == 1


@pytest.mark.postgres
@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_truncate_is_refused_on_postgresql(log, model):
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE triggers exist on PostgreSQL only")
    before = _snapshot(model)
    # Fire the deferred foreign-key checks of this test's inserts first, or PostgreSQL refuses
    # the TRUNCATE for "pending trigger events" before our trigger gets a say.
    _raw("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"TRUNCATE {model._meta.db_table} CASCADE")
    assert _snapshot(model) == before
