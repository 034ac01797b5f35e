"""Keeping the rollup tables: counting entries, flags and outcomes per day and per month.

The same `Tally` serves the incremental path (receivers of audit's signals, inside the write's
transaction) and `rebuild_rollups`, so a rebuild always equals the incremental result.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from audit.models import QueryFlag, QueryLogEntry, QueryOutcome
from reports.models import (
    FlagRollup,
    HourRollup,
    OperatorRollup,
    OutcomeRollup,
    SliceRollup,
    UsageRollup,
)

ROLLUPS = (UsageRollup, SliceRollup, FlagRollup, OutcomeRollup, OperatorRollup, HourRollup)
MEASURES = {
    UsageRollup: ("queries", "with_case_number", "with_supervisor", "flagged"),
    SliceRollup: ("queries", "with_case_number", "with_supervisor", "flagged"),
    FlagRollup: ("queries",),
    OutcomeRollup: ("outcomes",),
    OperatorRollup: ("queries", "flagged"),
    HourRollup: ("queries",),
}


def _slices(e) -> tuple[tuple[str, str], ...]:
    """The one-dimension views of an entry's usage (see SliceRollup)."""
    return (
        ("all", ""),
        ("query_type", e.query_type),
        ("agency", f"{e.requesting_agency_code}|{1 if e.on_behalf_of else 0}"),
        ("offense_category", e.offense_category),
        ("scope", e.scope),
    )


def _periods(day: date) -> tuple[tuple[str, date], tuple[str, date]]:
    return ("day", day), ("month", day.replace(day=1))


class Tally:
    """Increments to apply to the rollup tables, keyed by each table's unique dimensions."""

    def __init__(self) -> None:
        self.counts: dict[type, dict[tuple, list[int]]] = {
            model: defaultdict(lambda m=model: [0] * len(MEASURES[m])) for model in ROLLUPS
        }
        self._tz = timezone.get_default_timezone()

    def _add(self, model, key: tuple, values: Iterable[int]) -> None:
        row = self.counts[model][key]
        for i, value in enumerate(values):
            row[i] += value

    def entries(self, entries: list[QueryLogEntry], flags: dict[int, list[str]], sign: int = 1):
        """Count entries (with their flags) in or, with sign=-1, out of the rollups."""
        for e in entries:
            found = flags.get(e.sequence, ())
            flagged = 1 if found else 0
            hour = e.occurred_at.astimezone(self._tz).hour
            for granularity, start in _periods(e.local_date):
                base = (granularity, start, e.technology_id)
                self._add(
                    UsageRollup,
                    (*base, e.query_type, e.requesting_agency_code, e.offense_category,
                     e.scope, bool(e.on_behalf_of)),
                    (sign, sign * bool(e.case_number), sign * bool(e.supervisor_badge),
                     sign * flagged),
                )  # fmt: skip
                measures = (sign, sign * bool(e.case_number), sign * bool(e.supervisor_badge),
                            sign * flagged)  # fmt: skip
                for dimension, value in _slices(e):
                    self._add(SliceRollup, (*base, dimension, value), measures)
                for flag in found:
                    key = (*base, e.requesting_agency_code, e.offense_category, flag)
                    self._add(FlagRollup, key, (sign,))
                    self._add(SliceRollup, (*base, "flag", flag), (sign, 0, 0, 0))
                self._add(OperatorRollup, (*base, e.operator_id or 0), (sign, sign * flagged))
                self._add(HourRollup, (*base, hour), (sign,))

    def reflagged(self, entries: list[QueryLogEntry], before: dict, after: dict) -> None:
        """Move entries from their old flags to their new ones."""
        for e in entries:
            old, new = before.get(e.sequence, []), after.get(e.sequence, [])
            if old == new:
                continue
            change = (1 if new else 0) - (1 if old else 0)
            for granularity, start in _periods(e.local_date):
                base = (granularity, start, e.technology_id)
                for flag in old:
                    self._add(FlagRollup, (*base, e.requesting_agency_code, e.offense_category,
                                           flag), (-1,))  # fmt: skip
                    self._add(SliceRollup, (*base, "flag", flag), (-1, 0, 0, 0))
                for flag in new:
                    self._add(FlagRollup, (*base, e.requesting_agency_code, e.offense_category,
                                           flag), (1,))  # fmt: skip
                    self._add(SliceRollup, (*base, "flag", flag), (1, 0, 0, 0))
                if change:
                    self._add(
                        UsageRollup,
                        (*base, e.query_type, e.requesting_agency_code, e.offense_category,
                         e.scope, bool(e.on_behalf_of)),
                        (0, 0, 0, change),
                    )  # fmt: skip
                    for dimension, value in _slices(e):
                        self._add(SliceRollup, (*base, dimension, value), (0, 0, 0, change))
                    self._add(OperatorRollup, (*base, e.operator_id or 0), (0, change))

    def outcomes(self, outcomes: list[tuple[int, str]]) -> None:
        """Count distinct (entry sequence, outcome kind) pairs: queries with that outcome."""
        facts = dict(
            (seq, (day, tech, category))
            for seq, day, tech, category in QueryLogEntry.objects.filter(
                sequence__in={seq for seq, _ in outcomes}
            ).values_list("sequence", "local_date", "technology_id", "offense_category")
        )
        for sequence, outcome in outcomes:
            day, tech, category = facts[sequence]
            for granularity, start in _periods(day):
                self._add(OutcomeRollup, (granularity, start, tech, category, outcome), (1,))

    def apply(self) -> None:
        """Add the tallied increments to the tables (upsert), then forget them."""
        with connection.cursor() as cursor:
            for model, counts in self.counts.items():
                rows = [
                    (*key[:1], connection.ops.adapt_datefield_value(key[1]), *key[2:], *values)
                    for key, values in counts.items()
                    if any(values)
                ]
                if rows:
                    cursor.executemany(upsert_sql(model, MEASURES[model]), rows)
                counts.clear()


def upsert_sql(model, measures: tuple[str, ...]) -> str:
    """INSERT ... ON CONFLICT that adds `measures` to a rollup row (both SQLite and PostgreSQL)."""
    table = model._meta.db_table
    keys = ["granularity", "period_start", "technology", *model.DIMENSIONS]
    columns = ", ".join(keys + list(measures))
    placeholders = ", ".join(["%s"] * (len(keys) + len(measures)))
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    # Table and column names come from the models, never from input.
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def rebuild(*, progress: Callable[[int], None] = lambda n: None, chunk: int = 5000) -> int:
    """Recompute every rollup from the log in one transaction; returns entries counted."""
    with transaction.atomic():
        for model in ROLLUPS:
            model.objects.all().delete()
        counted = 0
        last = -1
        while True:
            entries = list(
                QueryLogEntry.objects.filter(sequence__gt=last).order_by("sequence")[:chunk]
            )
            if not entries:
                break
            sequences = [e.sequence for e in entries]
            flags: dict[int, list[str]] = defaultdict(list)
            for sequence, flag in QueryFlag.objects.filter(entry_id__in=sequences).values_list(
                "entry_id", "flag"
            ):
                flags[sequence].append(flag)
            tally = Tally()
            tally.entries(entries, flags)
            tally.outcomes(
                sorted(
                    set(
                        QueryOutcome.objects.filter(entry_id__in=sequences).values_list(
                            "entry_id", "outcome"
                        )
                    )
                )
            )
            tally.apply()
            counted += len(entries)
            last = sequences[-1]
            progress(len(entries))
        FlagRollup.objects.filter(queries=0).delete()
        SliceRollup.objects.filter(dimension="flag", queries=0).delete()
        return counted
