"""Vendor audit exports for the reports tests: a Flock-shaped CSV written from rows, imported
through the audit services exactly as the command imports it."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from audit.imports.reading import export_spec
from audit.imports.services import import_export

HEADER = ["ID", "Name", "Org Name", "Total Networks Searched", "License Plate", "Reason",
          "Case #", "Filters", "Search Time", "Search Type"]  # fmt: skip


@dataclass
class VendorSearch:
    row_id: str
    when: datetime  # a local (Birmingham) wall-clock time, written without a zone
    plate: str = "ZZZ999"
    operator: str = "B4242"
    agency: str = "BPD"
    reason: str = "investigation"
    case: str = "N/A"
    networks: str = "1"


def flock_csv(searches: list[VendorSearch]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for s in searches:
        writer.writerow(
            [s.row_id, s.operator, s.agency, s.networks, s.plate, s.reason, s.case, "",
             s.when.strftime("%m/%d/%Y %I:%M %p"), "Search"]
        )  # fmt: skip
    return out.getvalue().encode()


def import_searches(searches: list[VendorSearch], name: str = "flock-export.csv"):
    """Import the searches as one Flock export of BPD; returns the ImportResult."""
    spec = export_spec(fmt="flock", agency_code="BPD", zone_name="America/Chicago")
    return import_export(binary=io.BytesIO(flock_csv(searches)), file_name=name, spec=spec)
