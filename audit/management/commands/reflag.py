"""Recompute policy flags for a period, e.g. after a policy change."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from audit.flags import services
from audit.management.dates import period_from_options
from audit.models import QueryLogEntry


class Command(BaseCommand):
    help = "Recompute the policy flags of every entry dated START..END under today's policies."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="First local date (YYYY-MM-DD).")
        parser.add_argument("--end", required=True, help="Last local date (YYYY-MM-DD).")

    def handle(self, *args, start: str, end: str, **options):
        first, last = period_from_options(start, end)
        total = QueryLogEntry.objects.filter(local_date__range=(first, last)).count()
        with tqdm(total=total, unit="entry", desc="Re-flagging", file=self.stderr) as bar:
            done = services.reflag(start=first, end=last, progress=bar.update)
        self.stdout.write(f"Re-flagged {done} entries dated {first} to {last}.")
