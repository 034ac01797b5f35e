"""The council report: every table of usage, compliance, outcomes and spending for a period,
compared with the same span of earlier periods.
"""

from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from audit.flags.rules import ALL_FLAGS, staffed_hours
from audit.log.nibrs import VIOLENT_CATEGORIES
from audit.models import AuditReview, QueryOutcome
from reports import selectors, vendor_exports
from reports.council_spending import (
    CHANGE_NOTE,
    compared_columns,
    compared_rows,
    compared_spans,
    spending_section,
)
from reports.formatting import count
from reports.periods import Comparison, Period, compare
from reports.public import localized_names
from reports.tables import Section, Table
from reports.tables import share as _share

# Lazy: translated when a page shows them (annual.py imports both notes).
QUERY_NOTE = gettext_lazy(
    "One query is one search an operator ran with a technology, posted to the log by the "
    "center's software when it was made; it is counted on the local (Birmingham) date it was "
    "made."
)


class _Reads:
    """The selectors, each answer remembered for one report: sections that need the same counts
    (or a year-earlier period equal to the previous one) do not ask the database twice."""

    def __init__(self) -> None:
        self._answers: dict = {}

    def __getattr__(self, name: str):
        function = getattr(selectors, name)

        def remembered(*args, **kwargs):
            key = (name, args, tuple(sorted(kwargs.items())))
            if key not in self._answers:
                self._answers[key] = function(*args, **kwargs)
            return self._answers[key]

        return remembered


def council_report(comparison: Comparison | Period) -> list[Section]:
    """All sections of the council report for a period (or its span so far, when it is still in
    progress), compared with the same span of one or two earlier periods. A bare `Period` is
    reported whole, as on the day after it ended."""
    if isinstance(comparison, Period):
        comparison = compare(comparison, comparison.end + timedelta(days=1))
    reads = _Reads()
    names = localized_names()
    return [
        _usage(reads, comparison, names),
        _compliance(reads, comparison, names),
        _outcomes(reads, comparison.current, names),
        spending_section(reads, comparison, names),
    ]


