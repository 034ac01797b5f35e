"""Import contracts and expenditures from a CSV file (columns in reports/spending_import.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reports.spending_import import SpendingImportError, import_spending


class Command(BaseCommand):
    help = (
        "Import spending records from CSV. Every row is checked first; a bad row is reported "
        "by line number and nothing is imported. See docs/operations.md for the columns."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file (UTF-8) with a header row.")

    def handle(self, *args, file: str, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                result = import_spending(handle)
        except UnicodeDecodeError as problem:
            raise CommandError(f"{file} is not UTF-8 text: {problem}") from None
        except SpendingImportError as refused:
            lines = "\n".join(f"  line {line}: {message}" for line, message in refused.problems)
            raise CommandError(f"Nothing was imported. Fix these rows:\n{lines}") from None
        self.stdout.write(
            f"Imported {result.contracts} contracts and {result.expenditures} expenditures."
        )
