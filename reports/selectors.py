"""Reads for reports: counts from the rollup tables (never the raw log) and spending records."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.imports.models import ImportRow, RowMatch, RowRecording, VendorImport
from audit.imports.selectors import vendor_export_totals
from audit.models import Agency, AuditReview, Operator, Technology
from reports.models import (
    Contract,
    Expenditure,
    FlagRollup,
    HourRollup,
    OperatorRollup,
    OutcomeRollup,
    SliceRollup,
    UsageRollup,
)
from reports.periods import Period, add_months, fiscal_year_of

FACILITY = "rtcc-facility"  # contracts for the shared center rather than one technology
POSITIVE_OUTCOMES = ("lead",)


def rollup_rows(model, period: Period, technology: str | None = None) -> QuerySet:
    """Rows covering exactly the period: whole months from monthly rows, the rest from days."""
    first_full = (
        period.start if period.start.day == 1 else add_months(period.start.replace(day=1), 1)
    )
    after_end = period.end + timedelta(days=1)
    last_full = after_end.replace(day=1)  # first day of the month holding after_end
    if first_full >= last_full:  # no whole month inside the period: days only
        condition = Q(granularity="day", period_start__range=(period.start, period.end))
    else:
        condition = Q(granularity="month", period_start__gte=first_full, period_start__lt=last_full)
        # Daily rows only for partial months at either end; a whole-month period (a month,
        # quarter or year) reads its monthly rows alone.
        if period.start < first_full:
            condition |= Q(
                granularity="day", period_start__gte=period.start, period_start__lt=first_full
            )
        if last_full <= period.end:
            condition |= Q(
                granularity="day", period_start__gte=last_full, period_start__lte=period.end
            )
    rows = model.objects.filter(condition)
    return rows.filter(technology=technology) if technology else rows


def usage_totals(period: Period, technology: str | None = None) -> dict[str, int]:
    totals = (
        rollup_rows(SliceRollup, period, technology)
        .filter(dimension="all")
        .aggregate(
            queries=Sum("queries"),
            with_case_number=Sum("with_case_number"),
            with_supervisor=Sum("with_supervisor"),
            flagged=Sum("flagged"),
        )
    )
    return {key: value or 0 for key, value in totals.items()}


# Groupings of usage that the one-dimension slices answer: dimensions besides technology ->
# (slice, how a slice value becomes those dimensions' values).
_SLICES = {
    (): ("all", lambda value: ()),
    ("query_type",): ("query_type", lambda value: (value,)),
    ("offense_category",): ("offense_category", lambda value: (value,)),
    ("scope",): ("scope", lambda value: (value,)),
    ("agency", "proxy"): (
        "agency",
        lambda value: (value.rpartition("|")[0], value.rpartition("|")[2] == "1"),
    ),
}


def usage_by(
    period: Period, *dimensions: str, model=UsageRollup, technology: str | None = None
) -> dict[tuple, int]:
    """Queries grouped by the given rollup columns.

    Usage grouped by technology and at most one other dimension is read from the small
    one-dimension slices; any other grouping from the full rollup.
    """
    others = tuple(d for d in dimensions if d != "technology")
    if model is UsageRollup and others in _SLICES:
        name, unpack = _SLICES[others]
        by_technology = "technology" in dimensions
        fields = ["technology", "value"] if by_technology else ["value"]
        counts: dict[tuple, int] = defaultdict(int)
        rows = (
            rollup_rows(SliceRollup, period, technology)
            .filter(dimension=name)
            .values(*fields)
            .annotate(n=Sum("queries"))
        )
        for row in rows:
            values = dict(zip(others, unpack(row["value"]), strict=True))
            if by_technology:
                values["technology"] = row["technology"]
            counts[tuple(values[d] for d in dimensions)] += row["n"]
        return {key: n for key, n in counts.items() if n}
    rows = rollup_rows(model, period, technology).values(*dimensions).annotate(n=Sum("queries"))
    return {tuple(row[d] for d in dimensions): row["n"] for row in rows if row["n"]}


def usage_by_month(period: Period) -> dict[tuple, int]:
    """Queries per (first of month, technology)."""
    counts: dict[tuple, int] = defaultdict(int)
    for row in (
        rollup_rows(SliceRollup, period)
        .filter(dimension="all")
        .values("period_start", "technology")
        .annotate(n=Sum("queries"))
    ):
        counts[(row["period_start"].replace(day=1), row["technology"])] += row["n"]
    return dict(counts)


def flagged_by_unit(period: Period, technology: str | None = None) -> dict[str, tuple[int, int]]:
    """(queries, flagged) per unit, operators grouped by the unit they belong to now."""
    units = dict(Operator.objects.values_list("id", "unit"))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        rollup_rows(OperatorRollup, period, technology)
        .values("operator")
        .annotate(n=Sum("queries"), f=Sum("flagged"))
    )
    for row in rows:
        total = counts[units.get(row["operator"], "")]
        total[0] += row["n"]
        total[1] += row["f"]
    return {unit: (n, f) for unit, (n, f) in counts.items() if n}


def flag_counts(period: Period, *dimensions: str, technology: str | None = None) -> dict:
    """Queries with each flag, optionally also by agency or offense category."""
    if not dimensions:
        rows = (
            rollup_rows(SliceRollup, period, technology)
            .filter(dimension="flag")
            .values("value")
            .annotate(n=Sum("queries"))
        )
        return {(row["value"],): row["n"] for row in rows if row["n"]}
    rows = (
        rollup_rows(FlagRollup, period, technology)
        .values("flag", *dimensions)
        .annotate(n=Sum("queries"))
    )
    return {(row["flag"], *(row[d] for d in dimensions)): row["n"] for row in rows if row["n"]}


def flag_trend(period: Period) -> dict[tuple, int]:
    counts: dict[tuple, int] = defaultdict(int)
    rows = (
        rollup_rows(SliceRollup, period)
        .filter(dimension="flag")
        .values("period_start", "value")
        .annotate(n=Sum("queries"))
    )
    for row in rows:
        counts[(row["period_start"].replace(day=1), row["value"])] += row["n"]
    return dict(counts)


def outcome_counts(period: Period, *dimensions: str, technology: str | None = None) -> dict:
    rows = (
        rollup_rows(OutcomeRollup, period, technology)
        .values("outcome", *dimensions)
        .annotate(n=Sum("outcomes"))
    )
    return {(row["outcome"], *(row[d] for d in dimensions)): row["n"] for row in rows if row["n"]}


def hours(period: Period, technology: str | None = None) -> dict[int, int]:
    counts = usage_by(period, "hour", model=HourRollup, technology=technology)
    return {key[0]: n for key, n in counts.items()}


def reviews_by_finding(period: Period, technology: str | None = None) -> dict[str, int]:
    """Audit reviews recorded during the period, by their finding."""
    reviews = AuditReview.objects.filter(created_at__date__range=(period.start, period.end))
    if technology:
        reviews = reviews.filter(entry__technology_id=technology)
    rows = reviews.values("finding").annotate(n=Count("id"))
    return {row["finding"]: row["n"] for row in rows}


def agency_kinds() -> dict[str, str]:
    """Each registered agency code's kind for reports: home, partner (registered) or outside."""
    return {
        code: ("home" if home else "partner")
        for code, home in Agency.objects.values_list("code", "is_home")
    }