def _usage(reads, comparison: Comparison, names) -> Section:
    section = Section("usage", _("How often, for what and by whom"))
    period, spans = comparison.current, compared_spans(comparison)
    compare_columns = compared_columns(comparison)
    by_tech = [reads.usage_by(p, "technology") for p in spans]
    keys = sorted(set().union(*by_tech), key=lambda k: names.get(k[0], k[0]))
    rows = compared_rows(keys, *by_tech)
    for row in rows:
        row[0] = names.get(row[0], row[0])
    section.tables.append(
        Table(
            "by-technology",
            _("Queries by technology"),
            [_("Technology"), *compare_columns],
            rows,
            "bar",
            note=f"{QUERY_NOTE} {CHANGE_NOTE}",
        )
    )

    monthly = reads.usage_by_month(period)
    slugs = sorted({slug for _, slug in monthly}, key=lambda s: names.get(s, s))
    month_rows = []
    for first in period.months():
        counts = [monthly.get((first, slug), 0) for slug in slugs]
        month_rows.append([first.strftime("%Y-%m"), *counts, sum(counts)])
    section.tables.append(
        Table(
            "by-month",
            _("Queries per month by technology"),
            [_("Month"), *(names.get(s, s) for s in slugs), _("Total")],
            month_rows,
            "stacked",
            note=_(
                "Queries per calendar month, by local date. A month cut by the start or end "
                "of the period counts only its days inside the period."
            ),
        )
    )

    by_type = [reads.usage_by(p, "technology", "query_type") for p in spans]
    rows = compared_rows(sorted(set().union(*by_type)), *by_type)
    for row in rows:
        row[0] = names.get(row[0], row[0])
    section.tables.append(
        Table(
            "by-query-type",
            _("Queries by type"),
            [_("Technology"), _("Query type"), *compare_columns],
            rows,
            numeric_from=2,
            note=_(
                "Queries by the kind of search the operator chose, for example a plate "
                "search or a partial-plate search."
            )
            + f" {CHANGE_NOTE}",
        )
    )

    by_category = [reads.usage_by(p, "offense_category") for p in spans]
    total = sum(by_category[0].values())
    keys = sorted(by_category[0], key=lambda k: -by_category[0][k])
    rows = [
        [key[0], by_category[0][key], _share(by_category[0][key], total)]
        + [counts.get(key, 0) for counts in by_category[1:]]
        for key in keys
    ]
    violent = sum(n for key, n in by_category[0].items() if key[0] in VIOLENT_CATEGORIES)
    homicide = by_category[0].get(("Homicide Offenses",), 0)
    section.facts.append(
        _(
            "%(share)s of queries (%(violent)s of %(total)s) were for violent-crime "
            "investigations (homicide, assault, robbery, sex offenses, kidnapping, trafficking); "
            "%(homicide_share)s (%(homicide)s) for homicide investigations."
        )
        % {
            "share": _share(violent, total),
            "violent": count(violent),
            "total": count(total),
            "homicide_share": _share(homicide, total),
            "homicide": count(homicide),
        }
    )
    section.tables.append(
        Table(
            "by-offense",
            _("What it is used for: queries by offense category"),
            [
                _("Offense category"),
                comparison.current.label,
                _("Share"),
                *(e.period.label for e in comparison.earlier),
            ],
            rows,
            "bar",
            note=_(
                "Queries by the NIBRS offense group of the offense code entered with the "
                "query (unspecified when none was entered). Share is the category's queries as "
                "a percentage of all queries in the period."
            ),
        )
    )

    units = reads.flagged_by_unit(period)
    rows = [
        [unit or _("(unregistered operator)"), n, flagged, _share(flagged, n)]
        for unit, (n, flagged) in sorted(units.items(), key=lambda kv: -kv[1][0])
    ]
    section.tables.append(
        Table(
            "by-unit",
            _("Queries by unit"),
            [_("Unit"), _("Queries"), _("Flagged"), _("Share flagged")],
            rows,
            "bar",
            note=_(
                "Queries by the unit the operator belongs to today. Flagged counts the queries "
                "that raised at least one policy flag; share flagged is flagged / queries."
            ),
        )
    )

    kinds = reads.agency_kinds()
    by_agency = reads.usage_by(period, "agency", "proxy")
    totals: dict[tuple, list[int]] = {}
    for (agency, proxy), n in by_agency.items():
        row = totals.setdefault((agency,), [0, 0])
        row[0] += n
        row[1] += n if proxy else 0
    label = {
        "home": _("City department"),
        "partner": _("Partner agency"),
        "outside": _("Unregistered"),
    }
    rows = [
        [agency, label[kinds.get(agency, "outside")], n, proxied]
        for (agency,), (n, proxied) in sorted(totals.items(), key=lambda kv: -kv[1][0])
    ]
    section.tables.append(
        Table(
            "by-agency",
            _("Queries by requesting agency (and proxy searches)"),
            [_("Agency"), _("Kind"), _("Queries"), _("On behalf of another agency")],
            rows,
            "bar",
            numeric_from=2,
            note=_(
                "Queries by the agency that asked for the search. The last column counts the "
                "searches made on behalf of a different agency than the one asking."
            ),
        )
    )

    hours = reads.hours(period)
    window = staffed_hours(settings.SIGHTLINE_STAFFED_HOURS)
    staffed = settings.SIGHTLINE_STAFFED_HOURS
    rows = [
        [f"{h:02d}:00", hours.get(h, 0), _("yes") if window.covers(h * 60) else _("no")]
        for h in range(24)
    ]
    outside = sum(hours.get(h, 0) for h in range(24) if not window.covers(h * 60))
    section.facts.append(
        _("%(share)s of queries (%(n)s) were made outside the staffed hours (%(hours)s).")
        % {
            "share": _share(outside, sum(hours.values())),
            "n": count(outside),
            "hours": staffed,
        }
    )
    section.tables.append(
        Table(
            "by-hour",
            _("Queries by hour of day (local time)"),
            [_("Hour"), _("Queries"), _("Staffed")],
            rows,
            "bar",
            note=_(
                "Queries by the local hour they were made (03:00 counts 3:00 to 3:59 a.m.). "
                "Staffed: inside the center's staffed hours (%(hours)s)."
            )
            % {"hours": staffed},
        )
    )
    return section


