# The entries' sequence as the table's rowid on SQLite (`LogPositionField`, declared `integer`):
# declared `bigint`, the primary key was an ordinary column beside a hidden rowid, with an
# automatic unique index of its own that every append wrote, and the other indexes held the rowid
# instead of the sequence. Columns that refer to it (outcomes, reviews, flags, an import's links)
# are declared the same way; the flags' primary key, the entry's sequence, becomes that table's
# rowid too. Nothing changes on PostgreSQL.
#
# On SQLite, Django rebuilds each of those tables (new table, rows copied, old one dropped), and a
# dropped table takes its triggers with it: the append-only triggers of the rebuilt tables are put
# back here, both ways. The copy writes no UPDATE or DELETE, and no row changes.

from django.db import migrations

import audit.log.models
from audit.log.db import create_append_only_triggers, drop_append_only_triggers

# The append-only tables that the rebuild on SQLite recreates.
REBUILT = (
    "audit_querylogentry",
    "audit_queryoutcome",
    "audit_auditreview",
    "audit_rowrecording",
)


def restore_triggers(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    drop_append_only_triggers(connection, REBUILT)  # any that survived (IF EXISTS)
    create_append_only_triggers(connection, REBUILT)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0013_entry_operator_date_technology"),
    ]

    operations = [
        # Going back, the tables are rebuilt again: their triggers are put back after that too.
        migrations.RunPython(migrations.RunPython.noop, restore_triggers),
        migrations.AlterField(
            model_name="querylogentry",
            name="sequence",
            field=audit.log.models.LogPositionField(
                help_text="Merkle leaf index.", primary_key=True, serialize=False
            ),
        ),
        migrations.RunPython(restore_triggers, migrations.RunPython.noop),
    ]
