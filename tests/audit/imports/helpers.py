"""Shared by the import tests: the data files and a reader over them without a database."""

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from audit.imports.errors import ProblemList
from audit.imports.formats import ExportReader
from audit.imports.mapping import load_mapping

DATA = Path(__file__).parent / "data"
CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
LPR_TYPES = frozenset(
    {"plate-search", "partial-plate-search", "vehicle-attribute-search", "hotlist-alert"}
)


def fake_fingerprint(technology: str, target: str) -> str:
    """Stands in for the log's keyed HMAC: derived from the target, never containing it."""
    normalized = "".join(target.upper().split())
    return "fp:" + hashlib.sha256(normalized.encode()).hexdigest()[:16]


def read_file(name, *, fmt="flock", zone=CHICAGO, mapping=None, fingerprint=fake_fingerprint):
    """(reader, rows, problems) of a data file read whole."""
    if isinstance(mapping, str):
        mapping = load_mapping((DATA / mapping).read_bytes())
    reader = ExportReader(
        fmt=fmt,
        technology="license-plate-reader",
        query_types=LPR_TYPES,
        zone=zone,
        fingerprint=fingerprint,
        now=NOW,
        mapping=mapping,
    )
    problems = ProblemList()
    with open(DATA / name, "rb") as binary:
        rows = list(reader.rows(binary, problems))
    return reader, rows, problems
