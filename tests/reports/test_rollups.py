"""Rollups: for random small logs and random periods, every report selector equals the counts
computed straight from the raw log, and a rebuild equals the incremental result (also after a
policy change and a reflag)."""

import tempfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from audit.flags.services import reflag
from audit.log.services import OutcomeInput, record_outcomes
from audit.models import Operator, QueryLogEntry, QueryOutcome, Scope, Technology
from reports import periods, rollups, selectors
from reports.models import FlagRollup, HourRollup, OperatorRollup, UsageRollup
from reports.rollups import MEASURES, ROLLUPS
from tests.audit.queries import flag_pairs
from tests.reports.helpers import CHICAGO, FACE, GOOD_REASON, LPR, NIBIN, QUERY_TYPES, QueryMaker

# Hypothesis keeps a cache directory; keep it out of the working tree.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="sightline-hypothesis-"))

TECHNOLOGIES = [LPR, FACE, NIBIN]
# Days at the edges of months, quarters, fiscal years and the two DST changes of FY2026.
EDGE_DAYS = [
    date(2025, 6, 30),
    date(2025, 7, 1),
    date(2025, 9, 30),
    date(2025, 10, 1),
    date(2025, 10, 31),
    date(2025, 11, 2),  # clocks go back at 02:00
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 2, 28),
    date(2026, 3, 1),
    date(2026, 3, 8),  # clocks go forward at 02:00
    date(2026, 3, 31),
    date(2026, 4, 1),
    date(2026, 6, 30),
    date(2026, 7, 1),
]
# Local clock times at the edges of the local day and of the UTC day (05:00/06:00 local is UTC
# midnight; 18:00/19:00 local is the next UTC day), and inside the DST fold.
EDGE_TIMES = [
    time(0, 0),
    time(0, 0, 0, 1),
    time(23, 59, 59, 999999),
    time(4, 59, 59),
    time(5, 0),
    time(6, 0),
    time(17, 59, 59),
    time(18, 0),
    time(19, 0),
    time(1, 30),
    time(1, 30, fold=1),
    time(2, 30),
]
# Inside the staffed hours (05:00-24:00), at their edges.
STAFFED_EDGE_TIMES = [time(5, 0), time(23, 59, 59, 999999), time(12, 0)]
OFFENSES = ["", "09A", "13A", "120", "240", "23H", "30A", "ZZZ"]


@st.composite
def query_specs(draw):
    """A query; half of them keep the policy (so a policy change can flag or clear them)."""
    technology = draw(st.sampled_from(TECHNOLOGIES))
    day = draw(st.one_of(st.sampled_from(EDGE_DAYS), st.dates(date(2025, 6, 1), date(2026, 7, 31))))
    spec = {
        "technology": technology,
        "query_type": draw(st.sampled_from(QUERY_TYPES[technology])),
        "day": day,
        "scope": draw(st.sampled_from(Scope.values)),
        "target": draw(st.sampled_from(["", "ABC123", "XYZ999"])),
    }
    if draw(st.booleans()):
        clock = draw(st.one_of(st.sampled_from(STAFFED_EDGE_TIMES), st.times(time(5), time(23))))
        spec.update(
            operator=draw(st.sampled_from(["B4242", "B5150", "B6001"])),
            requesting_agency="BPD",
            on_behalf_of=draw(st.sampled_from(["", "BPD"])),
            case_number=draw(st.sampled_from(["", "BPD-26-1", "BPD-26-2"])),
            supervisor="S900",
            offense_code=draw(st.sampled_from(["09A", "13A", "120", "240"])),
            justification=GOOD_REASON,
        )
    else:
        clock = draw(st.one_of(st.sampled_from(EDGE_TIMES), st.times()))
        spec.update(
            operator=draw(st.sampled_from(["B4242", "B5150", "B6001", "S900", "X999"])),
            requesting_agency=draw(st.sampled_from(["BPD", "MGM", "ALEA", "ZZ9"])),
            on_behalf_of=draw(st.sampled_from(["", "", "MGM", "BPD", "Huntsville PD"])),
            case_number=draw(st.sampled_from(["", "BPD-26-1", "BPD-26-2"])),
            supervisor=draw(st.sampled_from(["", "S900", "S404"])),
            offense_code=draw(st.sampled_from(OFFENSES)),
            justification=draw(st.sampled_from([GOOD_REASON, "", "investigation"])),
        )
    spec["occurred_at"] = datetime.combine(day, clock, tzinfo=CHICAGO).astimezone(UTC)
    return spec


