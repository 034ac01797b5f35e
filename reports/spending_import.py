"""Importing spending records from CSV: every row checked first, then all written or none.

Columns (header row required, any order):
    kind           "contract" or "expenditure"
    contract       the contract's title (an expenditure names the contract it is paid under)
    vendor         vendor name (contracts; created when new)
    technology     technology slug, or empty for the shared RTCC facility (contracts)
    total_value    contract value, e.g. 412500.00 (contracts)
    start_date     YYYY-MM-DD (contracts)
    end_date       YYYY-MM-DD (contracts)
    funding_source general-fund, grant, asset-forfeiture or other (contracts)
    resolution     council resolution number (contracts, optional)
    document_url   link to the contract document (contracts, optional)
    date           YYYY-MM-DD (expenditures)
    amount         e.g. 103125.00 (expenditures)
    description    (expenditures, optional)
"""

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from audit.models import Technology
from reports.models import Contract, Expenditure, Vendor

REQUIRED = {
    "contract": ("contract", "vendor", "total_value", "start_date", "end_date", "funding_source"),
    "expenditure": ("contract", "date", "amount"),
}


class SpendingImportError(Exception):
    """The file was refused; `problems` lists (line number, message), nothing was imported."""

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__("; ".join(f"line {line}: {message}" for line, message in problems))
        self.problems = problems


@dataclass
class ImportResult:
    contracts: int
    expenditures: int


def _money(value: str) -> Decimal:
    try:
        amount = Decimal(value.replace(",", "").replace("$", "").strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not an amount") from None
    if not amount.is_finite() or amount >= Decimal("1e12"):
        raise ValueError(f"'{value}' is not an amount under 1,000,000,000,000")
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"'{value}' must be zero or more, with at most two decimals")
    return amount


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value}' is not a date like 2026-07-01") from None


def import_spending(handle: IO[str]) -> ImportResult:
    """Import contracts and expenditures from an open CSV file, atomically."""
    reader = csv.DictReader(handle)
    missing = {"kind"} - set(reader.fieldnames or [])
    if missing:
        raise SpendingImportError([(1, "the header row needs a 'kind' column")])
    technologies = {t.slug: t for t in Technology.objects.all()}
    sources = set(Contract.FundingSource.values)
    known_titles = set(Contract.objects.values_list("title", flat=True))
    problems: list[tuple[int, str]] = []
    contracts, expenditures = [], []
    for row in reader:
        line = reader.line_num
        row = {k: (v or "").strip() for k, v in row.items() if k}
        kind = row.get("kind", "").lower()
        if kind not in REQUIRED:
            problems.append((line, f"kind must be 'contract' or 'expenditure', not '{kind}'"))
            continue
        empty = [name for name in REQUIRED[kind] if not row.get(name)]
        if empty:
            problems.append((line, f"missing {', '.join(empty)}"))
            continue
        try:
            if kind == "contract":
                if row["contract"] in known_titles:
                    raise ValueError(f"a contract titled '{row['contract']}' already exists")
                slug = row.get("technology", "")
                if slug and slug not in technologies:
                    raise ValueError(f"unknown technology '{slug}'")
                if row["funding_source"] not in sources:
                    raise ValueError(f"funding_source must be one of {', '.join(sorted(sources))}")
                start, end = _day(row["start_date"]), _day(row["end_date"])
                if end < start:
                    raise ValueError("end_date is before start_date")
                if row.get("document_url"):
                    URLValidator()(row["document_url"])
                contracts.append(
                    (row, technologies.get(slug), _money(row["total_value"]), start, end)
                )
                known_titles.add(row["contract"])
            else:
                if row["contract"] not in known_titles:
                    raise ValueError(f"no contract titled '{row['contract']}'")
                expenditures.append((row, _day(row["date"]), _money(row["amount"])))
        except (ValueError, ValidationError) as problem:
            message = problem.messages[0] if isinstance(problem, ValidationError) else problem
            problems.append((line, str(message)))
    if problems:
        raise SpendingImportError(problems)
    with transaction.atomic():
        for row, technology, value, start, end in contracts:
            Contract.objects.create(
                vendor=Vendor.objects.get_or_create(name=row["vendor"])[0],
                technology=technology,
                title=row["contract"],
                total_value=value,
                start_date=start,
                end_date=end,
                funding_source=row["funding_source"],
                council_resolution=row.get("resolution", ""),
                document_url=row.get("document_url", ""),
            )
        by_title = {c.title: c for c in Contract.objects.all()}
        Expenditure.objects.bulk_create(
            Expenditure(
                contract=by_title[row["contract"]],
                date=day,
                amount=amount,
                description=row.get("description", ""),
            )
            for row, day, amount in expenditures
        )
    return ImportResult(len(contracts), len(expenditures))
