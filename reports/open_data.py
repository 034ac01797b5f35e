"""The open-data downloads: public leaves, daily counts and spending, streamed in flat memory.

Every file is made only of what the public pages may show: the leaves' own fields, counts of
them, and payments. The leaves and the daily counts match the latest signed tree head, which is
published beside them.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.utils.translation import gettext_lazy as _

from audit import selectors as log_selectors
from reports.models import Expenditure, PublicRollup
from reports.periods import fiscal_year_of
from reports.public import cell
from reports.selectors import FACILITY

CHUNK = 1000

LEAF_FIELDS = [
    "v",
    "date",
    "technology",
    "query_type",
    "agency",
    "on_behalf_of_present",
    "offense_category",
    "case_number_present",
    "supervisor_present",
    "scope",
    "private_commitment",
]
LEAF_COLUMNS = ["sequence", *LEAF_FIELDS, "leaf_hash"]
DAILY_COLUMNS = [
    "date",
    "technology",
    "agency",
    "offense_category",
    "scope",
    "queries",
    "with_case_number",
    "with_supervisor",
    "on_behalf_of_another_agency",
]
SPENDING_COLUMNS = [
    "date",
    "fiscal_year",
    "technology",
    "vendor",
    "contract",
    "funding_source",
    "council_resolution",
    "amount_usd",
    "description",
]


def _csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text in pieces of about CHUNK rows (one write per piece, not per row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending == CHUNK:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            pending = 0
    yield out.getvalue()


def _leaves(tree_size: int) -> Iterator[dict]:
    for start in range(0, tree_size, CHUNK):
        yield from log_selectors.public_entries(start, min(start + CHUNK, tree_size))


def _json_value(value) -> str:
    """A leaf value as it appears in the leaf's JSON (true/false, not Python's True/False)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def leaves_csv(tree_size: int) -> Iterator[str]:
    rows = (
        [
            entry["sequence"],
            *(_json_value(entry["leaf"][f]) for f in LEAF_FIELDS),
            entry["leaf_hash"],
        ]
        for entry in _leaves(tree_size)
    )
    return _csv_lines(LEAF_COLUMNS, rows)


def leaves_jsonl(tree_size: int) -> Iterator[str]:
    """One JSON object per line, exactly as `/api/v1/log/entries` returns each entry."""
    lines: list[str] = []
    for entry in _leaves(tree_size):
        lines.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines.clear()
    yield "".join(lines)


def daily_csv() -> Iterator[str]:
    rows = (
        PublicRollup.objects.filter(granularity="day")
        .order_by("period_start", "technology", "agency", "offense_category", "scope")
        .values_list(
            "period_start",
            "technology",
            "agency",
            "offense_category",
            "scope",
            *PublicRollup.MEASURES,
        )
        .iterator(chunk_size=2000)
    )
    return _csv_lines(DAILY_COLUMNS, (_daily_row(row) for row in rows))


def _daily_row(row: tuple) -> list:
    day, technology, agency, category, scope, *counts = row
    return [day.isoformat(), technology, agency, category, scope, *(cell(n) for n in counts)]


def spending_csv() -> Iterator[str]:
    payments = (
        Expenditure.objects.select_related("contract__vendor", "contract__technology")
        .order_by("date", "id")
        .iterator(chunk_size=2000)
    )
    rows = (
        [
            p.date.isoformat(),
            f"FY{fiscal_year_of(p.date)}",
            p.contract.technology.slug if p.contract.technology else FACILITY,
            p.contract.vendor.name,
            p.contract.title,
            p.contract.funding_source,
            p.contract.council_resolution,
            f"{p.amount:.2f}",
            p.description,
        ]
        for p in payments
    )
    return _csv_lines(SPENDING_COLUMNS, rows)


# The data dictionary shown on /open-data/: (file, fields with their meaning).
DICTIONARY = [
    {
        "id": "leaves",
        "title": _("Public leaves (one row per query)"),
        "fields": [
            ("sequence", _("The query's position in the log, from 0; the leaf index.")),
            ("v", _("Leaf format version (1).")),
            ("date", _("Local date of the query (no time of day is published).")),
            ("technology", _("face-recognition, license-plate-reader or nibin.")),
            ("query_type", _("The kind of search, for example plate-search or photo-probe.")),
            ("agency", _("Code of the agency that asked for the search.")),
            ("on_behalf_of_present", _("true when it was made on behalf of another agency.")),
            ("offense_category", _("NIBRS offense group, or 'unspecified'.")),
            ("case_number_present", _("true when a case number was recorded.")),
            ("supervisor_present", _("true when a supervisor approved the search.")),
            ("scope", _("Whose data was searched: local, regional or national.")),
            (
                "private_commitment",
                _(
                    "SHA-256 of a random salt and the fields that stay private (names, case "
                    "number, reason, target). It seals them without revealing them."
                ),
            ),
            (
                "leaf_hash",
                _("SHA-256 of a zero byte and the leaf's canonical JSON (RFC 6962 leaf hash)."),
            ),
        ],
    },
    {
        "id": "daily",
        "title": _("Daily counts"),
        "fields": [
            ("date", _("Local date.")),
            ("technology", _("The technology.")),
            ("agency", _("Requesting agency code.")),
            ("offense_category", _("NIBRS offense group, or 'unspecified'.")),
            ("scope", _("local, regional or national.")),
            ("queries", _("Number of queries (leaves) with these values on that date.")),
            ("with_case_number", _("Of those, how many recorded a case number.")),
            ("with_supervisor", _("Of those, how many had a supervisor's approval.")),
            ("on_behalf_of_another_agency", _("Of those, how many were made for another agency.")),
        ],
    },
    {
        "id": "spending",
        "title": _("Spending (one row per payment)"),
        "fields": [
            ("date", _("Date paid.")),
            ("fiscal_year", _("The city's fiscal year of the payment.")),
            ("technology", _("The technology, or rtcc-facility for the shared center.")),
            ("vendor", _("Who was paid.")),
            ("contract", _("The contract paid under.")),
            ("funding_source", _("general-fund, grant, asset-forfeiture or other.")),
            ("council_resolution", _("The council resolution approving the contract.")),
            ("amount_usd", _("Amount paid, in US dollars.")),
            ("description", _("What the payment was for.")),
        ],
    },
]