def custom_from(start: date, days: int) -> periods.Period:
    return periods.custom(start, start + timedelta(days=days))


period_strategy = st.one_of(
    st.builds(periods.month, st.integers(2025, 2026), st.integers(1, 12)),
    st.builds(periods.quarter, st.integers(2025, 2026), st.integers(1, 4)),
    st.builds(periods.fiscal_year, st.integers(2025, 2027)),
    st.builds(periods.calendar_year, st.integers(2025, 2026)),
    st.builds(custom_from, st.dates(date(2025, 5, 15), date(2026, 7, 31)), st.integers(0, 140)),
    st.builds(custom_from, st.sampled_from(EDGE_DAYS), st.integers(0, 62)),
    st.builds(
        lambda end, days: periods.custom(end - timedelta(days=days), end),
        st.sampled_from(EDGE_DAYS),
        st.integers(0, 62),
    ),
)

POLICY_CHANGES = [
    {"requires_case_number": False},
    {"requires_supervisor_approval": True},
    {"status": Technology.Status.SUSPENDED},
    {"daily_volume_threshold": 1},
    {"allowed_offense_categories": ["Robbery"]},
    {"min_justification_length": 200},
]


# --- Expected counts, straight from the raw log ---------------------------------------------


class Raw:
    """Counts of the raw log for one period, computed in Python from the log's own rows."""

    def __init__(self, period: periods.Period):
        self.entries = list(
            QueryLogEntry.objects.filter(local_date__range=(period.start, period.end))
        )
        units = dict(Operator.objects.values_list("id", "unit"))
        self.unit = {e.sequence: units.get(e.operator_id, "") for e in self.entries}
        sequences = {e.sequence for e in self.entries}
        self.flags: dict[int, list[str]] = defaultdict(list)
        for sequence, flag in flag_pairs():
            if sequence in sequences:
                self.flags[sequence].append(flag)
        # Outcome counts are queries with that outcome: a repeated report counts once.
        self.outcomes = sorted(
            {
                (sequence, outcome)
                for sequence, outcome in QueryOutcome.objects.values_list("entry_id", "outcome")
                if sequence in sequences
            }
        )
        self.by_sequence = {e.sequence: e for e in self.entries}

    def only(self, technology: str) -> "Raw":
        """The same counts restricted to one technology."""
        raw = object.__new__(Raw)
        raw.entries = [e for e in self.entries if e.technology_id == technology]
        kept = {e.sequence for e in raw.entries}
        raw.unit = {seq: unit for seq, unit in self.unit.items() if seq in kept}
        raw.flags = defaultdict(list, {s: f for s, f in self.flags.items() if s in kept})
        raw.outcomes = [(s, o) for s, o in self.outcomes if s in kept]
        raw.by_sequence = {s: e for s, e in self.by_sequence.items() if s in kept}
        return raw

    def dimension(self, entry: QueryLogEntry, name: str):
        return {
            "technology": entry.technology_id,
            "query_type": entry.query_type,
            "agency": entry.requesting_agency_code,
            "offense_category": entry.offense_category,
            "scope": entry.scope,
            "proxy": bool(entry.on_behalf_of),
        }[name]

    def totals(self) -> dict[str, int]:
        return {
            "queries": len(self.entries),
            "with_case_number": sum(1 for e in self.entries if e.case_number),
            "with_supervisor": sum(1 for e in self.entries if e.supervisor_badge),
            "flagged": sum(1 for e in self.entries if self.flags.get(e.sequence)),
        }

    def usage_by(self, *dimensions: str) -> dict[tuple, int]:
        return dict(Counter(tuple(self.dimension(e, d) for d in dimensions) for e in self.entries))

    def usage_by_month(self) -> dict[tuple, int]:
        return dict(Counter((e.local_date.replace(day=1), e.technology_id) for e in self.entries))

    def flag_counts(self, *dimensions: str) -> dict[tuple, int]:
        return dict(
            Counter(
                (flag, *(self.dimension(self.by_sequence[seq], d) for d in dimensions))
                for seq, flags in self.flags.items()
                for flag in flags
            )
        )

    def outcome_counts(self, *dimensions: str) -> dict[tuple, int]:
        return dict(
            Counter(
                (outcome, *(self.dimension(self.by_sequence[seq], d) for d in dimensions))
                for seq, outcome in self.outcomes
            )
        )

    def hours(self) -> dict[int, int]:
        return dict(Counter(e.occurred_at.astimezone(CHICAGO).hour for e in self.entries))

    def flagged_by_unit(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for e in self.entries:
            counts[self.unit[e.sequence]][0] += 1
            counts[self.unit[e.sequence]][1] += 1 if self.flags.get(e.sequence) else 0
        return {unit: tuple(n) for unit, n in counts.items()}


USAGE_DIMENSIONS = [
    ("technology",),
    ("query_type",),
    ("agency", "proxy"),
    ("offense_category",),
    ("scope",),
    ("technology", "query_type"),
    ("technology", "query_type", "agency", "offense_category", "scope", "proxy"),
]
FLAG_DIMENSIONS = [
    (),
    ("technology",),
    ("agency",),
    ("offense_category",),
    ("agency", "technology"),
]
OUTCOME_DIMENSIONS = [
    (),
    ("technology",),
    ("offense_category",),
    ("technology", "offense_category"),
]


def check_period(period: periods.Period, technology: str) -> None:
    raw = Raw(period)
    where = f"{period.label} ({period.start}..{period.end})"
    assert selectors.usage_totals(period) == raw.totals(), where
    for dims in USAGE_DIMENSIONS:
        assert selectors.usage_by(period, *dims) == raw.usage_by(*dims), (where, dims)
    assert selectors.usage_by_month(period) == raw.usage_by_month(), where
    for dims in FLAG_DIMENSIONS:
        assert selectors.flag_counts(period, *dims) == raw.flag_counts(*dims), (where, dims)
    for dims in OUTCOME_DIMENSIONS:
        assert selectors.outcome_counts(period, *dims) == raw.outcome_counts(*dims), (where, dims)
    assert selectors.hours(period) == raw.hours(), where
    assert selectors.flagged_by_unit(period) == raw.flagged_by_unit(), where

    one, at = raw.only(technology), (where, technology)
    assert selectors.usage_totals(period, technology) == one.totals(), at
    by_type = selectors.usage_by(period, "query_type", "scope", technology=technology)
    assert by_type == one.usage_by("query_type", "scope"), at
    assert selectors.flag_counts(period, "agency", technology=technology) == one.flag_counts(
        "agency"
    ), at
    assert selectors.outcome_counts(period, technology=technology) == one.outcome_counts(), at
    assert selectors.hours(period, technology) == one.hours(), at
    assert selectors.flagged_by_unit(period, technology) == one.flagged_by_unit(), at


def snapshot() -> dict[str, dict[tuple, tuple]]:
    """Every row of every rollup table: key columns -> measures."""
    tables = {}
    for model in ROLLUPS:
        keys = ["granularity", "period_start", "technology", *model.DIMENSIONS]
        measures = list(MEASURES[model])
        rows = {}
        for values in model.objects.values_list(*keys, *measures):
            key, counts = values[: len(keys)], values[len(keys) :]
            assert key not in rows, (model.__name__, key)
            rows[key] = counts
        tables[model.__name__] = rows
    return tables


# --- The property test ----------------------------------------------------------------------


@pytest.fixture
def july_fy(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 7


@settings(
    max_examples=25,
    deadline=None,
    database=None,  # write nothing outside tests/reports
    # Shrinking replays the database work hundreds of times (minutes); report the raw example.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rollups_equal_the_raw_log_and_a_rebuild(maker: QueryMaker, july_fy, data):
    with transaction.atomic():  # each example starts from the same database
        run_example(maker, data)
        transaction.set_rollback(True)


def run_example(maker: QueryMaker, data) -> None:
    specs = data.draw(st.lists(query_specs(), min_size=2, max_size=16), label="queries")
    queries = [
        maker.query(client_ref=f"ref-{n}", **{k: v for k, v in spec.items() if k != "day"})
        for n, spec in enumerate(specs)
    ]
    cut = data.draw(st.integers(1, len(queries)), label="second batch starts at")
    first, second = queries[:cut], queries[cut:]
    sequences = []
    split = data.draw(st.integers(0, len(first)), label="first batch split")
    for batch in (first[:split], first[split:]):
        if batch:
            sequences += [r.sequence for r in maker.record(batch)]

    def add_outcomes(label):
        if not sequences:
            return
        outcomes = data.draw(
            st.lists(
                st.tuples(st.sampled_from(sequences), st.sampled_from(QueryOutcome.Kind.values)),
                max_size=8,
            ),
            label=label,
        )
        if outcomes:
            record_outcomes(
                outcomes=[OutcomeInput(seq, kind, maker.integration) for seq, kind in outcomes]
            )

    add_outcomes("outcomes")

    change = data.draw(st.sampled_from([None, *POLICY_CHANGES]), label="policy change")
    if change is not None:
        used = sorted({spec["technology"] for spec in specs[:cut]})
        slug = data.draw(st.sampled_from(used), label="technology changed")
        Technology.objects.filter(slug=slug).update(**change)
        start, end = date(2025, 5, 1), date(2026, 8, 31)  # the whole log, or part of it
        if data.draw(st.booleans(), label="reflag part of the log"):
            start = data.draw(st.dates(date(2025, 5, 25), date(2026, 8, 5)), label="from")
            end = start + timedelta(days=data.draw(st.integers(0, 450), label="days"))
        flags_before = flag_pairs()
        reflag(start=start, end=end)
        flags_after = flag_pairs()
        flagged = {seq for seq, _ in flags_before} ^ {seq for seq, _ in flags_after}
        event(f"reflag changed flags: {flags_before != flags_after}; flagged: {bool(flagged)}")

    if second:
        sequences += [r.sequence for r in maker.record(second)]
        add_outcomes("more outcomes")

    # The log's local date is the Birmingham date of the moment, at both midnights.
    for spec, entry in zip(specs, QueryLogEntry.objects.order_by("sequence"), strict=True):
        assert entry.local_date == spec["day"], (spec["occurred_at"], entry.local_date)

    # Sending a batch again (same client_refs) records nothing and counts nothing.
    before = snapshot()
    assert not any(r.created for r in maker.record(queries[:cut]))
    assert snapshot() == before

    chosen = data.draw(st.lists(period_strategy, min_size=1, max_size=2), label="periods")
    for period in [periods.custom(date(2025, 5, 1), date(2026, 8, 31)), *chosen]:
        check_period(period, data.draw(st.sampled_from(TECHNOLOGIES), label="technology"))

    counted = rollups.rebuild(chunk=data.draw(st.integers(1, 30), label="rebuild chunk"))
    assert counted == len(specs)
    assert snapshot() == before


# --- Deterministic cases --------------------------------------------------------------------


def test_reflag_after_a_policy_change_keeps_rollups_equal_to_a_rebuild(maker: QueryMaker):
    q = maker.query
    day = date(2026, 3, 4)
    recorded = maker.record(
        [
            q(case_number="", occurred_at=datetime.combine(day, time(10), tzinfo=CHICAGO)),
            q(case_number="", technology=NIBIN, target="", query_type="firearm-trace"),
            q(case_number="C-1"),
            q(case_number="", occurred_at=datetime(2026, 4, 1, 0, 0, tzinfo=CHICAGO)),
        ]
    )
    march = periods.month(2026, 3)
    assert selectors.flag_counts(march) == {("missing-case-number",): 2}
    assert selectors.usage_totals(march)["flagged"] == 2

    Technology.objects.filter(slug=LPR).update(requires_case_number=False)
    reflagged = reflag(start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert reflagged == 3
    # Only March was re-flagged: the April LPR entry keeps its flag until it is re-flagged too.
    assert selectors.flag_counts(march) == {("missing-case-number",): 1}
    assert selectors.flag_counts(march, "technology") == {("missing-case-number", NIBIN): 1}
    assert selectors.usage_totals(march)["flagged"] == 1
    assert selectors.flag_counts(periods.month(2026, 4)) == {
        ("missing-case-number",): 1,
        ("outside-staffed-hours",): 1,  # at local midnight
    }
    assert selectors.flagged_by_unit(march) == {"RTCC": (3, 1)}
    # No FlagRollup row is left at zero (a rebuild would not have it).
    assert not FlagRollup.objects.filter(queries__lte=0).exists()

    incremental = snapshot()
    assert rollups.rebuild() == 4
    assert snapshot() == incremental
    assert [r.sequence for r in recorded] == [0, 1, 2, 3]


def test_reflag_back_and_forth_leaves_the_rollups_as_they_were(maker: QueryMaker):
    maker.record(
        [
            maker.query(case_number="", supervisor="", technology=FACE, target="p1"),
            maker.query(case_number=""),
        ]
    )
    original = snapshot()
    for change in ({"requires_case_number": False}, {"requires_case_number": True}):
        Technology.objects.filter(slug__in=[LPR, FACE]).update(**change)
        reflag(start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert snapshot() == original
    rollups.rebuild()
    assert snapshot() == original


def test_rebuild_of_an_empty_log(db):
    assert rollups.rebuild() == 0
    assert snapshot() == {model.__name__: {} for model in ROLLUPS}


def test_rebuild_replaces_damaged_rollups(maker: QueryMaker):
    maker.record(
        [maker.query(), maker.query(technology=NIBIN, target="", query_type="firearm-trace")]
    )
    good = snapshot()
    UsageRollup.objects.update(queries=99)
    HourRollup.objects.all().delete()
    assert snapshot() != good
    assert rollups.rebuild() == 2
    assert snapshot() == good


def test_rebuild_rollups_command_prints_the_count(maker: QueryMaker):
    maker.record([maker.query() for _ in range(3)])
    maker.outcome(0, "lead")
    incremental = snapshot()
    out, err = StringIO(), StringIO()
    call_command("rebuild_rollups", stdout=out, stderr=err)
    assert out.getvalue().splitlines() == [
        "Rebuilt rollups from 3 entries.",
        "Rebuilt the public counts from 0 signed entries.",  # no head signed yet
    ]
    assert "Rebuilding rollups" in err.getvalue()
    assert snapshot() == incremental
    key = ("month", date(2026, 3, 1), LPR, "plate-search", "BPD", "Motor Vehicle Theft")
    assert incremental["UsageRollup"][(*key, "local", False)] == (3, 3, 0, 0)
    assert incremental["OutcomeRollup"] == {
        ("day", date(2026, 3, 4), LPR, "Motor Vehicle Theft", "lead"): (1,),
        ("month", date(2026, 3, 1), LPR, "Motor Vehicle Theft", "lead"): (1,),
    }


def test_reflag_after_an_operator_changes_unit_keeps_unit_counts_consistent(maker, cast):
    """Per-unit flagged counts must agree with the totals, and never go negative, when an
    operator moved to another unit between recording and a reflag."""
    maker.record([maker.query(case_number=""), maker.query(case_number="C-9")])
    march = periods.month(2026, 3)
    assert selectors.flagged_by_unit(march) == {"RTCC": (2, 1)}

    Operator.objects.filter(badge_number="B4242").update(unit="Homicide")
    Technology.objects.filter(slug=LPR).update(requires_case_number=False)
    reflag(start=march.start, end=march.end)

    assert selectors.usage_totals(march)["flagged"] == 0
    by_unit = selectors.flagged_by_unit(march)
    assert sum(flagged for _, flagged in by_unit.values()) == 0, by_unit
    assert sum(n for n, _ in by_unit.values()) == 2, by_unit
    negative = OperatorRollup.objects.filter(flagged__lt=0) | OperatorRollup.objects.filter(
        queries__lt=0
    )
    assert not negative.exists(), list(negative.values())