def _compliance(reads, comparison: Comparison, names) -> Section:
    section = Section("compliance", _("How well the rules are kept"))
    period, spans = comparison.current, compared_spans(comparison)
    totals = [reads.usage_totals(p) for p in spans]
    flags = [reads.flag_counts(p) for p in spans]
    rows = []
    for flag in ALL_FLAGS:
        now = flags[0].get((flag,), 0)
        earlier = zip(flags[1:], totals[1:], strict=True)
        rows.append(
            [flag, now, _share(now, totals[0]["queries"])]
            + [_share(counts.get((flag,), 0), total["queries"]) for counts, total in earlier]
        )
    before = comparison.earlier[0].period
    now, then = totals[0], totals[1]
    section.facts.append(
        _(
            "%(share)s of queries (%(flagged)s of %(queries)s) raised at least one policy flag "
            "(%(before_share)s in %(before)s); %(case_share)s carried a case number."
        )
        % {
            "share": _share(now["flagged"], now["queries"]),
            "flagged": count(now["flagged"]),
            "queries": count(now["queries"]),
            "before_share": _share(then["flagged"], then["queries"]),
            "before": before.label,
            "case_share": _share(now["with_case_number"], now["queries"]),
        }
    )
    section.tables.append(
        Table(
            "flags",
            _("Share of queries with each policy flag"),
            [
                _("Flag"),
                _("Queries"),
                _("Share"),
                *(_("Share, %(period)s") % {"period": e.period.label} for e in comparison.earlier),
            ],
            rows,
            "bar",
            note=_(
                "A flag marks a possible policy breach, found automatically from the query and "
                "the policy in force (for example a missing case number); an auditor reviews "
                "it. Queries counts the queries with the flag; share is those as a percentage "
                "of all queries in the period. One query can raise several flags."
            ),
        )
    )

    monthly = reads.usage_by_month(period)
    trend = reads.flag_trend(period)
    rows = []
    for first in period.months():
        queries = sum(n for (month, _), n in monthly.items() if month == first)
        top = {flag: trend.get((first, flag), 0) for flag in ALL_FLAGS}
        rows.append([first.strftime("%Y-%m"), queries, *(top[f] for f in ALL_FLAGS[:5])])
    section.tables.append(
        Table(
            "flag-trend",
            _("Trend: the five documentation flags per month"),
            [_("Month"), _("Queries"), *ALL_FLAGS[:5]],
            rows,
            "line",
            note=_(
                "All queries, and the queries raising each documentation flag, per calendar "
                "month of the period."
            ),
        )
    )

    reviews = reads.reviews_by_finding(period)
    rows = [[label, reviews.get(value, 0)] for value, label in AuditReview.Finding.choices]
    recorded = sum(reviews.values())
    section.facts.append(
        ngettext(
            "%(n)s audit review was recorded in the period.",
            "%(n)s audit reviews were recorded in the period.",
            recorded,
        )
        % {"n": count(recorded)}
    )
    section.tables.append(
        Table(
            "reviews",
            _("Audit reviews and their findings"),
            [_("Finding"), _("Reviews")],
            rows,
            "bar",
            note=_(
                "Reviews auditors recorded during the period (by the date they recorded them), "
                "by finding. A later review of the same query is counted again."
            ),
        )
    )
    section.tables.append(vendor_exports.council_table(reads.vendor_exports(period), names))
    return section


OUTCOME_NOTE = gettext_lazy(
    "Queries made in the period with each outcome that the investigating unit reported later, "
    "counted once per query and outcome. One query can have several outcomes, and many have "
    "none reported yet, so recent periods grow as reports arrive."
)


def _outcomes(reads, period: Period, names) -> Section:
    section = Section("outcomes", _("Does it help solve cases?"))
    kinds = QueryOutcome.Kind
    by_tech = reads.outcome_counts(period, "technology")
    techs = sorted({key[1] for key in by_tech}, key=lambda s: names.get(s, s))
    rows = [
        [names.get(slug, slug), *(by_tech.get((kind, slug), 0) for kind in kinds.values)]
        for slug in techs
    ]
    section.tables.append(
        Table(
            "outcomes",
            _("Outcomes reported, by technology"),
            [_("Technology"), *kinds.labels],
            rows,
            "bar",
            note=OUTCOME_NOTE,
        )
    )
    by_category = reads.outcome_counts(period, "offense_category")
    categories = sorted(
        {key[1] for key in by_category}, key=lambda c: -by_category.get(("lead", c), 0)
    )
    wanted = ["lead", "arrest", "charged", "cleared", "false-match"]
    rows = [
        [category, *(by_category.get((kind, category), 0) for kind in wanted)]
        for category in categories
    ]
    homicide_leads = by_category.get(("lead", "Homicide Offenses"), 0)
    section.facts.append(
        ngettext(
            "%(leads)s query in homicide investigations produced a lead; %(cleared)s were "
            "followed by a cleared case.",
            "%(leads)s queries in homicide investigations produced a lead; %(cleared)s were "
            "followed by a cleared case.",
            homicide_leads,
        )
        % {
            "leads": count(homicide_leads),
            "cleared": count(by_category.get(("cleared", "Homicide Offenses"), 0)),
        }
    )
    section.tables.append(
        Table(
            "outcomes-by-offense",
            _("Outcomes by offense category"),
            [
                _("Offense category"),
                _("Leads"),
                _("Arrests"),
                _("Charged"),
                _("Cleared"),
                _("False matches"),
            ],
            rows,
            "bar",
            note=OUTCOME_NOTE,
        )
    )
    return section
