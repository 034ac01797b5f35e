"""The bulk recording path: batches beyond the API's 1000, and the same results however a
stream of queries is cut into batches (flags, rollups, leaves, the tree)."""

import gc
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from sightline_verifier.leaf import entry_leaf_bytes, leaf_hash_hex
from sightline_verifier.merkle import TreeBuilder, root_from_leaf_hashes

from audit.flags import rules as flags
from audit.log import services
from audit.log.parsing import MAX_BATCH, QueryInput
from audit.log.services import IdempotencyConflict, record_queries
from audit.models import LogState, MerkleNode, QueryLogEntry, Technology
from audit.transparency.verification import verify_log
from reports import rollups
from reports.models import FlagRollup, SliceRollup
from tests.audit import queries
from tests.audit.queries import CHICAGO, FACE, LPR, NIBIN, flag_pairs, log_snapshot
from tests.factories import AgencyFactory, CertificationFactory, OperatorFactory

BADGES = ["B100", "B101", "B102", "B103"]
SUPERVISOR = "S900"


@pytest.fixture
def people(home_agency):
    """Operators certified on some technologies (one certified late), a supervisor, a partner."""
    AgencyFactory(code="MPD", name="Montgomery Police Department")
    technologies = list(Technology.objects.all())
    for n, badge in enumerate(BADGES):
        op = OperatorFactory(badge_number=badge, agency=home_agency)
        for technology in technologies[: n + 1]:
            since = date(2026, 3, 3) if badge == "B101" else date(2025, 1, 1)
            CertificationFactory(operator=op, technology=technology, certified_on=since)
    OperatorFactory(badge_number=SUPERVISOR, agency=home_agency, is_supervisor=True)
    # Low thresholds so that volume and repeated targets show up in a few hundred queries.
    Technology.objects.update(
        daily_volume_threshold=2, repeated_target_limit=3, repeated_target_days=5
    )


