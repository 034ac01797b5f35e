"""A client_ref is unique per integration through an index keyed by the integration's API key
prefix (not its whole id): the prefix must tell integrations apart, each integration keeps its
own references, and the replay check reads that index on both databases."""

import pytest
from django.db import IntegrityError, connection, transaction

from audit.log.models import INTEGRATION_PREFIX
from audit.log.services import IdempotencyConflict, create_integration, record_queries
from audit.models import Integration, QueryLogEntry
from tests.audit.queries import make_query, query_plan


def test_an_integration_id_starts_with_its_unique_prefix(home_agency):
    assert Integration.objects.key_generator.prefix_length == INTEGRATION_PREFIX
    assert Integration._meta.get_field("prefix").unique
    made = [create_integration(agency=home_agency, name=f"client {n}")[0] for n in range(5)]
    for integration in made:
        assert integration.pk.startswith(integration.prefix + ".")
        assert len(integration.prefix) == INTEGRATION_PREFIX
    assert len({i.pk[:INTEGRATION_PREFIX] for i in made}) == len(made)


def test_two_integrations_keep_their_own_references(integration, home_agency):
    other, _ = create_integration(agency=home_agency, name="second console")
    (mine,) = record_queries(integration=integration, queries=[make_query(client_ref="r-1")])
    (theirs,) = record_queries(integration=other, queries=[make_query(client_ref="r-1")])
    assert mine.created and theirs.created and mine.sequence != theirs.sequence
    # A replay is recognised per integration, and a changed one refused per integration.
    (again,) = record_queries(integration=other, queries=[make_query(client_ref="r-1")])
    assert (again.created, again.sequence) == (False, theirs.sequence)
    with pytest.raises(IdempotencyConflict):
        record_queries(integration=integration, queries=[make_query(client_ref="r-1", target="X")])
    assert QueryLogEntry.objects.filter(client_ref="r-1").count() == 2


def test_the_database_refuses_a_reference_twice_for_one_integration(integration, home_agency):
    record_queries(integration=integration, queries=[make_query(client_ref="r-1")])
    entry = QueryLogEntry.objects.get(client_ref="r-1")
    fields = QueryLogEntry._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))

    def insert_copy(client_ref: str) -> None:
        """The entry again, as a raw row under another sequence, in a rolled-back transaction."""
        values = [f.get_db_prep_value(getattr(entry, f.attname), connection) for f in fields]
        values[[f.name for f in fields].index("sequence")] = entry.sequence + 100
        values[[f.name for f in fields].index("client_ref")] = client_ref
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO audit_querylogentry ({columns}) VALUES ({marks})", values
                )
            transaction.set_rollback(True)

    insert_copy("r-other")  # the copy itself is a valid row
    with pytest.raises(IntegrityError, match="client_ref_unique_per_integration"):
        insert_copy("r-1")


def _captured_existence_query(integration) -> tuple[str, list]:
    captured = []

    def capture(execute, sql, params, many, context):
        if "client_ref" in sql and sql.lstrip().upper().startswith("SELECT SEQUENCE"):
            captured.append((sql, list(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        record_queries(integration=integration, queries=[make_query(client_ref="r-2")])
    assert len(captured) == 1
    return captured[0]


def test_the_replay_check_reads_the_index(integration, home_agency):
    record_queries(
        integration=integration,
        queries=[make_query(client_ref=f"r-{n}") for n in range(3, 40)],
    )
    sql, params = _captured_existence_query(integration)
    plan = query_plan(sql, params)
    if connection.vendor == "sqlite":
        index = "client_ref_unique_per_integration"
        assert f"SEARCH audit_querylogentry USING INDEX {index}" in plan
    else:
        assert "client_ref_unique_per_integration" in plan
        assert "Index Cond" in plan