# --- Spending ---------------------------------------------------------------------------------


def expenditures(period: Period) -> dict[tuple[str, str], Decimal]:
    """Money paid in the period by (technology slug or FACILITY, funding source)."""
    rows = (
        Expenditure.objects.filter(date__range=(period.start, period.end))
        .values("contract__technology__slug", "contract__funding_source")
        .annotate(total=Sum("amount"))
    )
    return {
        (row["contract__technology__slug"] or FACILITY, row["contract__funding_source"]): row[
            "total"
        ]
        for row in rows
    }


def spending_by_fiscal_year() -> dict[tuple[int, str, str], Decimal]:
    """All expenditures by (fiscal year, technology or FACILITY, funding source)."""
    totals: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
    for day, slug, source, amount in Expenditure.objects.values_list(
        "date", "contract__technology__slug", "contract__funding_source", "amount"
    ):
        totals[(fiscal_year_of(day), slug or FACILITY, source)] += amount
    return dict(totals)


def contracts_with_spending() -> list[Contract]:
    """Every contract with `spent` (paid to date) and `remaining` commitment."""
    contracts = list(
        Contract.objects.select_related("vendor", "technology").annotate(
            spent=Sum("expenditures__amount")
        )
    )
    for contract in contracts:
        contract.spent = contract.spent or Decimal("0.00")
        contract.remaining = contract.total_value - contract.spent
    return contracts


