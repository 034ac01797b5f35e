"""Shared builders of audit test data: queries as the recording service takes them."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection

from audit.flags.rules import ALL_FLAGS
from audit.log.parsing import QueryInput, fingerprint_target
from audit.models import EntryFlags, LogState, MerkleNode, QueryLogEntry

LPR = "license-plate-reader"
FACE = "face-recognition"
NIBIN = "nibin"
CHICAGO = ZoneInfo("America/Chicago")
GOOD_REASON = "Stolen vehicle report 26-1234, silver sedan seen near Five Points."
QUERY_TYPES = {LPR: "plate-search", FACE: "photo-probe", NIBIN: "casing-correlation"}


def at(day: int, hour: int = 14, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=CHICAGO)


def make_query(technology: str = LPR, target: str | None = "ABC 123", **overrides) -> QueryInput:
    fields = {
        "technology": technology,
        "query_type": QUERY_TYPES[technology],
        "occurred_at": at(4),
        "operator": "B100",
        "offense_code": "240",
        "justification": GOOD_REASON,
        "case_number": "BPD-26-0001",
        "supervisor": "S900" if technology == FACE else "",
        "requesting_agency": "BPD",
        "on_behalf_of": "",
        "scope": "local",
        "result_count": 2,
        "client_ref": None,
    }
    fields.update(overrides)
    fields["target_fingerprint"] = fingerprint_target(technology, target) if target else ""
    return QueryInput(**fields)


def log_snapshot() -> tuple[int, int, int, int]:
    """(log size, entries, Merkle nodes, flagged entries): equal before and after means nothing
    written."""
    return (
        LogState.objects.get(id=1).size,
        QueryLogEntry.objects.count(),
        MerkleNode.objects.count(),
        EntryFlags.objects.count(),
    )


def flag_pairs(**filters) -> set[tuple[int, str]]:
    """Every stored (entry sequence, flag) of the EntryFlags rows matching `filters`, each
    mask read bit by bit (bit i is ALL_FLAGS[i])."""
    return {
        (sequence, flag)
        for sequence, mask in EntryFlags.objects.filter(**filters).values_list("entry_id", "mask")
        for position, flag in enumerate(ALL_FLAGS)
        if mask >> position & 1
    }


def stored_flags_of(sequence: int) -> set[str]:
    return {flag for _, flag in flag_pairs(entry_id=sequence)}


def flagged_with(flag: str) -> set[int]:
    """The sequences of the entries stored with that flag."""
    return {sequence for sequence, found in flag_pairs() if found == flag}


def query_plan(sql: str, params=(), *, avoid: tuple[str, ...] = ("seqscan",)) -> str:
    """The database's plan for `sql` (written with %s), as one line: SQLite's EXPLAIN QUERY PLAN
    details, or PostgreSQL's EXPLAIN with the scans in `avoid` turned off for the transaction, so
    that an index the planner may use shows however few rows a test holds."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return " ".join(str(row[-1]) for row in cursor.fetchall())
        for scan in avoid:
            cursor.execute(f"SET LOCAL enable_{scan} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return " ".join(row[0] for row in cursor.fetchall())
