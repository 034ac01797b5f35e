"""The public side of the reports: counts at the latest signed tree head, and the figures the
transparency pages show.

Query counts come from `PublicRollup`, which covers exactly the entries of a signed tree head
and only the fields of their public leaves, so anyone can recompute them. Flags, reviews,
outcomes and spending are not in the leaves; they come from the audit and spending records and
the pages say so.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

from audit.models import QueryLogEntry, QueryOutcome, SignedTreeHead, Technology
from audit.transparency import selectors as log_selectors
from reports import selectors
from reports.models import Contract, PublicRollup, PublicRollupState
from reports.periods import Period, add_months, fiscal_year, fiscal_year_of
from reports.rollups import upsert_sql
from reports.tables import Table

CHUNK = 5000
# The default prohibited purposes (settings.SIGHTLINE_PROHIBITED_PURPOSES), so that their
# names reach the translation catalogue; the pages translate whatever names are configured.
PURPOSE_NAMES = (
    gettext_noop("immigration enforcement"),
    gettext_noop("reproductive health care"),
    gettext_noop("protest or other First Amendment activity"),
)
FIRST_DAY = date(2000, 1, 1)  # "all time" starts before any plausible entry


# --- Keeping the public rollup at the latest signed head ---------------------------------------


def advance_public_rollup(
    head: SignedTreeHead, progress: Callable[[int], None] = lambda n: None
) -> int:
    """Count entries up to the head's size into the public rollup; returns entries added.

    Runs under the state row's lock, so two requests after a new head never count an entry
    twice; the cost follows the log's growth since the last head, not its size.
    """
    covered = PublicRollupState.objects.filter(id=1).values_list("tree_size", flat=True).first()
    if covered is not None and covered >= head.tree_size:
        return 0  # the usual case: no write transaction (and on SQLite no write lock) needed
    with transaction.atomic():
        state, _created = PublicRollupState.objects.select_for_update().get_or_create(id=1)
        start = state.tree_size
        if start >= head.tree_size:
            return 0
        sql = upsert_sql(PublicRollup, PublicRollup.MEASURES)
        while start < head.tree_size:
            end = min(start + CHUNK, head.tree_size)
            counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
            rows = QueryLogEntry.objects.filter(sequence__gte=start, sequence__lt=end).values_list(
                "local_date",
                "technology_id",
                "requesting_agency_code",
                "offense_category",
                "scope",
                "case_number",
                "supervisor_badge",
                "on_behalf_of",
            )
            for day, technology, agency, category, scope, case, supervisor, behalf in rows:
                for granularity, first in (("day", day), ("month", day.replace(day=1))):
                    row = counts[(granularity, first, technology, agency, category, scope)]
                    row[0] += 1
                    row[1] += bool(case)
                    row[2] += bool(supervisor)
                    row[3] += bool(behalf)
            with connection.cursor() as cursor:
                cursor.executemany(
                    sql,
                    [
                        (key[0], connection.ops.adapt_datefield_value(key[1]), *key[2:], *values)
                        for key, values in counts.items()
                    ],
                )
            progress(end - start)
            start = end
        added = head.tree_size - state.tree_size
        state.tree_size = head.tree_size
        state.updated_at = timezone.now()
        state.save()
        return added


def rebuild_public_rollup(progress: Callable[[int], None] = lambda n: None) -> int:
    """Count the public rollup again from the leaves, up to the latest head; returns entries.

    Nothing needs this in normal operation (the leaves never change); it is for an operator who
    wants the counts recomputed, or counted ahead of the first visitor after an upgrade.
    """
    head = log_selectors.latest_tree_head()
    with transaction.atomic():
        PublicRollup.objects.all().delete()
        PublicRollupState.objects.all().delete()
        return advance_public_rollup(head, progress) if head else 0


def current_head() -> SignedTreeHead | None:
    """The latest signed head, with the public rollup brought up to it."""
    head = log_selectors.latest_tree_head()
    if head is not None:
        advance_public_rollup(head)
    return head


def localized_names() -> dict[str, str]:
    """Technology names in the active language."""
    language = get_language() or "en"
    return {t.slug: t.localized("name", language) for t in Technology.objects.all()}


# --- Small cells -------------------------------------------------------------------------------


def cell(n: int):
    """A count as published: "fewer than N" below SIGHTLINE_PUBLIC_MIN_CELL (0 = always shown)."""
    limit = settings.SIGHTLINE_PUBLIC_MIN_CELL
    if 0 < n < limit:
        return _("fewer than %(limit)d") % {"limit": limit}
    return n


def share(part: int, whole: int) -> str:
    """A percentage, withheld when the whole is a small cell (it would reveal the part)."""
    if not whole or 0 < whole < settings.SIGHTLINE_PUBLIC_MIN_CELL:
        return "—"
    return f"{part * 100 / whole:.1f}%"


# --- Periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """The three windows of the headline figures, ending today."""

    last_30_days: Period
    year_to_date: Period
    all_time: Period

    def items(self) -> list[tuple[str, Period]]:
        return [
            (_("Last 30 days"), self.last_30_days),
            (_("This year to date"), self.year_to_date),
            (_("All time"), self.all_time),
        ]


def windows(today: date) -> Windows:
    return Windows(
        last_30_days=Period(today - timedelta(days=29), today, "30 days"),
        year_to_date=Period(date(today.year, 1, 1), today, "YTD"),
        all_time=Period(FIRST_DAY, today, "all time"),
    )


# --- Reads -------------------------------------------------------------------------------------


def public_totals(period: Period, technology: str | None = None) -> dict[str, int]:
    """Queries, with case number, with supervisor and on behalf of another agency (signed)."""
    totals = selectors.rollup_rows(PublicRollup, period, technology).aggregate(
        **{measure: Sum(measure) for measure in PublicRollup.MEASURES}
    )
    return {key: value or 0 for key, value in totals.items()}


def public_by(period: Period, *dimensions: str, technology: str | None = None) -> dict:
    rows = (
        selectors.rollup_rows(PublicRollup, period, technology)
        .values(*dimensions)
        .annotate(n=Sum("queries"))
    )
    return {tuple(row[d] for d in dimensions): row["n"] for row in rows if row["n"]}


def public_by_month(period: Period, technology: str | None = None) -> dict[tuple, int]:
    counts: dict[tuple, int] = defaultdict(int)
    for (first, tech), n in public_by(
        period, "period_start", "technology", technology=technology
    ).items():
        counts[(first.replace(day=1), tech)] += n
    return dict(counts)


def _agency_searches(
    period: Period, technology: str | None, kinds: dict[str, str]
) -> tuple[int, int]:
    """Queries requested by partner agencies (registered) and outside agencies (unregistered)."""
    partner = outside = 0
    for (agency,), n in public_by(period, "agency", technology=technology).items():
        kind = kinds.get(agency, "outside")
        if kind == "partner":
            partner += n
        elif kind == "outside":
            outside += n
    return partner, outside


def _flagged(period: Period, technology: str | None) -> tuple[int, int]:
    totals = selectors.usage_totals(period, technology)
    return totals["flagged"], totals["queries"]


def _reviews(period: Period, technology: str | None) -> int:
    return sum(selectors.reviews_by_finding(period, technology).values())


def _false_matches(period: Period, technology: str | None) -> int:
    counts = selectors.outcome_counts(period, technology=technology)
    return counts.get((QueryOutcome.Kind.FALSE_MATCH.value,), 0)


# --- Tables of the public pages ----------------------------------------------------------------


def headline_table(today: date, technology: str | None = None) -> Table:
    """The headline figures for the last 30 days, the year to date and all time."""
    spans = windows(today).items()
    totals = [public_totals(period, technology) for _label, period in spans]
    kinds = selectors.agency_kinds()
    agencies = [_agency_searches(period, technology, kinds) for _label, period in spans]
    flagged = [_flagged(period, technology) for _label, period in spans]
    rows = [
        [_("Queries (signed log)")] + [cell(t["queries"]) for t in totals],
        [_("Share with a case number")]
        + [share(t["with_case_number"], t["queries"]) for t in totals],
        [_("Share with a supervisor's approval")]
        + [share(t["with_supervisor"], t["queries"]) for t in totals],
        [_("Searches for partner agencies")] + [cell(a[0]) for a in agencies],
        [_("Searches for unregistered outside agencies")] + [cell(a[1]) for a in agencies],
        [_("Made on behalf of another agency")] + [cell(t["on_behalf"]) for t in totals],
        [_("Share flagged for possible policy breaches")] + [share(f, n) for f, n in flagged],
        [_("Audit reviews completed")] + [cell(_reviews(p, technology)) for _label, p in spans],
        [_("False matches reported")]
        + [cell(_false_matches(p, technology)) for _label, p in spans],
    ]
    return Table(
        id="headline",
        title=_("Headline figures"),
        columns=[_("Measure")] + [label for label, _period in spans],
        rows=rows,
        note=_(
            "Queries, case numbers, supervisor approvals and agencies are counted from the "
            "public leaves of the latest signed tree head. Flags, reviews and false matches come "
            "from the audit records and outcome reports, which are not part of the public leaves."
        ),
    )


def trend_table(today: date, names: dict[str, str], technology: str | None = None) -> Table:
    """Queries per month over the last 24 months, one column per technology."""
    start = add_months(today.replace(day=1), -23)
    period = Period(start, today, "24 months")
    counts = public_by_month(period, technology)
    slugs = [technology] if technology else sorted(names, key=names.get)
    months = period.months()
    return Table(
        id="trend",
        title=_("Queries per month, last 24 months"),
        columns=[_("Month")] + [names.get(slug, slug) for slug in slugs],
        rows=[[m.strftime("%Y-%m")] + [cell(counts.get((m, s), 0)) for s in slugs] for m in months],
        chart="line",
        note=_("The current month runs to today."),
    )


def _last_12_months(today: date) -> Period:
    return Period(add_months(today, -12) + timedelta(days=1), today, "12 months")


def purposes_table(today: date, names: dict[str, str], technology: str | None = None) -> Table:
    """Queries by offense category over the last 12 months."""
    counts = public_by(
        _last_12_months(today), "offense_category", "technology", technology=technology
    )
    slugs = [technology] if technology else sorted(names, key=names.get)
    totals: dict[str, int] = defaultdict(int)
    for (category, _slug), n in counts.items():
        totals[category] += n
    categories = sorted(totals, key=lambda c: (-totals[c], c))
    columns = [_("Offense category")] + [names.get(s, s) for s in slugs]
    rows = [[c] + [cell(counts.get((c, s), 0)) for s in slugs] for c in categories]
    if len(slugs) > 1:
        columns.append(_("Total"))
        for row, category in zip(rows, categories, strict=True):
            row.append(cell(totals[category]))
    return Table(
        id="purposes",
        title=_("What it is used for: offense categories, last 12 months"),
        columns=columns,
        rows=rows,
        chart="stacked",
        note=_("Offense groups of the U.S. National Incident-Based Reporting System (NIBRS)."),
    )


def outcomes_table(today: date, names: dict[str, str], technology: str | None = None) -> Table:
    """Queries with each reported outcome over the last 12 months."""
    counts = selectors.outcome_counts(_last_12_months(today), "technology", technology=technology)
    slugs = [technology] if technology else sorted(names, key=names.get)
    labels = dict(QueryOutcome.Kind.choices)
    kinds = [k for k in QueryOutcome.Kind.values if any((k, s) in counts for s in slugs)]
    return Table(
        id="outcomes",
        title=_("What came of the queries, last 12 months"),
        columns=[_("Outcome")] + [names.get(s, s) for s in slugs],
        rows=[[str(labels[k])] + [cell(counts.get((k, s), 0)) for s in slugs] for k in kinds],
        chart="bar",
        note=_(
            "Queries with each outcome reported by the investigating unit; one query can have "
            "several outcomes, and many have none reported yet."
        ),
    )


def agencies_table(today: date, technology: str) -> Table:
    """Queries by requesting agency over the last 12 months."""
    kinds = selectors.agency_kinds()
    label = {
        "home": _("City department"),
        "partner": _("Partner agency"),
        "outside": _("Unregistered agency"),
    }
    counts = public_by(_last_12_months(today), "agency", technology=technology)
    rows = [
        [agency, label[kinds.get(agency, "outside")], cell(n)]
        for (agency,), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Table(
        id="agencies",
        title=_("Who asked: requesting agencies, last 12 months"),
        columns=[_("Agency code"), _("Kind"), _("Queries")],
        rows=rows,
        numeric_from=2,
    )


def spending_tables(names: dict[str, str]) -> list[Table]:
    """Money paid by fiscal year and funding source, and by fiscal year and technology."""
    totals = selectors.spending_by_fiscal_year()
    sources = dict(Contract.FundingSource.choices)
    years = sorted({fy for fy, _slug, _source in totals})
    by_source: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    by_technology: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for (fy, slug, source), amount in totals.items():
        by_source[(fy, source)] += amount
        by_technology[(fy, slug)] += amount
    used_sources = [s for s in sources if any((fy, s) in by_source for fy in years)]
    slugs = sorted({slug for _fy, slug in by_technology}, key=lambda s: _spend_label(s, names))
    source_rows = [
        [f"FY{fy}"]
        + [by_source.get((fy, s), Decimal("0.00")) for s in used_sources]
        + [sum((by_source.get((fy, s), Decimal("0")) for s in used_sources), Decimal("0.00"))]
        for fy in years
    ]
    technology_rows = [
        [f"FY{fy}"] + [by_technology.get((fy, s), Decimal("0.00")) for s in slugs] for fy in years
    ]
    return [
        Table(
            id="spending-sources",
            title=_("Money paid by fiscal year and funding source (US dollars)"),
            columns=[_("Fiscal year")] + [str(sources[s]) for s in used_sources] + [_("Total")],
            rows=source_rows,
            chart="stacked",
            note=_fiscal_year_note(),
        ),
        Table(
            id="spending-technologies",
            title=_("Money paid by fiscal year and technology (US dollars)"),
            columns=[_("Fiscal year")] + [_spend_label(s, names) for s in slugs],
            rows=technology_rows,
            chart="stacked",
            note=_(
                "The shared center covers the building, staff and systems used by all the "
                "technologies."
            ),
        ),
    ]


def _spend_label(slug: str, names: dict[str, str]) -> str:
    return _("Shared center") if slug == selectors.FACILITY else names.get(slug, slug)


def _fiscal_year_note() -> str:
    fy = fiscal_year(fiscal_year_of(timezone.localdate()))
    return _("Fiscal years run from %(start)s to %(end)s; FY%(year)s is the current one.") % {
        "start": date_format(fy.start, "F j"),
        "end": date_format(fy.end, "F j"),
        "year": fiscal_year_of(fy.start),
    }


def cost_table(today: date, names: dict[str, str], technology: str | None = None) -> Table:
    """Cost per query this fiscal year to date and last fiscal year."""
    this_fy = fiscal_year_of(today)
    spans = [
        (f"FY{this_fy - 1}", fiscal_year(this_fy - 1)),
        (
            _("FY%(year)s to date") % {"year": this_fy},
            Period(fiscal_year(this_fy).start, today, ""),
        ),
    ]
    rows = []
    for label, period in spans:
        for slug, figures in sorted(selectors.cost_per_query(period).items()):
            if technology and slug != technology:
                continue
            rows.append(
                [
                    label,
                    names.get(slug, slug),
                    figures["cost"],
                    cell(figures["queries"]),
                    figures["per_query"] if figures["queries"] else None,
                ]
            )
    return Table(
        id="cost",
        title=_("Cost per query (US dollars)"),
        columns=[_("Period"), _("Technology"), _("Cost"), _("Queries"), _("Cost per query")],
        rows=rows,
        numeric_from=2,
        note=_(
            "A technology's cost is what was paid under its own contracts in the period plus a "
            "share of the shared center's payments in proportion to its share of all queries."
        ),
    )


def spending_to_date() -> Decimal:
    return sum(selectors.spending_by_fiscal_year().values(), Decimal("0.00"))


def technology_summaries(today: date) -> dict[str, dict]:
    """Per technology: signed queries in the last 30 days and all time."""
    spans = windows(today)
    recent = public_by(spans.last_30_days, "technology")
    total = public_by(spans.all_time, "technology")
    return {
        slug: {
            "last_30_days": cell(recent.get((slug,), 0)),
            "all_time": cell(total.get((slug,), 0)),
        }
        for slug in Technology.objects.values_list("slug", flat=True)
    }
