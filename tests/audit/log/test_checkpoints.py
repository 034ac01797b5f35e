"""Background WAL checkpoints for long chunked writes on SQLite (`audit.log.bulk.Checkpoints`)."""

import os
import sqlite3

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper

from audit.log.bulk import Checkpoints

CHUNKS, ROWS, PAYLOAD = 12, 400, 2000  # about 200 pages of 4 KiB per chunk


def sqlite_connection(name: str, init_command: str = "") -> DatabaseWrapper:
    """A Django connection of its own to a SQLite database (not the test database)."""
    return DatabaseWrapper(
        {
            "NAME": name,
            "OPTIONS": {"init_command": init_command} if init_command else {},
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
        },
        alias="checkpoints_test",
    )


@pytest.fixture
def wal_database(tmp_path, django_db_blocker):
    """A SQLite file in WAL mode with synchronous=NORMAL, as the site's."""
    with django_db_blocker.unblock():
        wrapper = sqlite_connection(
            str(tmp_path / "wal.sqlite3"), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        )
        with wrapper.cursor() as cursor:
            cursor.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, payload TEXT)")
        yield wrapper, tmp_path / "wal.sqlite3-wal"
        wrapper.close()


def write_chunks(wrapper, wal, checkpoints: Checkpoints | None) -> list[int]:
    """Write CHUNKS transactions; the WAL file's size after each."""
    sizes = []
    for chunk in range(CHUNKS):
        if checkpoints:
            checkpoints.wait()
        with wrapper.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.executemany(
                "INSERT INTO item (id, payload) VALUES (%s, %s)",
                [(chunk * ROWS + n, "x" * PAYLOAD) for n in range(ROWS)],
            )
            cursor.execute("COMMIT")
        if checkpoints:
            checkpoints.committed()
        sizes.append(os.path.getsize(wal))
    return sizes


def autocheckpoint(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]


def test_the_wal_is_copied_in_the_background_and_starts_again_each_chunk(wal_database):
    wrapper, wal = wal_database
    with Checkpoints(using=wrapper) as checkpoints:
        assert checkpoints.active
        assert autocheckpoint(wrapper) == 0  # the committing connection no longer copies
        sizes = write_chunks(wrapper, wal, checkpoints)
    assert not checkpoints.active
    assert checkpoints.failures == 0
    assert autocheckpoint(wrapper) == 1000  # SQLite's default, restored
    one_chunk = sizes[0]
    # The WAL restarts from its beginning at every chunk: it never holds two chunks.
    assert max(sizes) < 1.5 * one_chunk
    # Everything is in the database file itself once the WAL is checkpointed.
    with sqlite3.connect(wrapper.settings_dict["NAME"]) as reader:
        assert reader.execute("SELECT COUNT(*) FROM item").fetchone()[0] == CHUNKS * ROWS


def test_waiting_every_few_chunks_lets_the_wal_hold_about_that_many(wal_database):
    wrapper, wal = wal_database
    waited = []
    with Checkpoints(using=wrapper, every=3) as checkpoints:
        real_wait = checkpoints._wait_idle

        def counting():
            waited.append(checkpoints._waits)
            real_wait()

        checkpoints._wait_idle = counting
        sizes = write_chunks(wrapper, wal, checkpoints)
    assert checkpoints.failures == 0
    # Waited before the 3rd, 6th, 9th and 12th chunk, and for the last copy on leaving.
    assert waited == [3, 6, 9, 12, 12]
    one_chunk = sizes[0]
    assert max(sizes) < 3.5 * one_chunk  # restarted every third chunk at the latest
    with sqlite3.connect(wrapper.settings_dict["NAME"]) as reader:
        assert reader.execute("SELECT COUNT(*) FROM item").fetchone()[0] == CHUNKS * ROWS


def test_without_checkpoints_the_same_writes_grow_the_wal(wal_database):
    """What the test above guards against: no automatic and no background checkpoint."""
    wrapper, wal = wal_database
    with wrapper.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    sizes = write_chunks(wrapper, wal, None)
    assert sizes[-1] > (CHUNKS - 1) * sizes[0]


def test_a_checkpoint_that_cannot_open_the_database_never_blocks_the_writer(wal_database):
    wrapper, wal = wal_database
    wrapper.ensure_connection()  # opened on the real file, then the name points nowhere
    real_name = wrapper.settings_dict["NAME"]
    wrapper.settings_dict["NAME"] = "/nonexistent/directory/db.sqlite3"
    try:
        # No connection of its own: the committing connection keeps copying, as always.
        with Checkpoints(using=wrapper) as checkpoints:
            assert not checkpoints.active
            assert autocheckpoint(wrapper) == 1000
            sizes = write_chunks(wrapper, wal, checkpoints)
    finally:
        wrapper.settings_dict["NAME"] = real_name
    assert checkpoints.failures == 1
    assert len(sizes) == CHUNKS
    assert autocheckpoint(wrapper) == 1000


@pytest.mark.parametrize(
    "name, init_command",
    [(":memory:", ""), ("rollback.sqlite3", "PRAGMA journal_mode=DELETE;")],
    ids=["in-memory", "rollback-journal"],
)
def test_nothing_changes_without_a_wal(tmp_path, django_db_blocker, name, init_command):
    with django_db_blocker.unblock():
        path = name if name == ":memory:" else str(tmp_path / name)
        wrapper = sqlite_connection(path, init_command)
        try:
            with Checkpoints(using=wrapper) as checkpoints:
                checkpoints.committed()
                checkpoints.wait()
                assert not checkpoints.active
                assert autocheckpoint(wrapper) == 1000
        finally:
            wrapper.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL has no WAL to copy")
def test_nothing_changes_on_postgresql(db):
    with Checkpoints() as checkpoints:
        checkpoints.committed()
        checkpoints.wait()
        assert not checkpoints.active