def contracts_in_force(period: Period) -> list[Contract]:
    """Contracts whose term overlaps the period, each with `paid_in_period` (payments dated in
    the period), `spent` (paid to date) and `remaining` commitment."""
    in_period = Q(expenditures__date__range=(period.start, period.end))
    contracts = list(
        Contract.objects.filter(start_date__lte=period.end, end_date__gte=period.start)
        .select_related("vendor", "technology")
        .annotate(
            spent=Sum("expenditures__amount"),
            paid_in_period=Sum("expenditures__amount", filter=in_period),
        )
        .order_by("start_date", "title", "id")
    )
    for contract in contracts:
        contract.spent = contract.spent or Decimal("0.00")
        contract.paid_in_period = contract.paid_in_period or Decimal("0.00")
        contract.remaining = contract.total_value - contract.spent
    return contracts


def cost_per_query(period: Period) -> dict[str, dict]:
    """Cost per query and per lead for each technology in the period (method on the page).

    A technology's cost is what was paid in the period under its own contracts plus a share of
    the shared-facility payments in proportion to its share of all queries in the period.
    """
    paid = expenditures(period)
    by_technology: dict[str, Decimal] = defaultdict(Decimal)
    for (slug, _source), amount in paid.items():
        by_technology[slug] += amount
    facility = by_technology.pop(FACILITY, Decimal("0"))
    queries = {key[0]: n for key, n in usage_by(period, "technology").items()}
    leads = {
        key[1]: n for key, n in outcome_counts(period, "technology").items() if key[0] == "lead"
    }
    total_queries = sum(queries.values())
    result = {}
    for slug in sorted(set(queries) | set(by_technology)):
        n = queries.get(slug, 0)
        share = (facility * n / total_queries) if total_queries else Decimal("0")
        cost = (by_technology.get(slug, Decimal("0")) + share).quantize(Decimal("0.01"))
        result[slug] = {
            "cost": cost,
            "queries": n,
            "leads": leads.get(slug, 0),
            "per_query": (cost / n).quantize(Decimal("0.01")) if n else None,
            "per_lead": (cost / leads[slug]).quantize(Decimal("0.01")) if leads.get(slug) else None,
        }
    return result


# --- Policy history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyChange:
    day: date
    action: str
    changes: list[tuple[str, str, str]]  # (field label, before, after)


def policy_history(technology: Technology) -> list[PolicyChange]:
    """The technology's recorded changes (django-auditlog), newest first, without who made them.

    Only the date is shown (no time), and the person who made a change is left out: the public
    pages carry no names.
    """
    from auditlog.models import LogEntry

    labels = {f.name: str(f.verbose_name) for f in Technology._meta.get_fields() if f.concrete}
    actions = {
        LogEntry.Action.CREATE: _("Created"),
        LogEntry.Action.UPDATE: _("Changed"),
        LogEntry.Action.DELETE: _("Removed"),
    }
    history = []
    for entry in LogEntry.objects.get_for_object(technology).order_by("-timestamp", "-id"):
        changes = [
            (labels.get(name, name), _text(values[0]), _text(values[1]))
            for name, values in sorted((entry.changes_dict or {}).items())
        ]
        history.append(
            PolicyChange(
                day=timezone.localdate(entry.timestamp),
                action=str(actions.get(entry.action, entry.action)),
                changes=changes,
            )
        )
    return history


def _text(value) -> str:
    return "—" if value in (None, "None", "") else str(value)


# --- Vendors' audit exports (counts only, from audit.imports) -----------------------------------


def vendor_exports(period: Period) -> dict[str, tuple[int, int]]:
    """Per technology slug: (searches found in vendors' audit exports dated in the period, of
    them searches the center never logged itself). A technology whose export covers the period
    but holds no search in it is there with (0, 0); an empty dict means no export covers it."""
    totals = vendor_export_totals(start=period.start, end=period.end)
    # An export covers its first to its last search (__date: local dates, as the period's).
    covering = VendorImport.objects.filter(
        covers_from__date__lte=period.end, covers_to__date__gte=period.start
    ).values_list("technology_id", flat=True)
    for slug in set(covering):
        totals.setdefault(slug, (0, 0))
    return totals


def vendor_exports_version() -> tuple:
    """What changes whenever an import adds rows or (re)matches or records them: the largest
    id of each of the import tables, in one indexed read (asked on every public page view)."""
    rows, matches, recordings = (m._meta.db_table for m in (ImportRow, RowMatch, RowRecording))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {rows}), (SELECT MAX(id) FROM {matches}), "  # noqa: S608 (names from the models)
            f"(SELECT MAX(id) FROM {recordings})"
        )
        return tuple(cursor.fetchone())
