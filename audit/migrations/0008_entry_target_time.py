# The entries' target index gains the time and the operator: the repeated-target rule then
# counts an operator's searches of a target within its window from the index alone, instead
# of reading every earlier search of the target from the table (which grows with the log).

from django.db import migrations, models


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
    ]
