"""Plain-SQL bulk writes for the hot paths (recording, flags, rollups): one prepared statement
for many rows instead of the ORM's statements of at most 999 parameters on SQLite."""

import functools
import gc
import logging
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import contextmanager

from django.db import connection

logger = logging.getLogger(__name__)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False
_gc_freezes = 0
_gc_froze = False
_gc_thresholds: tuple[int, ...] = ()
# Allocations between two passes over the youngest generation during a long job (`gc_frozen`).
JOB_GC_THRESHOLD = 100_000


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a batch is built and written (threads nest
    safely).

    A batch (a recording, an import's chunk) builds a few small tuples and lists per row that
    all stay alive until it is written, so the collector's passes over them find nothing to
    free; they cost a third of the CPU of a large batch. Nothing is leaked: a cycle made
    meanwhile is collected by the first pass after the last pause ends.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


@contextmanager
def gc_frozen():
    """Keep what the process holds on entry out of the collector's passes until the last of
    these ends (threads nest safely), and collect its youngest generation less often meanwhile:
    for a long job of many batches, such as an import.

    Each batch ends with the collector on again (`gc_paused`), and its next full pass would
    walk every object the process holds (Django's, the server's): a few seconds per million
    rows imported. Nothing the job makes is exempt, and what is frozen is collected as usual
    once the job ends.

    The job's own objects are rows that live until their batch is written, not cycles: with
    the youngest generation collected every JOB_GC_THRESHOLD allocations instead of Python's
    700, the passes that would find nothing to free mostly do not run (an import of 300,000
    rows: 24.8-25.7 s against 26.1-27.3 s, the peak memory unchanged). The thresholds in force
    before are restored when the job ends; a reader process forked meanwhile inherits both.
    """
    global _gc_freezes, _gc_froze, _gc_thresholds
    with _gc_lock:
        if _gc_freezes == 0:
            # A server that froze its objects before forking workers keeps them frozen: then
            # this leaves the frozen objects as they are.
            _gc_froze = gc.get_freeze_count() == 0
            if _gc_froze:
                gc.freeze()
            _gc_thresholds = gc.get_threshold()
            gc.set_threshold(max(JOB_GC_THRESHOLD, _gc_thresholds[0]), *_gc_thresholds[1:])
        _gc_freezes += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_freezes -= 1
            if _gc_freezes == 0:
                gc.set_threshold(*_gc_thresholds)
                if _gc_froze:
                    gc.unfreeze()


def copy_rows(cursor, sql: str, rows: Iterable[tuple]) -> None:
    """Run `COPY ... FROM STDIN` (PostgreSQL, psycopg 3) with `rows`, as one statement.

    It goes through the connection's execute wrappers like every other statement, so whatever
    observes or guards the database's statements (`connection.execute_wrapper`) sees it too;
    database errors come out as Django's, as from `cursor.execute`.
    """

    def copy(sql, params, many, context):
        with cursor.cursor.copy(sql) as target:
            write = target.write_row
            for row in rows:
                write(row)

    run = copy
    for wrapper in reversed(connection.execute_wrappers):
        run = functools.partial(wrapper, run)
    with connection.wrap_database_errors:
        run(sql, None, False, {"connection": connection, "cursor": cursor})


def insert_rows(model, fields, rows: list[tuple]) -> None:
    """Insert plain rows into a model's table in the current transaction, without the ORM.

    COPY on PostgreSQL; one prepared INSERT run by executemany on SQLite. Values must already
    be adapted for the database (connection.ops.adapt_*), as the ORM would send them.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    # Names come from the model's own metadata, never from input.
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_rows(cursor, f"COPY {table} ({columns}) FROM STDIN", rows)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )


def utc_datetime_adapter():
    """connection.ops.adapt_datetimefield_value for aware UTC datetimes, as fast as can be.

    SQLite stores the naive UTC text when the connection's zone is UTC (the default); that
    is str() of the naive value, which is all Django's adapter does after its checks.
    """
    if connection.vendor == "sqlite" and connection.timezone_name == "UTC":
        return lambda moment: str(moment.replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value


def insert_through_staging(cursor, table: str, columns: list[str], rows, conflict: str) -> list:
    """PostgreSQL: COPY `rows` into this session's temporary table of `table`'s `columns`, then
    move them with one INSERT ... SELECT ... `conflict` (an ON CONFLICT clause, maybe with
    RETURNING): one round trip for all rows instead of a statement per row. Returns the rows
    RETURNING gave (or [])."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    staging = quote(f"staging_{table}")
    table = quote(table)
    # Table and column names come from the models, never from input.
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS "  # noqa: S608
        f"SELECT {names} FROM {table} WITH NO DATA"
    )
    copy_rows(cursor, f"COPY {staging} ({names}) FROM STDIN", rows)
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} {conflict}")  # noqa: S608
    inserted = cursor.fetchall() if "RETURNING" in conflict else []
    cursor.execute(f"TRUNCATE {staging}")
    return inserted


