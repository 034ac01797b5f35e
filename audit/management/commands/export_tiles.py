"""Write the log as static files (checkpoint, tiles, entry bundles) for a mirror."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit.transparency import mirror


class Command(BaseCommand):
    help = (
        "Write the latest checkpoint, hash tiles and entry bundles under DIR in the C2SP "
        "tlog-tiles layout. Incremental: full tiles already there are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="The mirror's directory.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, directory: str, no_progress: bool, **options):
        target = Path(directory)
        bar = tqdm(unit="file", desc="Writing", file=self.stderr, disable=no_progress)

        def planned(total: int) -> None:
            bar.total = total
            bar.refresh()

        try:
            with bar:
                run = mirror.export_tiles(target, planned=planned, progress=bar.update)
        except mirror.MirrorError as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(
            f"Mirror of the log at {run.tree_size} entries in {target}: {run.written} files "
            f"written, {run.skipped} full tiles already there."
        )
