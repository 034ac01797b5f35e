"""Plain-SQL bulk writes for the hot paths (recording, flags, rollups): one prepared statement
for many rows instead of the ORM's statements of at most 999 parameters on SQLite."""

import functools
from collections.abc import Iterable

from django.db import connection


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


def refresh_statistics(models) -> None:
    """PostgreSQL: ANALYZE the models' tables, so that the planner's choices follow their size
    during a long bulk load (autovacuum's own analyze comes too late for that). Nothing on
    SQLite, whose planner does not use such statistics unless asked."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
