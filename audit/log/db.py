"""Database-level protection of the append-only tables (triggers on SQLite and PostgreSQL)."""

from django.db.backends.base.base import BaseDatabaseWrapper

# Tables whose rows are never updated or deleted once written.
APPEND_ONLY_TABLES = (
    "audit_querylogentry",
    "audit_queryoutcome",
    "audit_merklenode",
    "audit_signedtreehead",
    "audit_auditreview",
    "audit_accessrecord",
    "audit_keyrefusal",
    "audit_cosignature",
    "audit_vendorimport",
    "audit_importrow",
    "audit_rowrecording",
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION sightline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""


def _statements(vendor: str, tables: tuple[str, ...], create: bool) -> list[str]:
    sql: list[str] = []
    if vendor == "postgresql":
        if create:
            sql.append(_PG_FUNCTION)
        for table in tables:
            if create:
                sql.append(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION sightline_append_only()"
                )
                sql.append(
                    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION sightline_append_only()"
                )
            else:
                sql.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                sql.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    elif vendor == "sqlite":
        for table in tables:
            for op in ("UPDATE", "DELETE"):
                name = f"{table}_no_{op.lower()}"
                if create:
                    sql.append(
                        f"CREATE TRIGGER {name} BEFORE {op} ON {table} BEGIN "
                        f"SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
                    )
                else:
                    sql.append(f"DROP TRIGGER IF EXISTS {name}")
    else:
        raise NotImplementedError(f"No append-only triggers for the {vendor} backend.")
    return sql


def create_append_only_triggers(
    connection: BaseDatabaseWrapper, tables: tuple[str, ...] = APPEND_ONLY_TABLES
) -> None:
    """Make the database itself refuse UPDATE and DELETE on the given tables."""
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, tables, create=True):
            cursor.execute(statement)


def drop_append_only_triggers(
    connection: BaseDatabaseWrapper, tables: tuple[str, ...] = APPEND_ONLY_TABLES
) -> None:
    """Remove the triggers: deliberate DDL, used by migrations and test-database teardown only."""
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, tables, create=False):
            cursor.execute(statement)
