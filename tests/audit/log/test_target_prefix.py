"""The entries' target index is keyed by an integer taken from the fingerprint (`target_prefix`):
every entry stores its prefix, reads by target check the fingerprint too, so two targets that
share a prefix (60 bits of their fingerprints) are still told apart, and the migration that added
the prefix filled it in for the entries already recorded."""

import dataclasses
import importlib
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.flags import rules as flags
from audit.imports.matching import Side, match
from audit.log.models import target_prefix, target_prefixes
from audit.log.services import record_queries
from audit.models import QueryLogEntry
from tests.audit.queries import at, make_query

# Two fingerprints with the same first 15 hex digits: the same prefix, different targets.
SHARED = "abcdef012345678"
FIRST = SHARED + "1" * 49
SECOND = SHARED + "2" * 49
BEFORE = [("audit", "0010_entry_flags_as_masks")]


def searching(fingerprint: str, **fields):
    return dataclasses.replace(make_query(**fields), target_fingerprint=fingerprint)


def stored_prefixes() -> dict[str, int | None]:
    return dict(QueryLogEntry.objects.values_list("target_fingerprint", "target_prefix"))


def test_a_prefix_is_the_first_fifteen_hex_digits_and_fits_a_signed_bigint():
    assert target_prefix("0123456789abcdef" + "0" * 48) == 0x0123456789ABCDE
    assert target_prefix("f" * 64) == 2**60 - 1
    assert target_prefix(FIRST) == target_prefix(SECOND) == int(SHARED, 16)
    assert target_prefix("") is None
    assert target_prefixes([FIRST, SECOND, "", "1" * 64]) == sorted(
        {int(SHARED, 16), int("1" * 15, 16)}
    )


def test_text_that_is_not_hex_still_has_one_prefix():
    prefix = target_prefix("not a hex fingerprint")
    assert prefix == target_prefix("not a hex fingerprint")
    assert 0 <= prefix < 2**63
    assert prefix != target_prefix("not a hex fingerprint either")


def test_every_recorded_entry_stores_its_prefix(integration, home_agency):
    recorded = record_queries(
        integration=integration,
        queries=[
            make_query(target="ABC 123", client_ref="plate"),
            make_query(target=None, client_ref="none"),
            searching(FIRST, client_ref="first"),
        ],
    )
    assert len(recorded) == 3
    prefixes = stored_prefixes()
    assert prefixes.pop("") is None
    assert prefixes == {fingerprint: target_prefix(fingerprint) for fingerprint in prefixes}
    assert prefixes[FIRST] == int(SHARED, 16)


def test_reads_by_target_tell_apart_two_targets_that_share_a_prefix(integration, home_agency):
    first, second = record_queries(
        integration=integration, queries=[searching(FIRST), searching(SECOND)]
    )
    assert stored_prefixes() == {FIRST: int(SHARED, 16), SECOND: int(SHARED, 16)}
    found = QueryLogEntry.objects.of_targets([FIRST]).values_list("sequence", flat=True)
    assert list(found) == [first.sequence]
    both = QueryLogEntry.objects.of_targets([FIRST, SECOND]).values_list("sequence", flat=True)
    assert sorted(both) == [first.sequence, second.sequence]
    assert not QueryLogEntry.objects.of_targets([SHARED + "3" * 49]).exists()


def test_searches_of_another_target_with_the_same_prefix_do_not_count_as_repeats(
    integration, home_agency
):
    # Limit 5 in 30 days. Three searches of each target, then a fourth of the first, in a batch
    # of its own (so that the earlier ones are read from the log): by prefix that is seven
    # searches, by target four.
    earlier = [searching(FIRST, occurred_at=at(1 + n), case_number=f"A-{n}") for n in range(3)]
    earlier += [searching(SECOND, occurred_at=at(1 + n), case_number=f"B-{n}") for n in range(3)]
    record_queries(integration=integration, queries=earlier)
    (fourth,) = record_queries(
        integration=integration,
        queries=[searching(FIRST, occurred_at=at(5), case_number="A-3")],
    )
    assert flags.REPEATED_TARGET not in fourth.flags
    # Two more of the first target make six of it: that one is flagged.
    fifth, sixth = record_queries(
        integration=integration,
        queries=[
            searching(FIRST, occurred_at=at(6), case_number="A-4"),
            searching(FIRST, occurred_at=at(7), case_number="A-5"),
        ],
    )
    assert flags.REPEATED_TARGET not in fifth.flags
    assert flags.REPEATED_TARGET in sixth.flags


def test_matching_across_days_tells_apart_two_targets_that_share_a_prefix(integration, home_agency):
    (logged,) = record_queries(
        integration=integration, queries=[searching(SECOND, occurred_at=at(4))]
    )
    # Rows spread over more than two days are matched by target through the index.
    sides = [
        Side(0, at(4), FIRST, "BPD", True, "B100", True),
        Side(1, at(4) + timedelta(days=5), FIRST, "BPD", True, "B100", True),
    ]
    assert (
        match(sides, technology="license-plate-reader", window=timedelta(minutes=10), excluded=[])
        == {}
    )
    sides[0].fingerprint = SECOND
    assert match(
        sides, technology="license-plate-reader", window=timedelta(minutes=10), excluded=[]
    ) == {0: (logged.sequence, 0)}


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_in_the_prefixes_of_entries_already_recorded(
    integration, home_agency, monkeypatch
):
    record_queries(
        integration=integration,
        queries=[
            make_query(target="ABC 123", client_ref="plate"),
            make_query(target=None, client_ref="none"),
            searching(FIRST, client_ref="first"),
        ],
    )
    expected = stored_prefixes()
    assert expected[FIRST] is not None
    migration = importlib.import_module("audit.migrations.0011_entry_target_prefix")
    # One entry a batch, so that the fill goes from batch to batch.
    monkeypatch.setattr(migration, "BATCH", 1)
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        columns = [c.name for c in connection.introspection.get_table_description(
            connection.cursor(), "audit_querylogentry"
        )]  # fmt: skip
        assert "target_prefix" not in columns
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        # Forward to the latest migrations, as every other test expects the schema.
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert stored_prefixes() == expected
    # The entries' triggers are back: the database refuses to change a prefix.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_querylogentry SET target_prefix = 1")
    assert stored_prefixes() == expected
