"""Concurrent bulk writers (importers calling record_queries with batches beyond the API's
1000, next to API-sized ones): sequences stay gapless, every batch is one consecutive run, the
tree never forks, and the rollups equal a rebuild from the log."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from audit.log.services import record_queries
from audit.models import LogState, MerkleNode, QueryLogEntry
from audit.transparency.verification import verify_log
from reports import rollups
from tests.audit import queries
from tests.factories import AgencyFactory, IntegrationFactory


def _snapshot():
    tables = {}
    for model in rollups.ROLLUPS:
        keys = ["granularity", "period_start", "technology", *model.DIMENSIONS]
        tables[model.__name__] = sorted(model.objects.values_list(*keys, *rollups.MEASURES[model]))
    return tables


def _batch(writer: int, round_: int, size: int):
    start = datetime(2026, 2, 10, 12, tzinfo=UTC)
    return [
        queries.make_query(
            queries.LPR,
            f"T{writer}-{n % 50}",
            occurred_at=start + timedelta(minutes=17 * n + writer),
            operator=f"B{writer:02d}",
            client_ref=f"w{writer}-r{round_}-n{n}",
        )
        for n in range(size)
    ]


@pytest.mark.postgres
def test_concurrent_bulk_writers_on_postgresql_are_gapless(log_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    agency = AgencyFactory(code="BPD", is_home=True)
    # Two importers with large batches, two API-sized writers.
    plan = {0: (2, 2500), 1: (2, 1700), 2: (6, 300), 3: (6, 250)}
    integrations = [
        IntegrationFactory.create_with_key(agency=agency, name=f"writer {w}")[0] for w in plan
    ]
    start = threading.Barrier(len(plan))
    results: dict[int, list] = {w: [] for w in plan}
    errors: list[BaseException] = []

    def work(writer: int):
        rounds, size = plan[writer]
        try:
            start.wait(timeout=30)
            for round_ in range(rounds):
                batch = _batch(writer, round_, size)
                results[writer].append(
                    record_queries(integration=integrations[writer], queries=batch)
                )
        except BaseException as problem:  # reported to the main thread below
            errors.append(problem)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    if errors:
        raise errors[0]

    total = sum(rounds * size for rounds, size in plan.values())
    returned = []
    for writer, batches in results.items():
        for batch in batches:
            sequences = [r.sequence for r in batch]
            assert sequences == list(range(sequences[0], sequences[0] + len(batch))), writer
            returned += sequences
    assert sorted(returned) == list(range(total))
    stored = list(QueryLogEntry.objects.order_by("sequence").values_list("sequence", flat=True))
    assert stored == list(range(total))
    assert LogState.objects.get(id=1).size == total
    assert MerkleNode.objects.count() == total - bin(total).count("1")
    assert verify_log().size == total

    incremental = _snapshot()
    rollups.rebuild()
    assert _snapshot() == incremental
