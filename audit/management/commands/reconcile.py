"""Recompute the reconciliation of vendor imports with the log (after alias or tolerance edits)."""

from django.core.management.base import BaseCommand, CommandError

from audit.imports import reconciliation
from audit.imports.models import VendorImport
from audit.imports.progress import BarProgress


class Command(BaseCommand):
    help = (
        "Recompute which rows of vendor imports the log holds an entry for, under today's "
        "aliases and SIGHTLINE_RECONCILE_TOLERANCE_MINUTES. Rows left without either are "
        "recorded into the log."
    )

    def add_arguments(self, parser):
        parser.add_argument("imports", nargs="*", type=int, help="Import ids (default: all).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")

    def handle(self, *args, imports, **options):
        chosen = VendorImport.objects.order_by("id")
        if imports:
            chosen = chosen.filter(id__in=imports)
            missing = sorted(set(imports) - set(chosen.values_list("id", flat=True)))
            if missing:
                raise CommandError(f"No import with id {', '.join(map(str, missing))}.")
        progress = BarProgress(self.stderr, disable=options["no_progress"])
        try:
            for vendor_import in chosen.select_related("agency"):
                result = reconciliation.reconcile(vendor_import=vendor_import, progress=progress)
                progress.close()
                self.stdout.write(
                    f"Import {vendor_import.pk}: {result.rows} rows, {result.matched} matched "
                    f"to the log, {result.rows - result.matched} only in the vendor's export"
                    + (f" ({result.recorded} newly recorded)" if result.recorded else "")
                    + (
                        f"; not-logged-by-rtcc updated on {result.reflagged} entries recorded "
                        "from its rows."
                        if result.reflagged
                        else "."
                    )
                )
        finally:
            progress.close()
