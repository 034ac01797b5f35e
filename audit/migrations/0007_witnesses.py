# Witnesses that cosign the log's checkpoints (C2SP tlog-witness), and their cosignatures,
# which are append-only like the log itself.

import django.db.models.deletion
from django.db import migrations, models

import audit.transparency.models
from audit.log.db import create_append_only_triggers, drop_append_only_triggers

TABLES = ("audit_cosignature",)


def add_triggers(apps, schema_editor):
    create_append_only_triggers(schema_editor.connection, TABLES)


def remove_triggers(apps, schema_editor):
    drop_append_only_triggers(schema_editor.connection, TABLES)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_vendor_imports"),
    ]

    operations = [
        migrations.CreateModel(
            name="Witness",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="Who runs it.", max_length=100, unique=True)),
                ("url", models.URLField(help_text="Submission prefix: checkpoints are posted to this URL followed by /add-checkpoint.")),
                ("vkey", models.CharField(help_text="The witness's verifier key: its name, key id and base64 key joined by plus signs.", max_length=300, validators=[audit.transparency.models.validate_vkey])),
                ("active", models.BooleanField(default=True)),
                ("cosigned_size", models.BigIntegerField(default=0, help_text="The largest tree size this witness is known to have cosigned.")),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
            ],
            options={
                "verbose_name_plural": "witnesses",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="Cosignature",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("tree_size", models.BigIntegerField()),
                ("signature", models.CharField(help_text="The signature line (an em dash, the witness's name, base64), as returned.", max_length=600)),
                ("received_at", models.DateTimeField()),
                ("witness", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="cosignatures", to="audit.witness")),
            ],
            options={
                "ordering": ["tree_size", "witness_id"],
                "constraints": [models.UniqueConstraint(fields=("witness", "tree_size"), name="one_cosignature_per_witness_and_size")],
            },
        ),
        migrations.RunPython(add_triggers, remove_triggers),
    ]
