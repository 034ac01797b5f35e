"""The open-data downloads: public leaves, daily counts and spending, streamed in flat memory.

Every file is made only of what the public pages may show: the leaves' own fields, counts of
them, and payments. The leaves and the daily counts match the latest signed tree head, which is
published beside them.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from audit.models import Scope
from audit.transparency import selectors as log_selectors
from reports.formatting import plain_amount
from reports.models import Contract, Expenditure, PublicRollup
from reports.periods import fiscal_year_of
from reports.selectors import FACILITY

CHUNK = 1000


# --- The downloads and their columns: one definition for the data dictionary page, the CSV
# headers and the Data Package (datapackage.json) with its Table Schemas. ------------------------

HEX64 = "[0-9a-f]{64}"  # Table Schema patterns are whole-value regular expressions


@dataclass(frozen=True)
class Column:
    """A column of a download: its Table Schema type, its meaning and its constraints."""

    name: str
    type: str  # a Table Schema type: integer, number, string, boolean, date, object
    description: str
    constraints: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # other Table Schema field properties

    def table_schema(self) -> dict:
        described = {"name": self.name, "type": self.type, "description": str(self.description)}
        if self.constraints:
            described["constraints"] = self.constraints
        return {**described, **self.extra}


@dataclass(frozen=True)
class Download:
    """One open-data file, described once for the page, the package and the CSV header."""

    name: str  # the resource name in the package; the dictionary's table id
    url_name: str
    path: str  # relative to /open-data/, where the package is published
    title: str
    description: str
    format: str
    mediatype: str
    columns: tuple[Column, ...] = ()  # empty for a file that is not a table
    primary_key: tuple[str, ...] = ()
    signed: bool = True  # matches the signed tree head (else: the spending records)

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]


REQUIRED = {"required": True}
BOOLEAN = {"trueValues": ["true"], "falseValues": ["false"]}
COUNT = {"required": True, "minimum": 0}
SCOPES = {"required": True, "enum": [value for value, _label in Scope.choices]}
TECHNOLOGY = _("The technology's identifier: face-recognition, license-plate-reader or nibin.")
CATEGORY = _("NIBRS offense group of the query's offense code, or 'unspecified'.")
SCOPE = _("Whose data was searched: local, regional or national.")

LEAVES_CSV = Download(
    name="leaves",
    url_name="reports:leaves-csv",
    path="leaves.csv",
    title=_("Public leaves (one row per query)"),
    description=_(
        "Every query in the latest signed tree head, one row each, with only its public fields. "
        "Hashing each row's leaf and building the Merkle tree gives the signed root hash."
    ),
    format="csv",
    mediatype="text/csv",
    columns=(
        Column(
            "sequence",
            "integer",
            _("The query's position in the log, from 0; the leaf index."),
            {"required": True, "unique": True, "minimum": 0},
        ),
        Column("v", "integer", _("Leaf format version (1)."), {"required": True, "enum": [1]}),
        Column(
            "date", "date", _("Local date of the query (no time of day is published)."), REQUIRED
        ),
        Column("technology", "string", TECHNOLOGY, REQUIRED),
        Column(
            "query_type",
            "string",
            _("The kind of search, for example plate-search or photo-probe."),
            REQUIRED,
        ),
        Column("agency", "string", _("Code of the agency that asked for the search."), REQUIRED),
        Column(
            "on_behalf_of_present",
            "boolean",
            _("true when it was made on behalf of another agency."),
            REQUIRED,
            BOOLEAN,
        ),
        Column("offense_category", "string", CATEGORY, REQUIRED),
        Column(
            "case_number_present",
            "boolean",
            _("true when a case number was recorded."),
            REQUIRED,
            BOOLEAN,
        ),
        Column(
            "supervisor_present",
            "boolean",
            _("true when a supervisor approved the search."),
            REQUIRED,
            BOOLEAN,
        ),
        Column("scope", "string", SCOPE, SCOPES),
        Column(
            "private_commitment",
            "string",
            _(
                "SHA-256 of a random salt and the fields that stay private (names, case "
                "number, reason, target). It seals them without revealing them."
            ),
            {"required": True, "pattern": HEX64},
        ),
        Column(
            "leaf_hash",
            "string",
            _("SHA-256 of a zero byte and the leaf's canonical JSON (RFC 6962 leaf hash)."),
            {"required": True, "pattern": HEX64},
        ),
    ),
    primary_key=("sequence",),
)

LEAVES_JSONL = Download(
    name="leaves-jsonl",
    url_name="reports:leaves-jsonl",
    path="leaves.jsonl",
    title=_("Public leaves (JSON Lines)"),
    description=_(
        "The same leaves as JSON, one object per line, exactly as the public log API returns "
        "each entry: the leaf object holds the CSV's columns from v to private_commitment."
    ),
    format="jsonl",
    mediatype="application/jsonl",
    columns=(
        LEAVES_CSV.columns[0],
        Column(
            "leaf",
            "object",
            _("The public leaf: the CSV's columns from v to private_commitment."),
            REQUIRED,
        ),
        LEAVES_CSV.columns[-1],
    ),
    primary_key=("sequence",),
)

DAILY_CSV = Download(
    name="daily",
    url_name="reports:daily-csv",
    path="daily.csv",
    title=_("Daily counts"),
    description=_(
        "Queries per local date, technology, requesting agency, offense category and scope, "
        "counted from the public leaves of the latest signed tree head."
    ),
    format="csv",
    mediatype="text/csv",
    columns=(
        Column("date", "date", _("Local date."), REQUIRED),
        Column("technology", "string", TECHNOLOGY, REQUIRED),
        Column("agency", "string", _("Requesting agency code."), REQUIRED),
        Column("offense_category", "string", CATEGORY, REQUIRED),
        Column("scope", "string", SCOPE, SCOPES),
        Column(
            "queries",
            "integer",
            _("Number of queries (leaves) with these values on that date."),
            COUNT,
        ),
        Column(
            "with_case_number", "integer", _("Of those, how many recorded a case number."), COUNT
        ),
        Column(
            "with_supervisor",
            "integer",
            _("Of those, how many had a supervisor's approval."),
            COUNT,
        ),
        Column(
            "on_behalf_of_another_agency",
            "integer",
            _("Of those, how many were made for another agency."),
            COUNT,
        ),
    ),
    primary_key=("date", "technology", "agency", "offense_category", "scope"),
)

SPENDING_CSV = Download(
    name="spending",
    url_name="reports:spending-csv",
    path="spending.csv",
    title=_("Spending (one row per payment)"),
    description=_("Every payment under every contract for the center and its technologies."),
    format="csv",
    mediatype="text/csv",
    columns=(
        Column(
            "payment_id",
            "integer",
            _("The payment's number in the city's records."),
            {"required": True, "unique": True, "minimum": 1},
        ),
        Column("date", "date", _("Date paid."), REQUIRED),
        Column(
            "fiscal_year",
            "string",
            _("The city's fiscal year of the payment: FY and the year it ends in."),
            {"required": True, "pattern": "FY[0-9]{4}"},
        ),
        Column(
            "technology",
            "string",
            _("The technology, or rtcc-facility for the shared center."),
            REQUIRED,
        ),
        Column("vendor", "string", _("Who was paid."), REQUIRED),
        Column("contract", "string", _("The contract paid under."), REQUIRED),
        Column(
            "funding_source",
            "string",
            _("general-fund, grant, asset-forfeiture or other."),
            {"required": True, "enum": [value for value, _label in Contract.FundingSource.choices]},
        ),
        Column(
            "council_resolution",
            "string",
            _("The council resolution approving the contract (empty when none was entered)."),
        ),
        Column(
            "amount_usd",
            "number",
            _("Amount paid, in US dollars: two decimals, no symbol, no thousands separators."),
            REQUIRED,
        ),
        Column("description", "string", _("What the payment was for.")),
    ),
    primary_key=("payment_id",),
    signed=False,
)

TREE_HEAD = Download(
    name="tree-head",
    url_name="reports:tree-head-json",
    path="tree-head.json",
    title=_("The signed tree head (JSON)"),
    description=_(
        "The size, root hash, time and Ed25519 signature of the log that the leaves and the "
        "daily counts match."
    ),
    format="json",
    mediatype="application/json",
)

DOWNLOADS = (LEAVES_CSV, LEAVES_JSONL, DAILY_CSV, SPENDING_CSV, TREE_HEAD)
# The data dictionary of /open-data/: the tables among the downloads (the JSON Lines file holds
# the same leaves as the CSV).
DICTIONARY = (LEAVES_CSV, DAILY_CSV, SPENDING_CSV)
LEAF_FIELDS = LEAVES_CSV.header[1:-1]


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
    return _csv_lines(LEAVES_CSV.header, rows)


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
    return _csv_lines(DAILY_CSV.header, (_daily_row(row) for row in rows))


def _daily_row(row: tuple) -> list:
    day, technology, agency, category, scope, *counts = row
    return [day.isoformat(), technology, agency, category, scope, *(_count(n) for n in counts)]


def withheld_marker() -> str | None:
    """What the daily file writes for a count below SIGHTLINE_PUBLIC_MIN_CELL (None when no count
    is withheld). Always English, whatever the visitor's language: the package's Table Schema
    declares it as a missing value, so a file and its schema must agree."""
    limit = settings.SIGHTLINE_PUBLIC_MIN_CELL
    return f"fewer than {limit}" if limit > 0 else None


def _count(n: int) -> int | str:
    marker = withheld_marker()
    return marker if marker and 0 < n < settings.SIGHTLINE_PUBLIC_MIN_CELL else n


def spending_csv() -> Iterator[str]:
    payments = (
        Expenditure.objects.select_related("contract__vendor", "contract__technology")
        .order_by("date", "id")
        .iterator(chunk_size=2000)
    )
    rows = (
        [
            p.id,
            p.date.isoformat(),
            f"FY{fiscal_year_of(p.date)}",
            p.contract.technology.slug if p.contract.technology else FACILITY,
            p.contract.vendor.name,
            p.contract.title,
            p.contract.funding_source,
            p.contract.council_resolution,
            plain_amount(p.amount),
            p.description,
        ]
        for p in payments
    )
    return _csv_lines(SPENDING_CSV.header, rows)


# --- The Data Package ---------------------------------------------------------------------------

PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
SCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"


def tree_head_json(head) -> bytes:
    """The signed tree head file, byte for byte as /open-data/tree-head.json serves it (the
    package carries its SHA-256, so a head and a package can be checked against each other)."""
    document = log_selectors.tree_head_document(head)
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2).encode()


def _table_schema(download: Download) -> dict:
    schema = {
        "$schema": SCHEMA_PROFILE,
        "fields": [column.table_schema() for column in download.columns],
        "primaryKey": list(download.primary_key),
    }
    marker = withheld_marker() if download is DAILY_CSV else None
    if marker:
        schema["missingValues"] = ["", marker]
    return schema


def _resource(download: Download, head) -> dict:
    resource = {
        "name": download.name,
        "path": download.path,
        "title": str(download.title),
        "description": str(download.description),
        "format": download.format,
        "mediatype": download.mediatype,
        "encoding": "utf-8",
    }
    if download.columns:
        resource["type"] = "table"
        resource["schema"] = _table_schema(download)
    if download is TREE_HEAD:
        resource["hash"] = f"sha256:{hashlib.sha256(tree_head_json(head)).hexdigest()}"
    return resource


def datapackage(head, *, homepage: str) -> dict:
    """A Frictionless Data Package (v2) describing every download: a Table Schema for each
    table, the licence, and the signed tree head that the query files match. Resource paths are
    relative to /open-data/, where the package is published. Descriptions are in English.

    Without a signed head yet, only the spending file is described.
    """
    city = settings.SIGHTLINE_CITY_NAME
    with translation.override("en"):
        package = {
            "$schema": PACKAGE_PROFILE,
            "name": f"sightline-{slugify(city)}",
            "title": f"Sightline open data: surveillance technology queries and spending, {city}",
            "description": (
                "Every query made with the city's surveillance technologies (public fields "
                "only), daily counts of them, and every payment for the technologies. No file "
                "contains a name, badge number, case number, plate, written reason or time of "
                "day. The query files match the signed tree head described here: recompute the "
                "Merkle root from the leaves and compare it with root_hash."
            ),
            "homepage": homepage,
            "licenses": [
                {
                    "path": settings.SIGHTLINE_DATA_LICENCE_URL,
                    "title": settings.SIGHTLINE_DATA_LICENCE,
                }
            ],
            "keywords": ["surveillance", "police", "transparency", "merkle-tree", "spending"],
            "resources": [
                _resource(download, head)
                for download in DOWNLOADS
                if head is not None or not download.signed
            ],
        }
    if head is not None:
        package["created"] = head.timestamp  # ISO 8601 UTC, as signed
        package["version"] = f"1.0.{head.tree_size}"
        # The head the query files match (a property of this package, beside the standard ones).
        package["sightline:signedTreeHead"] = log_selectors.tree_head_document(head)
    return package
