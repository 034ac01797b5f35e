"""Export the query log for a period to a CSV, JSON Lines or XLSX file."""

import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit.management.dates import period_from_options
from audit.models import LogState
from audit.workspace import exports, selectors


class Command(BaseCommand):
    help = "Export every entry dated START..END with the auditor export's columns."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="First local date (YYYY-MM-DD).")
        parser.add_argument("--end", required=True, help="Last local date (YYYY-MM-DD).")
        parser.add_argument("--format", choices=sorted(exports.FORMATS), default="csv")
        parser.add_argument("--output", required=True, help="File to write ('-' for stdout).")

    def handle(self, *args, start: str, end: str, format: str, output: str, **options):
        first, last = period_from_options(start, end)
        if format == "xlsx" and output == "-":
            raise CommandError("XLSX cannot go to stdout; give a file name.")
        size = LogState.objects.values_list("size", flat=True).get(id=1)
        entries = selectors.search_entries({"start": first, "end": last}).filter(sequence__lt=size)
        total = entries.count()
        bar = tqdm(total=total, unit="entry", desc="Exporting", file=self.stderr)

        def counted(chunks):
            for chunk in chunks:
                bar.update(len(chunk))
                yield chunk

        data = counted(exports.row_chunks(entries))
        with bar:
            if format == "xlsx":
                with exports.xlsx_file(data) as source, Path(output).open("wb") as target:
                    shutil.copyfileobj(source, target)
            else:
                lines = exports.csv_lines(data) if format == "csv" else exports.jsonl_lines(data)
                if output == "-":
                    for line in lines:
                        self.stdout.write(line, ending="")
                else:
                    with Path(output).open("w", encoding="utf-8", newline="") as target:
                        target.writelines(lines)
        if output != "-":
            self.stdout.write(f"Exported {total} entries dated {first} to {last} to {output}.")
