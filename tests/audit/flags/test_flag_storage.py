"""How flags are stored: one row per flagged entry, a bit per flag, and the migration that moved
them there from one row per flag."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.flags import rules
from audit.log.services import record_queries
from audit.models import EntryFlags, QueryLogEntry
from tests.audit.queries import GOOD_REASON, at, flag_pairs, make_query

MIGRATION = importlib.import_module("audit.migrations.0010_entry_flags_as_masks")
BEFORE = [("audit", "0009_lighter_entry_and_flag_indexes")]


def test_stored_bits_keep_their_meaning():
    # A flag's bit is its position: new flags go at the end, none moves or goes.
    assert rules.ALL_FLAGS[: len(MIGRATION.ORDER)] == MIGRATION.ORDER
    assert len(set(rules.ALL_FLAGS)) == len(rules.ALL_FLAGS)


def test_masks_and_names_convert_both_ways():
    for flag in rules.ALL_FLAGS:
        assert rules.names_of(rules.bit_of(flag)) == (flag,)
    chosen = [rules.VOLUME_ANOMALY, rules.MISSING_CASE_NUMBER, rules.NOT_LOGGED_BY_RTCC]
    mask = rules.mask_of(chosen)
    assert mask == 1 | 1 << 11 | 1 << 14
    assert rules.names_of(mask) == tuple(sorted(chosen))
    assert rules.names_of(0) == ()


def test_an_entry_without_flags_has_no_row_and_a_flagged_one_has_one(integration, home_agency):
    clean, flagged = record_queries(
        integration=integration,
        queries=[
            make_query(operator="B1", client_ref="clean"),
            make_query(operator="B1", case_number="", offense_code="", client_ref="flagged"),
        ],
    )
    # B1 is no registered operator: both are flagged unknown-operator; only that differs.
    assert dict(EntryFlags.objects.values_list("entry_id", "mask")) == {
        clean.sequence: rules.mask_of(clean.flags),
        flagged.sequence: rules.mask_of(flagged.flags),
    }
    assert set(flagged.flags) - set(clean.flags) == {
        rules.MISSING_CASE_NUMBER,
        rules.MISSING_OFFENSE,
    }
    assert rules.stored_flags([clean.sequence, flagged.sequence]) == {
        clean.sequence: list(clean.flags),
        flagged.sequence: list(flagged.flags),
    }


def test_filtering_by_a_bit_finds_exactly_the_entries_with_that_flag(integration, home_agency):
    recorded = record_queries(
        integration=integration,
        queries=[
            make_query(case_number="", client_ref="a"),
            make_query(justification="investigation", client_ref="b"),
            make_query(case_number="", justification="", client_ref="c"),
            make_query(justification=GOOD_REASON, client_ref="d"),
        ],
    )
    for flag in rules.ALL_FLAGS:
        expected = {r.sequence for r in recorded if flag in r.flags}
        found = set(
            EntryFlags.objects.filter(mask__has=rules.bit_of(flag)).values_list(
                "entry_id", flat=True
            )
        )
        assert found == expected, flag
    # The batch gives several flags, each to some entries and not others.
    assert {rules.MISSING_CASE_NUMBER, rules.VAGUE_JUSTIFICATION} <= {f for _, f in flag_pairs()}
    assert any(not r.flags or rules.MISSING_CASE_NUMBER not in r.flags for r in recorded)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_flags_to_masks_and_back(integration, home_agency):
    recorded = record_queries(
        integration=integration,
        queries=[
            make_query(case_number="", occurred_at=at(4, hour=3), client_ref="night"),
            make_query(offense_code="", requesting_agency="HPD", client_ref="outside"),
            make_query(client_ref="clean"),
        ],
    )
    expected = {(r.sequence, flag) for r in recorded for flag in r.flags}
    assert len(expected) >= 5
    masks = dict(EntryFlags.objects.values_list("entry_id", "mask"))

    executor = MigrationExecutor(connection)
    try:
        state = executor.migrate(BEFORE)
        # One row per flag again, nothing else.
        QueryFlag = state.apps.get_model("audit", "QueryFlag")
        assert set(QueryFlag.objects.values_list("entry_id", "flag")) == expected
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        # Forward to the latest migrations, as every other test expects the schema.
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(EntryFlags.objects.values_list("entry_id", "mask")) == masks
    assert flag_pairs() == expected
    assert QueryLogEntry.objects.count() == 3
