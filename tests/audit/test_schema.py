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
        ("operator_badge", "local_date"),
        ("target_key", "occurred_at", "operator_badge"),
        ("integration_id", "client_ref"),  # unique where client_ref is given
        ("operator_id",),
    }


def test_the_flags_have_no_index_but_their_key(db):
    assert indexed_columns(EntryFlags) == set()
