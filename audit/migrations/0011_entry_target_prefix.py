# The entries' target index keyed by an integer taken from the fingerprint (`target_prefix`, its
# first 15 hex digits) instead of the 64-character fingerprint itself. Every recorded query lands
# at a random place in that index, so its size decides what an insert costs once the log outgrows
# the page cache: in a plain-sqlite3 simulation of a million entries, 26-27 µs an entry against
# 34-36 (bench/README.md, "Seventh session on the import"). Reads by target find entries by prefix
# and check the fingerprint (QueryLogEntry.objects.of_targets).
#
# The prefixes of the entries already recorded are filled in here, with the entries' append-only
# triggers lifted for this step only and put back: the prefix is derived from the recorded
# fingerprint, is not part of any leaf and changes nothing the log has committed to.

from django.db import migrations, models

from audit.log.db import create_append_only_triggers, drop_append_only_triggers
from audit.log.models import target_prefix

TABLE = ("audit_querylogentry",)
BATCH = 10_000


def fill_prefixes(apps, schema_editor):
    connection = schema_editor.connection
    drop_append_only_triggers(connection, TABLE)
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT sequence, target_fingerprint FROM audit_querylogentry "
                "WHERE sequence > %s AND target_fingerprint <> '' ORDER BY sequence LIMIT %s",
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            cursor.executemany(
                "UPDATE audit_querylogentry SET target_prefix = %s WHERE sequence = %s",
                [(target_prefix(fingerprint), sequence) for sequence, fingerprint in rows],
            )
            last = rows[-1][0]
    create_append_only_triggers(connection, TABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0010_entry_flags_as_masks"),
    ]

    operations = [
        migrations.AddField(
            model_name="querylogentry",
            name="target_prefix",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(fill_prefixes, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="querylogentry",
            name="entry_target_time",
        ),
        migrations.AddIndex(
            model_name="querylogentry",
            index=models.Index(
                fields=["target_prefix", "occurred_at", "operator_badge"],
                name="entry_target_prefix",
            ),
        ),
    ]