def refresh_statistics(models, *, growth: float = 2.0) -> list[str]:
    """PostgreSQL: ANALYZE those of the models' tables that have grown `growth` times or more
    since the planner last saw them (or were never analyzed and hold rows); returns their names.

    During a long bulk load this keeps the planner's choices following the tables' size, where
    autovacuum's own analyze comes too late. Growth is the table's pages now against the pages
    the planner last recorded (`pg_class.relpages`, which ANALYZE and VACUUM set), so a table
    that a load barely grows, such as a large existing log, is not sampled again and again.
    Nothing on SQLite, whose planner does not use such statistics unless asked.
    """
    if connection.vendor != "postgresql":
        return []
    tables = [m._meta.db_table for m in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relpages, pg_relation_size(oid) / current_setting('block_size')::int "
            "FROM pg_class WHERE oid = ANY(%s::regclass[])",
            [tables],
        )
        stale = sorted(
            name for name, known, pages in cursor.fetchall() if pages and pages >= growth * known
        )
        if stale:
            names = ", ".join(connection.ops.quote_name(name) for name in stale)
            cursor.execute(f"ANALYZE {names}")
    return stale


class Checkpoints:
    """A long run of write transactions on SQLite (an import's chunks), with the WAL copied into
    the database file by another thread while the caller prepares its next chunk.

    In WAL mode every commit of more than a thousand pages makes the committing connection copy
    the WAL into the database itself (the automatic checkpoint): a third of a second per chunk
    of an import, with the write lock held. Here the connection's automatic checkpoint is off
    for the run; `committed()` after each chunk starts a checkpoint on this object's own
    connection in a background thread, and `wait()` before the next chunk's transaction lets it
    finish, so the WAL starts again from its beginning instead of growing through the run.
    Nothing changes on PostgreSQL, an in-memory database or a database not in WAL mode. Use it
    as a context manager around the run: leaving restores the automatic checkpoint.

    With `every` above 1, `wait()` waits for the copy only every `every` calls: in between the
    writer goes on while the copy runs, after the end of the WAL, so the WAL starts again from
    its beginning every `every` chunks (and holds about that many at most) instead of every one.
    """

    def __init__(self, using=None, *, every: int = 1):
        self.connection = using or connection
        self.every = max(every, 1)
        self._waits = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # a request and the copier's "idle" are told apart
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._autocheckpoint = 0
        self.failures = 0  # copies that raised, or a copier that could not open (each logged)

    @property
    def active(self) -> bool:
        """Whether checkpoints run in the background (SQLite in WAL mode, inside the block)."""
        return self._thread is not None

    def __enter__(self) -> "Checkpoints":
        db = self.connection
        if db.vendor != "sqlite" or db.is_in_memory_db():
            return self
        with db.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0].lower() != "wal":
                return self
            cursor.execute("PRAGMA wal_autocheckpoint")
            self._autocheckpoint = cursor.fetchone()[0]
        name = str(db.settings_dict["NAME"])
        try:
            # Opened here, used only by the thread (one at a time, so sharing it is safe).
            copier = sqlite3.connect(name, timeout=30, check_same_thread=False)
            copier.execute("PRAGMA synchronous=NORMAL")  # as the site's connections
        except sqlite3.Error:  # then the committing connection keeps copying, as always
            logger.exception("Could not open the database for background WAL checkpoints")
            self.failures += 1
            return self
        with db.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        self._thread = threading.Thread(
            target=self._run, args=(copier,), name="sqlite-checkpoints", daemon=True
        )
        self._thread.start()
        return self

    def committed(self) -> None:
        """A chunk's transaction committed: copy the WAL into the database in the background."""
        if self._thread is not None and self._thread.is_alive():
            with self._lock:
                self._idle.clear()
                self._wanted.set()

    def wait(self) -> None:
        """Wait for the background copy, if one runs (call before the next transaction);
        with `every`, only at every `every`-th call."""
        if self._thread is None:
            return
        self._waits += 1
        if self._waits % self.every == 0:
            self._wait_idle()

    def _wait_idle(self) -> None:
        thread = self._thread
        while not self._idle.wait(1) and thread.is_alive():
            pass

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            return
        self._wait_idle()  # the last chunk's copy too
        self._stopping = True
        self._wanted.set()
        self._thread.join()
        self._thread = None
        with self.connection.cursor() as cursor:
            # Values come from SQLite itself (an integer), not from input.
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(self._autocheckpoint)}")

    def _run(self, database: sqlite3.Connection) -> None:
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    # PASSIVE: copies what is committed, never waits for readers or writers.
                    database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # the next chunk's copy tries again
                    self.failures += 1
                    logger.exception("Background WAL checkpoint failed")
                finally:
                    with self._lock:  # idle unless a chunk committed during this copy
                        if not self._wanted.is_set():
                            self._idle.set()
        finally:
            database.close()
            self._idle.set()
