# Leaner indexes on the log's entries, which every recorded query writes:
# - the target index gains the time and the operator: the repeated-target rule then counts an
#   operator's searches of a target within its window from the index alone, instead of reading
#   every earlier search of the target from the table (which grows with the log);
# - the technology, requesting agency and supervisor foreign keys lose their own indexes: no
#   query reads entries by them without a date (entry_date_tech serves those), and each index
#   is written on every insert. Their indexes are dropped by name rather than by AlterField,
#   which on SQLite would rebuild the table without its append-only triggers.

import django.db.models.deletion
from django.db import migrations, models

TABLE = "audit_querylogentry"
# Django's names for the foreign keys' indexes (the same on both databases); PostgreSQL adds a
# "_like" index for the technology's varchar key.
DROPPED = {
    "technology_id": ["audit_querylogentry_technology_id_b39b08c6"],
    "requesting_agency_id": ["audit_querylogentry_requesting_agency_id_a9baa959"],
    "supervisor_id": ["audit_querylogentry_supervisor_id_b9be8ab8"],
}
LIKE = "audit_querylogentry_technology_id_b39b08c6_like"


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    names = [name for names in DROPPED.values() for name in names]
    if schema_editor.connection.vendor == "postgresql":
        names.append(LIKE)
    for name in names:
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for column, names in DROPPED.items():
        for name in names:
            schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {quote(LIKE)} ON {quote(TABLE)} (technology_id varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0007_witnesses"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="querylogentry",
            index=models.Index(
                fields=["target_fingerprint", "occurred_at", "operator_badge"],
                name="entry_target_time",
            ),
        ),
        migrations.RemoveIndex(
            model_name="querylogentry",
            name="entry_target",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="querylogentry",
                    name="technology",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="audit.technology",
                        to_field="slug",
                    ),
                ),
                migrations.AlterField(
                    model_name="querylogentry",
                    name="requesting_agency",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="audit.agency",
                    ),
                ),
                migrations.AlterField(
                    model_name="querylogentry",
                    name="supervisor",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="audit.operator",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
