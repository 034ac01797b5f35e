"""Make the log's tables append-only in the database itself, and create the reference data."""

from django.db import migrations

from audit.log.db import create_append_only_triggers, drop_append_only_triggers
from audit.log.reference import install_reference_data


# Frozen here: later migrations protect the tables they create.
TABLES = ("audit_querylogentry", "audit_queryoutcome", "audit_merklenode", "audit_signedtreehead")


def add_triggers(apps, schema_editor):
    create_append_only_triggers(schema_editor.connection, TABLES)


def remove_triggers(apps, schema_editor):
    drop_append_only_triggers(schema_editor.connection, TABLES)


def add_reference_data(apps, schema_editor):
    install_reference_data(apps.get_model("audit", "Technology"), apps.get_model("audit", "LogState"))


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(add_triggers, remove_triggers),
        migrations.RunPython(add_reference_data, migrations.RunPython.noop),
    ]
