"""Keeping the rollup tables: counting entries, flags and outcomes per day and per month.

The same `Tally` serves the incremental path (receivers of audit's signals, inside the write's
transaction) and `rebuild_rollups`, so a rebuild always equals the incremental result.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from itertools import compress
from operator import itemgetter

from django.db import connection, transaction
from django.utils import timezone

from audit.log.bulk import copy_rows
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


# Positions in the tuple Tally.entries reads from each entry, and the slices (SliceRollup
# dimensions) projected from it.
_DAY, _MONTH, _TECH, _TYPE, _AGENCY, _CATEGORY, _SCOPE, _PROXY, _OPERATOR, _HOUR = range(10)
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
        read once into a tuple, then every table's key is projected from those tuples and
        counted by `Counter` (itemgetter, compress and Counter all run in C), one count per
        measure; only the resulting rows are added in Python. The sums are the same as adding
        each entry to every row it touches.
        """
        if not entries:
            return
        self._fresh = not any(self.counts.values())
        tz = self._tz
        get_flags = flags.get
        facts = [
            (day := e.local_date, day.replace(day=1), e.technology_id, e.query_type,
             e.requesting_agency_code, e.offense_category, e.scope, bool(e.on_behalf_of),
             e.operator_id or 0, e.occurred_at.astimezone(tz).hour)
            for e in entries
        ]  # fmt: skip
        with_case = [bool(e.case_number) for e in entries]
        with_supervisor = [bool(e.supervisor_badge) for e in entries]
        found = [get_flags(e.sequence) for e in entries]
        flagged = [bool(f) for f in found]
        flag_facts = [
            (*fact[:3], fact[_AGENCY], fact[_CATEGORY], flag)
            for fact, names in zip(facts, found, strict=True)
            if names
            for flag in names
        ]
        for granularity, period in (("day", _DAY), ("month", _MONTH)):

            def count(*fields, rows=facts, period=period):
                keys = list(map(itemgetter(period, _TECH, *fields), rows))
                return keys, Counter(keys)

            keys, queries = count(_TYPE, _AGENCY, _CATEGORY, _SCOPE, _PROXY)
            self._put(UsageRollup, granularity, sign, keys, queries, with_case, with_supervisor,
                      flagged)  # fmt: skip
            for dimension, fields in _SLICE_FIELDS:
                keys, queries = count(*fields)
                self._put(SliceRollup, granularity, sign, keys, queries, with_case,
                          with_supervisor, flagged, dimension=dimension)  # fmt: skip
            keys, queries = count(_OPERATOR)
            self._put(OperatorRollup, granularity, sign, keys, queries, flagged)
            keys, queries = count(_HOUR)
            self._put(HourRollup, granularity, sign, keys, queries)
            if flag_facts:
                by_flag = Counter(map(itemgetter(period, 2, 3, 4, 5), flag_facts))
                self._put(FlagRollup, granularity, sign, (), by_flag)
                by_flag = Counter(map(itemgetter(period, 2, 5), flag_facts))
                self._put(SliceRollup, granularity, sign, (), by_flag, dimension="flag")

    def _put(self, model, granularity, sign, keys, queries, *selectors, dimension=None):
        """Add counted rows to the tally: `queries` counts each key; each selector (a list of
        booleans aligned with `keys`) gives one more measure, the count of its true ones."""
        gets = [Counter(compress(keys, selected)).get for selected in selectors]
        if len(gets) == 3:
            c, s, f = gets
            rows = [(k, [sign * n, sign * c(k, 0), sign * s(k, 0), sign * f(k, 0)])
                    for k, n in queries.items()]  # fmt: skip
        elif len(gets) == 1:
            (f,) = gets
            rows = [(k, [sign * n, sign * f(k, 0)]) for k, n in queries.items()]
        else:
            zeros = [0] * (len(MEASURES[model]) - 1)
            rows = [(k, [sign * n, *zeros]) for k, n in queries.items()]
        g = granularity
        if dimension is None:
            keyed = [((g, *k), v) for k, v in rows]
        elif dimension == "all":
            keyed = [((g, start, tech, "all", ""), v) for (start, tech), v in rows]
        elif dimension == "agency":
            keyed = [
                ((g, start, tech, "agency", f"{agency}|{1 if proxy else 0}"), v)
                for (start, tech, agency, proxy), v in rows
            ]
        else:
            keyed = [((g, start, tech, dimension, value), v) for (start, tech, value), v in rows]
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
    """upsert_sql for many rows on PostgreSQL: COPY them into this session's temporary table of
    the model's columns, then one INSERT ... SELECT ... ON CONFLICT (the keys are distinct)."""
    table = model._meta.db_table
    keys = ["granularity", "period_start", "technology", *model.DIMENSIONS]
    measures = list(MEASURES[model])
    columns = ", ".join(keys + measures)
    staging = f"tally_{table}"
    updates = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    # Table and column names come from the models, never from input.
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} AS "  # noqa: S608
        f"SELECT {columns} FROM {table} WITH NO DATA"
    )
    copy_rows(cursor, f"COPY {staging} ({columns}) FROM STDIN", rows)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "  # noqa: S608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )
    cursor.execute(f"TRUNCATE {staging}")


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
