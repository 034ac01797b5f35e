"""Planner statistics during a long bulk load (`audit.log.bulk.refresh_statistics`)."""

import pytest
from django.db import connection

from audit.log.bulk import refresh_statistics
from audit.models import MerkleNode, RowMatch

TABLE = MerkleNode._meta.db_table


def add_nodes(start: int, count: int) -> None:
    MerkleNode.objects.bulk_create(
        MerkleNode(level=1, index=index, hash=f"{index:064x}")
        for index in range(start, start + count)
    )


def pages_known() -> int:
    """The pages the planner last recorded for the node table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages FROM pg_class WHERE oid = %s::regclass", [TABLE])
        return cursor.fetchone()[0]


def pages_now() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", [TABLE]
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_nothing_to_do_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite case")
    add_nodes(0, 500)
    assert refresh_statistics([MerkleNode]) == []


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{TABLE}"')


@pytest.mark.django_db
def test_a_table_is_analyzed_when_it_has_doubled_and_not_before():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statistics")
    # What the planner recorded is kept through a test's rollback (and so are the pages of
    # rows rolled back), so the test starts from an analyze of its own.
    add_nodes(0, 2000)
    analyze()
    known = pages_known()
    assert known == pages_now() > 1
    assert refresh_statistics([MerkleNode]) == []  # nothing grew since

    add_nodes(2000, known * 25)  # about half as many pages again (some 80 nodes a page)
    assert known < pages_now() < 2 * known
    assert refresh_statistics([MerkleNode]) == []
    assert pages_known() == known
    # ... though past a tenth, which is what an import's end asks for.
    assert refresh_statistics([MerkleNode], growth=1.1) == [TABLE]
    assert pages_known() == pages_now()

    known = pages_known()
    add_nodes(10**6, known * 100)  # more than doubled since that analyze
    assert pages_now() >= 2 * known
    assert refresh_statistics([MerkleNode, RowMatch]) == [TABLE]
    assert pages_known() == pages_now()


@pytest.mark.django_db
def test_a_table_never_analyzed_is_analyzed_once_it_holds_rows():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statistics")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TEMPORARY TABLE fresh_nodes (LIKE "{TABLE}")')
        cursor.execute("SELECT relpages FROM pg_class WHERE oid = 'fresh_nodes'::regclass")
        assert cursor.fetchone()[0] == 0

    class Fresh:  # refresh_statistics reads only the table's name
        class _meta:
            db_table = "fresh_nodes"

    assert refresh_statistics([Fresh]) == []  # no pages yet
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO fresh_nodes (id, level, index, hash) VALUES (1, 1, 1, 'a')")
    assert refresh_statistics([Fresh]) == ["fresh_nodes"]
    assert refresh_statistics([Fresh]) == []
