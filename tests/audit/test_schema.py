"""The indexes every recorded query writes: each one costs every insert into the log, so the
set is fixed here and a new one is a deliberate choice (bench/record.py, bench/import.py)."""

from django.db import connection

from audit.models import EntryFlags, QueryLogEntry


def indexed_columns(model) -> set[tuple[str, ...]]:
    """The column lists of the table's indexes, the primary key's aside."""
    primary = (model._meta.pk.column,)
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {
        tuple(spec["columns"])
        for name, spec in constraints.items()
        if (spec["index"] or spec["unique"])
        and not spec["primary_key"]
        and not spec["foreign_key"]
        and tuple(spec["columns"]) != primary
        and not name.endswith("_like")  # PostgreSQL's pattern twin of a varchar index
    }


def test_the_log_entries_indexes(db):
    assert indexed_columns(QueryLogEntry) == {
        ("local_date", "technology_id"),
        ("operator_badge", "local_date", "technology_id"),
        ("target_prefix", "occurred_at", "operator_badge"),
        # Unique where client_ref is given, by the integration's key prefix (an expression,
        # which introspection does not name).
        (None, "client_ref"),
        ("operator_id",),
    }


def test_the_flags_have_no_index_but_their_key(db):
    assert indexed_columns(EntryFlags) == set()


def test_the_idempotency_index_keys_integrations_by_their_prefix(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, QueryLogEntry._meta.db_table)
        index = constraints["client_ref_unique_per_integration"]
        assert index["unique"]
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'client_ref_unique_per_integration'"
            )
            (definition,) = cursor.fetchone()
        else:
            cursor.execute(
                "SELECT pg_get_indexdef(%s::regclass)", ['"client_ref_unique_per_integration"']
            )
            (definition,) = cursor.fetchone()
    definition = definition.replace('"', "")
    if connection.vendor == "sqlite":
        assert "(SUBSTR(integration_id, 1, 8)), client_ref)" in definition
    else:
        assert "(left((integration_id)::text, 8), client_ref)" in definition
    assert "client_ref IS NOT NULL" in definition
