# Two indexes that every recorded query paid for and no read needs:
# - the entries' integration index: its key is the API key's id (about 145 characters), so it
#   was the largest index of the log after the table itself; reads by integration go through
#   client_ref_unique_per_integration, which starts with the same column;
# - the flags' entry index: the one_flag_per_kind unique index starts with the entry.
# Dropped by name rather than by AlterField, which on SQLite would rebuild the entries' table
# without its append-only triggers (as in 0008).

import django.db.models.deletion
from django.db import migrations, models

# (table, column, Django's name for the column's index); PostgreSQL adds a "_like" index for
# the integration's varchar key.
DROPPED = [
    ("audit_querylogentry", "integration_id", "audit_querylogentry_integration_id_8c9ccf7a"),
    ("audit_queryflag", "entry_id", "audit_queryflag_entry_id_19fe9dee"),
]
LIKE = "audit_querylogentry_integration_id_8c9ccf7a_like"


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    names = [name for _table, _column, name in DROPPED]
    if schema_editor.connection.vendor == "postgresql":
        names.append(LIKE)
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for table, column, name in DROPPED:
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {quote(LIKE)} ON audit_querylogentry "
            "(integration_id varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0008_entry_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="queryflag",
                    name="entry",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="flags",
                        to="audit.querylogentry",
                    ),
                ),
                migrations.AlterField(
                    model_name="querylogentry",
                    name="integration",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="audit.integration",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
