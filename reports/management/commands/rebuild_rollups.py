"""Recompute every rollup table from the query log."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from audit.models import LogState
from reports import rollups


class Command(BaseCommand):
    help = "Rebuild the usage, flag, outcome, unit and hour rollups from the log."

    def handle(self, *args, **options):
        total = LogState.objects.values_list("size", flat=True).first() or 0
        with tqdm(total=total, unit="entry", desc="Rebuilding rollups", file=self.stderr) as bar:
            counted = rollups.rebuild(progress=bar.update)
        self.stdout.write(f"Rebuilt rollups from {counted} entries.")
