# An entry's flags in one row (a bit per flag) instead of one row per flag: a large import
# wrote about four flag rows per entry, each with two indexes. The flags are copied over, the
# bit of each flag being its position in ORDER (audit.flags.rules.ALL_FLAGS as it was then).

import audit.flags.models
import django.db.models.deletion
from django.db import migrations, models

ORDER = (
    "missing-case-number", "missing-justification", "vague-justification", "missing-offense",
    "disallowed-offense", "no-supervisor-approval", "unknown-operator", "uncertified-operator",
    "unknown-agency", "outside-agency", "outside-staffed-hours", "volume-anomaly",
    "repeated-target", "technology-not-authorized", "not-logged-by-rtcc",
)  # fmt: skip
BITS = {name: 1 << position for position, name in enumerate(ORDER)}
BATCH = 5000


def to_masks(apps, schema_editor):
    QueryFlag = apps.get_model("audit", "QueryFlag")
    EntryFlags = apps.get_model("audit", "EntryFlags")
    rows = QueryFlag.objects.order_by("entry_id").values_list("entry_id", "flag")
    batch, entry, mask = [], None, 0
    for sequence, flag in rows.iterator(chunk_size=BATCH):
        if flag not in BITS:
            raise ValueError(f"entry #{sequence} has a flag no rule gives: {flag!r}")
        if sequence != entry:
            if entry is not None:
                batch.append(EntryFlags(entry_id=entry, mask=mask))
            if len(batch) >= BATCH:
                EntryFlags.objects.bulk_create(batch)
                batch = []
            entry, mask = sequence, 0
        mask |= BITS[flag]
    if entry is not None:
        batch.append(EntryFlags(entry_id=entry, mask=mask))
    EntryFlags.objects.bulk_create(batch)


def to_rows(apps, schema_editor):
    QueryFlag = apps.get_model("audit", "QueryFlag")
    EntryFlags = apps.get_model("audit", "EntryFlags")
    batch = []
    for sequence, mask in EntryFlags.objects.values_list("entry_id", "mask").iterator(BATCH):
        batch.extend(QueryFlag(entry_id=sequence, flag=f) for f in ORDER if mask & BITS[f])
        if len(batch) >= BATCH:
            QueryFlag.objects.bulk_create(batch)
            batch = []
    QueryFlag.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0009_lighter_entry_and_flag_indexes"),
        # It counted flagged entries from audit_queryflag, which this migration removes.
        ("reports", "0006_operator_rollup"),
    ]

    operations = [
        migrations.CreateModel(
            name="EntryFlags",
            fields=[
                (
                    "entry",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="flags",
                        serialize=False,
                        to="audit.querylogentry",
                    ),
                ),
                ("mask", audit.flags.models.FlagMask()),
            ],
            options={
                "verbose_name_plural": "entry flags",
                "ordering": ["entry_id"],
            },
        ),
        migrations.RunPython(to_masks, to_rows),
        migrations.DeleteModel(
            name="QueryFlag",
        ),
    ]
