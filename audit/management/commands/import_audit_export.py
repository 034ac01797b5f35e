"""Import a vendor's audit export (Flock CSV, or any CSV/XLSX with a mapping) and reconcile it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.imports import services
from audit.imports.errors import ExportRefused
from audit.imports.formats import FORMATS
from audit.imports.progress import BarProgress


class Command(BaseCommand):
    help = (
        "Import a vendor audit export into the log and reconcile it with what the center "
        "logged. A file with any problem is refused whole (each problem named by line) and "
        "nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The export file (CSV or XLSX).")
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="fmt")
        parser.add_argument("--agency", required=True, help="Code of the agency whose export.")
        parser.add_argument("--technology", default="", help="Technology slug (generic-csv).")
        parser.add_argument(
            "--timezone", default="", help="Zone of times that name none (default: TIME_ZONE)."
        )
        parser.add_argument("--mapping", default="", help="Mapping file (generic-csv).")
        parser.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")

    def handle(self, *args, file, fmt, agency, technology, timezone, mapping, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        mapping_text = b""
        if mapping:
            if not Path(mapping).is_file():
                raise CommandError(f"No such mapping file: {mapping}")
            mapping_text = Path(mapping).read_bytes()
        progress = BarProgress(self.stderr, disable=options["no_progress"])
        try:
            spec = services.export_spec(
                fmt=fmt,
                agency_code=agency,
                technology_slug=technology,
                zone_name=timezone,
                mapping_text=mapping_text,
            )
            with path.open("rb") as binary:
                result = services.import_export(
                    binary=binary,
                    file_name=path.name,
                    spec=spec,
                    dry_run=dry_run,
                    progress=progress,
                )
        except ExportRefused as refused:
            raise CommandError(str(refused)) from None
        finally:
            progress.close()
        scan = result.scan
        period = f"{scan.covers_from:%Y-%m-%d %H:%M} to {scan.covers_to:%Y-%m-%d %H:%M} UTC"
        if result.dry_run:
            self.stdout.write(
                f"Checked {scan.rows_read} rows ({period}); no problems. Nothing was written "
                "(--dry-run)."
            )
            for name, column in scan.columns.items():
                self.stdout.write(f"  {name:<12} <- {column}")
            return
        self.stdout.write(
            f"Import {result.vendor_import.pk}: {scan.rows_read} rows read ({period}); "
            f"{result.kept} new, {result.duplicates} already imported; {result.matched} "
            f"matched to the log, {result.recorded} recorded as not logged by the RTCC."
        )
