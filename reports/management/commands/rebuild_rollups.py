"""Recompute every rollup table from the query log."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from audit.models import LogState
from audit.transparency.selectors import latest_tree_size
from reports import public, rollups


class Command(BaseCommand):
    help = (
        "Rebuild the usage, flag, outcome, unit and hour rollups from the log, and the public "
        "counts from the leaves of the latest signed tree head."
    )

    def handle(self, *args, **options):
        total = LogState.objects.values_list("size", flat=True).first() or 0
        with tqdm(total=total, unit="entry", desc="Rebuilding rollups", file=self.stderr) as bar:
            counted = rollups.rebuild(progress=bar.update)
        self.stdout.write(f"Rebuilt rollups from {counted} entries.")
        signed = latest_tree_size() or 0
        with tqdm(total=signed, unit="entry", desc="Public counts", file=self.stderr) as bar:
            counted = public.rebuild_public_rollup(progress=bar.update)
        self.stdout.write(f"Rebuilt the public counts from {counted} signed entries.")
