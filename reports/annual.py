"""A technology's annual surveillance report for a fiscal year (the CCOPS model's shape)."""

from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from audit.flags.rules import ALL_FLAGS
from audit.models import AuditReview, QueryOutcome
from reports import selectors
from reports.formatting import count, dollars
from reports.models import Contract
from reports.periods import fiscal_year
from reports.report import OUTCOME_NOTE, QUERY_NOTE
from reports.tables import Section, Table
from reports.tables import share as _share

# Lazy: translated when a page shows them.
ANNUAL_NOTES = {
    "query_type": gettext_lazy(
        "Queries by the kind of search the operator chose; share is the type's queries as a "
        "percentage of the year's queries."
    ),
    "offense_category": gettext_lazy(
        "Queries by the NIBRS offense group of the offense code entered with the query "
        "(unspecified when none was entered); share as a percentage of the year's queries."
    ),
}


def annual_report(technology, fy: int) -> list[Section]:
    """The sections of a technology's annual surveillance report for fiscal year `fy`."""
    period = fiscal_year(fy)
    slug = technology.slug
    totals = selectors.usage_totals(period, slug)

    use = Section("use", _("How it was used"))
    with_case = _share(totals["with_case_number"], totals["queries"])
    with_supervisor = _share(totals["with_supervisor"], totals["queries"])
    use.facts.append(
        _(
            "%(queries)s queries in FY%(fy)d; %(with_case)s with a case number; "
            "%(with_supervisor)s with a supervisor's approval recorded."
        )
        % {
            "queries": count(totals["queries"]),
            "fy": fy,
            "with_case": with_case,
            "with_supervisor": with_supervisor,
        }
    )
    monthly = selectors.usage_by_month(period)
    use.tables.append(
        Table(
            "monthly",
            _("Queries per month"),
            [_("Month"), _("Queries")],
            [[m.strftime("%Y-%m"), monthly.get((m, slug), 0)] for m in period.months()],
            "bar",
            note=QUERY_NOTE,
        )
    )
    for dimension, title, label in (
        ("query_type", _("Queries by type"), _("Query type")),
        ("offense_category", _("Queries by offense category"), _("Offense category")),
    ):
        counts = selectors.usage_by(period, dimension, technology=slug)
        rows = [
            [key[0], n, _share(n, totals["queries"])]
            for key, n in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        use.tables.append(
            Table(
                dimension,
                title,
                [label, _("Queries"), _("Share")],
                rows,
                "bar",
                note=ANNUAL_NOTES[dimension],
            )
        )
    units = selectors.flagged_by_unit(period, slug)
    use.tables.append(
        Table(
            "units",
            _("Queries by unit"),
            [_("Unit"), _("Queries"), _("Flagged")],
            [
                [u or _("(unregistered operator)"), n, f]
                for u, (n, f) in sorted(units.items(), key=lambda kv: -kv[1][0])
            ],
            "bar",
            note=_(
                "Queries by the unit the operator belongs to today; flagged counts those that "
                "raised at least one policy flag."
            ),
        )
    )

    sharing = Section("sharing", _("Sharing with other agencies"))
    kinds = selectors.agency_kinds()
    by_agency = selectors.usage_by(period, "agency", "proxy", technology=slug)
    rows = []
    for (agency, proxy), n in sorted(by_agency.items(), key=lambda kv: -kv[1]):
        kind = {"home": _("City department"), "partner": _("Partner agency")}.get(
            kinds.get(agency, ""), _("Unregistered")
        )
        rows.append([agency, kind, _("yes") if proxy else _("no"), n])
    sharing.tables.append(
        Table(
            "agencies",
            _("Queries by requesting agency"),
            [_("Agency"), _("Kind"), _("On behalf of another agency"), _("Queries")],
            rows,
            "",
            numeric_from=3,
            note=_(
                "Queries by the agency that asked for the search, and whether the search was "
                "made on behalf of a different agency."
            ),
        )
    )
    scopes = selectors.usage_by(period, "scope", technology=slug)
    sharing.tables.append(
        Table(
            "scope",
            _("Whose data was searched"),
            [_("Scope"), _("Queries")],
            [[k[0], n] for k, n in sorted(scopes.items())],
            "bar",
            note=_(
                "Queries by whose data was searched: local (the city's own), regional "
                "(partner centers) or national."
            ),
        )
    )

    audit = Section("audit", _("Audit results and policy violations"))
    flags = selectors.flag_counts(period, technology=slug)
    audit.tables.append(
        Table(
            "flags",
            _("Policy flags raised"),
            [_("Flag"), _("Queries"), _("Share")],
            [
                [f, flags.get((f,), 0), _share(flags.get((f,), 0), totals["queries"])]
                for f in ALL_FLAGS
            ],
            "bar",
            note=_(
                "Queries raising each possible policy breach found automatically from the "
                "query and the policy in force; share is those as a percentage of the year's "
                "queries. One query can raise several flags."
            ),
        )
    )
    reviews = selectors.reviews_by_finding(period, slug)
    audit.tables.append(
        Table(
            "reviews",
            _("Audit reviews and findings"),
            [_("Finding"), _("Reviews")],
            [[label, reviews.get(value, 0)] for value, label in AuditReview.Finding.choices],
            "bar",
            note=_("Reviews auditors recorded during the fiscal year, by finding."),
        )
    )

    results = Section("outcomes", _("Outcomes"))
    outcomes = selectors.outcome_counts(period, technology=slug)
    results.tables.append(
        Table(
            "outcomes",
            _("Outcomes reported"),
            [_("Outcome"), _("Count")],
            [[label, outcomes.get((value,), 0)] for value, label in QueryOutcome.Kind.choices],
            "bar",
            note=OUTCOME_NOTE,
        )
    )

    cost = Section("cost", _("Total cost and funding"))
    paid = selectors.expenditures(period)
    sources = dict(Contract.FundingSource.choices)
    own = [[sources[source], amount] for (s, source), amount in sorted(paid.items()) if s == slug]
    cost.tables.append(
        Table(
            "funding",
            _("Paid in FY%(fy)d under %(technology)s contracts")
            % {"fy": fy, "technology": technology.localized("name", get_language() or "en")},
            [_("Funding source"), _("Amount (USD)")],
            own,
            note=_(
                "US dollars paid during the fiscal year under this technology's own contracts, "
                "by the contract's funding source; the shared center's costs are not included."
            ),
        )
    )
    per_query = selectors.cost_per_query(period).get(slug)
    if per_query:
        each = per_query["per_query"]
        figures = {
            "fy": fy,
            "cost": dollars(per_query["cost"]),
            "queries": count(per_query["queries"]),
            "each": dollars(each) if each else "",
        }
        cost.facts.append(
            _(
                "Including its share of the shared center's costs, FY%(fy)d cost %(cost)s for "
                "%(queries)s queries (%(each)s per query)."
            )
            % figures
            if each
            else _(
                "Including its share of the shared center's costs, FY%(fy)d cost %(cost)s for "
                "%(queries)s queries."
            )
            % figures
        )
    return [use, sharing, audit, results, cost]
