"""Keeping the rollup tables: counting entries, flags and outcomes per day and per month.

The same `Tally` serves the incremental path (receivers of audit's signals, inside the write's
transaction) and `rebuild_rollups`, so a rebuild always equals the incremental result.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from operator import itemgetter

from django.db import connection, transaction
from django.utils import timezone

from audit.flags.rules import stored_flags
from audit.log.bulk import insert_through_staging
from audit.models import QueryLogEntry, QueryOutcome
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


# Positions in the tuple Tally.entries reads from each entry (its measures last), and the
# slices (SliceRollup dimensions) projected from it.
(_DAY, _TECH, _TYPE, _AGENCY, _CATEGORY, _SCOPE, _PROXY, _OPERATOR, _HOUR, _WITH_CASE,
 _WITH_SUPERVISOR, _FLAGGED) = range(12)  # fmt: skip
_ALL_MEASURES = (_WITH_CASE, _WITH_SUPERVISOR, _FLAGGED)
_SLICE_FIELDS = (
    ("all", ()),
    ("query_type", (_TYPE,)),
    ("agency", (_AGENCY, _PROXY)),
    ("offense_category", (_CATEGORY,)),
    ("scope", (_SCOPE,)),
)


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
        """Count entries (with their flags) in or, with sign=-1, out of the rollups.

        A batch is counted table by table rather than entry by entry: each entry's values are
        read once into a tuple; each table's key is projected from those tuples together with
        the entry's measures (case number, supervisor, flagged) and counted by `Counter`
        (itemgetter and Counter run in C), so a batch of thousands of entries becomes a few
        hundred distinct combinations, folded into the day's rows in Python; the month's rows
        are folded from the day's. The sums are the same as adding each entry to every row
        it touches.
        """
        if not entries:
            return
        self._fresh = not any(self.counts.values())
        tz = self._tz
        get_flags = flags.get
        found = [get_flags(e.sequence) for e in entries]
        facts = [
            (e.local_date, e.technology_id, e.query_type, e.requesting_agency_code,
             e.offense_category, e.scope, bool(e.on_behalf_of), e.operator_id or 0,
             e.occurred_at.astimezone(tz).hour, bool(e.case_number), bool(e.supervisor_badge),
             bool(names))
            for e, names in zip(entries, found, strict=True)
        ]  # fmt: skip
        flag_facts = [
            (fact[_DAY], fact[_TECH], fact[_AGENCY], fact[_CATEGORY], flag)
            for fact, names in zip(facts, found, strict=True)
            if names
            for flag in names
        ]
        usage = (_TYPE, _AGENCY, _CATEGORY, _SCOPE, _PROXY)
        tables = [(UsageRollup, usage, _ALL_MEASURES, None)]
        tables += [(SliceRollup, fields, _ALL_MEASURES, name) for name, fields in _SLICE_FIELDS]
        tables += [
            (OperatorRollup, (_OPERATOR,), (_FLAGGED,), None),
            (HourRollup, (_HOUR,), (), None),
        ]
        for model, fields, measures, dimension in tables:
            by_day = _counted(facts, (_DAY, _TECH, *fields), measures)
            self._put(model, "day", sign, by_day, dimension)
            self._put(model, "month", sign, _by_month(by_day), dimension)
        if flag_facts:
            for model, fields, dimension in ((FlagRollup, (0, 1, 2, 3, 4), None),
                                             (SliceRollup, (0, 1, 4), "flag")):  # fmt: skip
                by_day = _counted(flag_facts, fields, ())
                self._put(model, "day", sign, by_day, dimension)
                self._put(model, "month", sign, _by_month(by_day), dimension)

    def _put(self, model, granularity, sign, rows: dict[tuple, list[int]], dimension=None):
        """Add counted rows ({(period start, technology, *values): measures}) to the tally,
        keyed as the table's unique columns; a table's measures it does not count are 0."""
        width = len(MEASURES[model])
        g = granularity
        if dimension is None:
            keyed = [((g, *k), v) for k, v in rows.items()]
        elif dimension == "all":
            keyed = [((g, start, tech, "all", ""), v) for (start, tech), v in rows.items()]
        elif dimension == "agency":
            keyed = [
                ((g, start, tech, "agency", f"{agency}|{1 if proxy else 0}"), v)
                for (start, tech, agency, proxy), v in rows.items()
            ]
        else:
            keyed = [
                ((g, start, tech, dimension, value), v) for (start, tech, value), v in rows.items()
            ]
        keyed = [
            (key, [sign * n for n in values] + [0] * (width - len(values))) for key, values in keyed
        ]
        counts = self.counts[model]
        if self._fresh:
            # Every key above is new to this tally (one row per period, table and dimension).
            counts.update(keyed)
        else:
            for key, values in keyed:
                _bump(counts, key, values)

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
        dates: dict[date, object] = {}
        adapt_date = connection.ops.adapt_datefield_value

        def adapted(day: date):
            value = dates.get(day)
            if value is None:
                value = dates[day] = adapt_date(day)
            return value

        with connection.cursor() as cursor:
            for model, counts in self.counts.items():
                rows = [
                    (key[0], adapted(key[1]), *key[2:], *values)
                    for key, values in counts.items()
                    if any(values)
                ]
                if len(rows) > COPY_ABOVE and _can_copy(cursor):
                    _upsert_by_copy(cursor, model, rows)
                elif rows:
                    cursor.executemany(upsert_sql(model, MEASURES[model]), rows)
                counts.clear()


# Above this many rows a PostgreSQL upsert goes through COPY into a temporary table: one
# round trip for all rows instead of one statement per row.
COPY_ABOVE = 50


def _can_copy(cursor) -> bool:
    return connection.vendor == "postgresql" and hasattr(cursor.cursor, "copy")  # psycopg 3


def _upsert_by_copy(cursor, model, rows: list[tuple]) -> None:
    """upsert_sql for many rows on PostgreSQL, through a staging table (the keys are distinct)."""
    table = model._meta.db_table
    keys = ["granularity", "period_start", "technology", *model.DIMENSIONS]
    measures = list(MEASURES[model])
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    insert_through_staging(
        cursor,
        table,
        keys + measures,
        rows,
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
    )


def _counted(rows: list[tuple], fields: tuple[int, ...], measures: tuple[int, ...]) -> dict:
    """{key: [rows, then per measure the rows where it is true]}, key = the `fields` of a row."""
    width = len(fields)
    counted = Counter(map(itemgetter(*fields, *measures), rows))
    if not measures:
        return {key: [n] for key, n in counted.items()}
    out: dict[tuple, list[int]] = {}
    for combination, n in counted.items():
        key = combination[:width]
        row = out.get(key)
        if row is None:
            row = out[key] = [0] * (1 + len(measures))
        row[0] += n
        for i, true in enumerate(combination[width:], start=1):
            if true:
                row[i] += n
    return out


def _by_month(by_day: dict[tuple, list[int]]) -> dict[tuple, list[int]]:
    """The same rows with each day replaced by its month's first day, summed."""
    out: dict[tuple, list[int]] = {}
    for (day, *rest), values in by_day.items():
        _bump(out, (day.replace(day=1), *rest), values)
    return out


def _bump(rows: dict[tuple, list[int]], key: tuple, values) -> None:
    """Add `values` to the row `key` of `rows` (a new row starts from them)."""
    row = rows.get(key)
    if row is None:
        rows[key] = list(values)
    else:
        for i, value in enumerate(values):
            row[i] += value


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
            flags = stored_flags(sequences)
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
