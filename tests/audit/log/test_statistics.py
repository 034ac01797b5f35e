"""Planner statistics during a long bulk load (`audit.log.bulk.refresh_statistics`)."""

import pytest
from django.db import connection

from audit.log.bulk import refresh_statistics
from audit.models import MerkleNode

# On PostgreSQL the tests grow a temporary table shaped as the node table, their own from empty:
# the node table's file keeps the pages of rows other tests rolled back, and once autovacuum
# records their free space, new rows would fill it without the table growing.
TABLE = "grown_nodes"


class Grown:
    """Stands for a model: refresh_statistics reads only its table's name."""

    class _meta:
        db_table = TABLE


@pytest.fixture
def grown_table():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statistics")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TEMPORARY TABLE {TABLE} (LIKE "{MerkleNode._meta.db_table}")')


def add_nodes(start: int, count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (id, level, index, hash) "
            "SELECT n, 1, n, lpad(to_hex(n), 64, '0') FROM generate_series(%s, %s) AS n",
            [start, start + count - 1],
        )


def pages_known() -> int:
    """The pages the planner last recorded for the table."""
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
    MerkleNode.objects.bulk_create(
        MerkleNode(level=1, index=index, hash=f"{index:064x}") for index in range(500)
    )
    assert refresh_statistics([MerkleNode]) == []


@pytest.mark.django_db
def test_a_table_never_analyzed_is_analyzed_once_it_holds_rows(grown_table):
    assert pages_known() == 0
    assert refresh_statistics([Grown]) == []  # no pages yet
    add_nodes(1, 1)
    assert refresh_statistics([Grown]) == [TABLE]
    assert refresh_statistics([Grown]) == []


@pytest.mark.django_db
def test_a_table_is_analyzed_when_it_has_doubled_and_not_before(grown_table):
    add_nodes(0, 2000)
    assert refresh_statistics([Grown]) == [TABLE]  # never analyzed, and holding rows
    known = pages_known()
    assert known == pages_now() > 1
    assert refresh_statistics([Grown]) == []  # nothing grew since

    add_nodes(2000, known * 25)  # about half as many pages again (some 80 nodes a page)
    assert known < pages_now() < 2 * known
    assert refresh_statistics([Grown]) == []
    assert pages_known() == known
    # ... though past a tenth, which is what an import's end asks for.
    assert refresh_statistics([Grown], growth=1.1) == [TABLE]
    assert pages_known() == pages_now()

    known = pages_known()
    add_nodes(10**6, known * 100)  # more than doubled since that analyze
    assert pages_now() >= 2 * known
    assert refresh_statistics([Grown]) == [TABLE]
    assert pages_known() == pages_now()