def random_queries(seed: int, count: int, *, wall_clock: bool = False) -> list[QueryInput]:
    """A mix meant to trip every flag: days, hours (DST week included), vague or missing
    reasons, prohibited purposes, unknown operators and agencies, proxies, repeated targets.

    Times are UTC, as parse_queries gives them; with wall_clock they stay Birmingham wall
    times, some of them in the hour the DST change skips (an importer might pass such)."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 5, 0, 0, tzinfo=CHICAGO)  # DST starts on March 8
    moments = sorted(start + timedelta(minutes=rng.randrange(0, 9 * 24 * 60)) for _ in range(count))
    if not wall_clock:
        moments = [moment.astimezone(UTC) for moment in moments]
    out = []
    for n, moment in enumerate(moments):
        technology = rng.choice([LPR, LPR, LPR, FACE, NIBIN])
        target = rng.choice(["ABC 123", "abc-123", "XYZ 9", "QQ 1", "", f"T{n}"])
        if technology == LPR and not target:
            target = "ZZ 7"
        fields = {
            "occurred_at": moment,
            "operator": rng.choice([*BADGES, "B999"]),
            "offense_code": rng.choice(["240", "13A", "09A", "", "35A", "999"]),
            "justification": rng.choice(
                [
                    queries.GOOD_REASON,
                    "investigation",
                    "",
                    "Assist ICE with immigration enforcement at Five Points",
                    "Robbery at the Summit, suspect vehicle seen on camera",
                ]
            ),
            "case_number": rng.choice(["BPD-26-0001", "BPD-26-0002", "", ""]),
            "supervisor": rng.choice([SUPERVISOR, "", ""]),
            "requesting_agency": rng.choice(["BPD", "BPD", "BPD", "MPD", "XX"]),
            "on_behalf_of": rng.choice(["", "", "", "JCSO", "bpd"]),
            "scope": rng.choice(["local", "regional", "national"]),
            "result_count": rng.choice([None, 0, 4]),
            "client_ref": f"ref-{seed}-{n}",
        }
        out.append(queries.make_query(technology, target or None, **fields))
    return out


def rollup_rows() -> dict[str, dict[tuple, tuple]]:
    tables = {}
    for model in rollups.ROLLUPS:
        keys = ["granularity", "period_start", "technology", *model.DIMENSIONS]
        tables[model.__name__] = {
            values[: len(keys)]: values[len(keys) :]
            for values in model.objects.values_list(*keys, *rollups.MEASURES[model])
        }
    return tables


def stored_flags() -> dict[int, list[str]]:
    found = defaultdict(list)
    for sequence, flag in sorted(flag_pairs()):
        found[sequence].append(flag)
    return dict(found)


def reference_rollups(entries, found) -> dict[str, dict[tuple, tuple]]:
    """The rollups counted entry by entry, as they were before batches were counted at once."""
    tables: dict[str, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(lambda: None))

    def add(name, key, values):
        row = tables[name][key]
        tables[name][key] = (
            list(values) if row is None else [a + b for a, b in zip(row, values, strict=True)]
        )

    for e in entries:
        names = found.get(e.sequence, [])
        flagged = 1 if names else 0
        hour = e.occurred_at.astimezone(CHICAGO).hour
        measures = (1, int(bool(e.case_number)), int(bool(e.supervisor_badge)), flagged)
        for granularity, start in (("day", e.local_date), ("month", e.local_date.replace(day=1))):
            base = (granularity, start, e.technology_id)
            proxy = bool(e.on_behalf_of)
            agency, category = e.requesting_agency_code, e.offense_category
            add("UsageRollup", (*base, e.query_type, agency, category, e.scope, proxy), measures)
            for dimension, value in (
                ("all", ""),
                ("query_type", e.query_type),
                ("agency", f"{agency}|{1 if proxy else 0}"),
                ("offense_category", category),
                ("scope", e.scope),
            ):
                add("SliceRollup", (*base, dimension, value), measures)
            for flag in names:
                add("FlagRollup", (*base, agency, category, flag), (1,))
                add("SliceRollup", (*base, "flag", flag), (1, 0, 0, 0))
            add("OperatorRollup", (*base, e.operator_id or 0), (1, flagged))
            add("HourRollup", (*base, hour), (1,))
    return {
        name: {key: tuple(values) for key, values in rows.items()} for name, rows in tables.items()
    }


def record_in_batches(integration, stream: list[QueryInput], sizes: list[int]) -> list:
    results, start = [], 0
    for size in sizes:
        if start >= len(stream):
            break
        results += record_queries(integration=integration, queries=stream[start : start + size])
        start += size
    if start < len(stream):
        results += record_queries(integration=integration, queries=stream[start:])
    return results


def outcome_of(integration, stream, sizes):
    """Record the stream in these batches, return what a caller and the tables see, undo it."""
    with transaction.atomic():
        results = record_in_batches(integration, stream, sizes)
        seen = {
            "results": [(r.sequence, r.flags, r.created) for r in results],
            "flags": stored_flags(),
            "rollups": rollup_rows(),
            "size": LogState.objects.get(id=1).size,
            "nodes": MerkleNode.objects.count(),
        }
        entries = list(QueryLogEntry.objects.order_by("sequence"))
        seen["reference_rollups"] = reference_rollups(entries, seen["flags"])
        # Re-flagging any subset of the stored entries (reflag's path, not contiguous) finds
        # exactly the stored flags.
        subset = random.Random(len(entries)).sample(entries, k=len(entries) // 3)
        recomputed = flags.flags_for_entries(subset)
        seen["reflag_agrees"] = all(
            recomputed[e.sequence] == seen["flags"].get(e.sequence, []) for e in subset
        )
        for e in entries:
            assert e.leaf_hash == leaf_hash_hex(entry_leaf_bytes(e))
        transaction.set_rollback(True)
    return seen


@pytest.mark.parametrize("seed", [1, 2])
def test_batches_of_any_size_give_the_same_flags_and_rollups(integration, people, seed):
    stream = random_queries(seed, 240, wall_clock=seed == 2)
    one_by_one = outcome_of(integration, stream, [1] * len(stream))
    assert any(one_by_one["flags"].values())
    every_flag = {flag for names in one_by_one["flags"].values() for flag in names}
    assert {
        flags.VOLUME_ANOMALY,
        flags.REPEATED_TARGET,
        flags.UNCERTIFIED_OPERATOR,
        flags.UNKNOWN_OPERATOR,
        flags.OUTSIDE_STAFFED_HOURS,
        flags.DISALLOWED_OFFENSE,
    } <= every_flag

    rng = random.Random(seed)
    uneven = [rng.choice([1, 7, 30, 64]) for _ in range(40)]
    for sizes in ([len(stream)], [100, 140], uneven):
        batched = outcome_of(integration, stream, sizes)
        assert batched["results"] == one_by_one["results"], sizes
        assert batched["flags"] == one_by_one["flags"], sizes
        assert batched["rollups"] == one_by_one["rollups"], sizes
        assert batched["size"] == one_by_one["size"] == len(stream)
        assert batched["nodes"] == one_by_one["nodes"]
        assert batched["reflag_agrees"]
    # Counted per batch, the rollups equal the per-entry counts (without the zero rows).
    for name, rows in one_by_one["reference_rollups"].items():
        expected = {key: values for key, values in rows.items() if any(values)}
        assert one_by_one["rollups"][name] == expected, name


def test_a_batch_larger_than_the_api_accepts_is_one_gapless_verifiable_append(integration, people):
    count = 2 * MAX_BATCH + 517  # also more client_refs than SQLite's 999 parameters
    stream = random_queries(7, count)
    record_queries(integration=integration, queries=random_queries(8, 3))  # a log to extend

    results = record_queries(integration=integration, queries=stream)

    assert [r.sequence for r in results] == list(range(3, 3 + count))
    assert all(r.created for r in results)
    assert len({r.recorded_at for r in results}) == 1
    assert LogState.objects.get(id=1).size == 3 + count
    entries = list(QueryLogEntry.objects.order_by("sequence"))
    assert [e.client_ref for e in entries[3:]] == [q.client_ref for q in stream]
    leaves = [leaf_hash_hex(entry_leaf_bytes(e)) for e in entries]
    assert [e.leaf_hash for e in entries] == leaves
    assert [r.leaf_hash for r in results] == leaves[3:]
    total = 3 + count
    assert MerkleNode.objects.count() == total - bin(total).count("1")
    tree = TreeBuilder()
    for leaf in leaves:
        tree.append(bytes.fromhex(leaf))
    state = LogState.objects.get(id=1)
    assert state.frontier == [[level, h.hex()] for level, h in tree.frontier()]
    assert tree.root() == root_from_leaf_hashes([bytes.fromhex(x) for x in leaves])
    assert verify_log().size == total
    # The flags each result reports are the ones stored.
    stored = stored_flags()
    assert all(list(r.flags) == stored.get(r.sequence, []) for r in results)

    # The same batch again records nothing and answers the first results.
    before = log_snapshot()
    again = record_queries(integration=integration, queries=stream)
    assert log_snapshot() == before
    assert [(r.sequence, r.leaf_hash, r.flags, r.created) for r in again] == [
        (r.sequence, r.leaf_hash, r.flags, False) for r in results
    ]
    # One changed query among them: refused whole, nothing written.
    changed = list(stream)
    changed[-1] = queries.make_query(LPR, "NEW 1", client_ref=stream[-1].client_ref)
    with pytest.raises(IdempotencyConflict) as refused:
        record_queries(integration=integration, queries=changed)
    assert refused.value.client_refs == [stream[-1].client_ref]
    assert log_snapshot() == before


def test_a_mixed_batch_of_replays_and_new_queries(integration, people):
    stream = random_queries(3, 50)
    first = record_queries(integration=integration, queries=stream[:30])
    mixed = stream[10:50]  # 20 replays, then 20 new

    results = record_queries(integration=integration, queries=mixed)

    assert [r.created for r in results] == [False] * 20 + [True] * 20
    assert [r.sequence for r in results[:20]] == [r.sequence for r in first[10:30]]
    assert [r.sequence for r in results[20:]] == list(range(30, 50))
    assert LogState.objects.get(id=1).size == 50
    assert verify_log().size == 50


def test_flag_and_slice_rollups_keep_no_zero_rows_after_batches(integration, people):
    record_queries(integration=integration, queries=random_queries(4, 120))
    assert not FlagRollup.objects.filter(queries=0).exists()
    assert not SliceRollup.objects.filter(queries=0).exists()


def test_recording_leaves_the_garbage_collector_as_it_was(integration, people):
    assert gc.isenabled()
    record_queries(integration=integration, queries=random_queries(5, 20))
    assert gc.isenabled()
    gc.disable()
    try:
        record_queries(integration=integration, queries=random_queries(6, 20))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_batch_writes_nothing_and_restores_the_collector(integration, people):
    before = log_snapshot()
    duplicate = random_queries(9, 5)
    duplicate.append(duplicate[0])  # the same client_ref twice in one batch
    with pytest.raises(Exception):  # noqa: B017 - the backend's IntegrityError
        record_queries(integration=integration, queries=duplicate)
    assert gc.isenabled()
    assert log_snapshot() == before
    assert connection.in_atomic_block  # the test's transaction is still usable


def test_the_recording_path_writes_every_column_of_the_entry():
    # record_queries inserts rows without the ORM, in the order of this list: a column added
    # to QueryLogEntry must be added to it (and to the row the service builds).
    written = {field.name for field in services._ENTRY_FIELDS}
    assert written == {field.name for field in QueryLogEntry._meta.concrete_fields}
