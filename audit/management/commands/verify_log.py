"""Verify the whole stored log against its leaves, subtrees, state and signed heads."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit.models import LogState
from audit.transparency.verification import LogVerificationError, verify_log


class Command(BaseCommand):
    help = (
        "Recompute every private commitment, leaf hash and stored subtree hash, and check "
        "every published tree head. Exit 0 and print 'OK: ...' when the log verifies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, no_progress: bool, verbosity: int, **options):
        total = LogState.objects.values_list("size", flat=True).first() or 0
        with tqdm(
            total=total, unit="entry", desc="Verifying", file=self.stderr, disable=no_progress
        ) as bar:
            try:
                result = verify_log(progress=bar.update)
            except LogVerificationError as problem:
                raise CommandError(f"FAILED: {problem}") from None
        self.stdout.write(f"OK: {result.size} entries, root {result.root_hash}")
