"""Shared parsing of the --start/--end options of the audit commands."""

from datetime import date

from django.core.management.base import CommandError


def period_from_options(start: str, end: str) -> tuple[date, date]:
    """The inclusive local-date range named by --start and --end, or a CommandError."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as problem:
        raise CommandError(f"--start and --end must be dates like 2026-07-01: {problem}") from None
    if last < first:
        raise CommandError("--end is before --start.")
    return first, last
