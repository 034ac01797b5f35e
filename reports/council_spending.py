"""The council report's spending section (what it costs: payments, contracts, cost per query),
and the helpers that set a period's figures beside the same span of earlier periods, which the
report's usage section shares (`reports.report` builds the whole report).
"""

from datetime import date
from decimal import Decimal
from functools import reduce

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from reports import selectors
from reports.formatting import dollars
from reports.models import Contract
from reports.periods import Comparison, Period, fiscal_year, fiscal_year_of
from reports.tables import Section, Table
from reports.tables import change as _change

# Lazy: translated when a page shows it.
CHANGE_NOTE = gettext_lazy(
    "Change is (this period - earlier period) / earlier period, rounded to a whole percent; "
    '"new" when the earlier period had none.'
)


def compared_rows(keys: list, now: dict, *earlier: dict, zero: int | Decimal = 0) -> list:
    """Rows of `key..., now, then for each earlier period: its value and the change`; `zero`
    stands for a key missing from a period (0, or Decimal("0.00") for money)."""
    rows = []
    for key in keys:
        row = [*key, now.get(key, zero)]
        for before in earlier:
            row += [before.get(key, zero), change_cell(now.get(key, zero), before.get(key, zero))]
        rows.append(row)
    return rows


def change_cell(current: int | Decimal, before: int | Decimal) -> str:
    """The change from an earlier period, "new" in the active language."""
    text = _change(current, before)
    return pgettext("change from an earlier period", "new") if text == "new" else text


def compared_columns(comparison: Comparison) -> list[str]:
    """Headings of the compared columns: the periods by name, and the change from each."""
    columns = [comparison.current.label]
    for earlier in comparison.earlier:
        columns += [earlier.period.label, earlier.change_label]
    return columns


def compared_spans(comparison: Comparison) -> list[Period]:
    return [comparison.current, *(e.period for e in comparison.earlier)]


def fiscal_years_of(period: Period) -> list[int]:
    """The fiscal years a period touches, in order."""
    return list(range(fiscal_year_of(period.start), fiscal_year_of(period.end) + 1))


def spending_section(reads, comparison: Comparison, names) -> Section:
    section = Section("spending", _("What it costs"))
    period = comparison.current
    label = {**names, selectors.FACILITY: _("Shared RTCC facility")}
    sources = dict(Contract.FundingSource.choices)
    years = fiscal_years_of(period)
    first = fiscal_year(years[0])
    fy_label = {fy: _("FY%(year)d") % {"year": fy} for fy in years}
    section.facts.append(
        _(
            "This section covers payments dated %(start)s to %(end)s, which fall in %(years)s "
            "(fiscal years run from %(fy_start)s to %(fy_end)s)."
        )
        % {
            "start": _day(period.start, with_year=True),
            "end": _day(period.end, with_year=True),
            "years": _joined(list(fy_label.values())),
            "fy_start": _day(first.start),
            "fy_end": _day(first.end),
        }
    )

    paid = [reads.expenditures(p) for p in compared_spans(comparison)]
    keys = sorted(set().union(*paid), key=lambda k: (label.get(k[0], k[0]), k[1]))
    rows = compared_rows(keys, *paid, zero=Decimal("0.00"))
    for row in rows:
        row[0], row[1] = label.get(row[0], row[0]), sources.get(row[1], row[1])
    total_now = sum(paid[0].values(), Decimal("0.00"))
    section.facts.append(_("%(amount)s was paid in the period.") % {"amount": dollars(total_now)})
    section.tables.append(
        Table(
            "spending-in-period",
            _("Paid in the period, by what it paid for and funding source (US dollars)"),
            [_("For"), _("Funding source"), *compared_columns(comparison)],
            rows,
            "",
            numeric_from=2,
            note=_(
                "US dollars paid under the city's contracts, counted on the date each payment "
                "was made."
            )
            + f" {CHANGE_NOTE}",
        )
    )

    by_year = reads.spending_by_fiscal_year()
    rows = [
        [fy_label[fy], label.get(slug, slug), sources.get(source, source), amount]
        for (fy, slug, source), amount in sorted(by_year.items())
        if fy in years
    ]
    section.tables.append(
        Table(
            "spending-by-year",
            _("Paid in the whole fiscal years of the period, by technology and funding source"),
            [_("Fiscal year"), _("For"), _("Funding source"), _("Amount (USD)")],
            rows,
            "",
            numeric_from=3,
            note=_(
                "US dollars paid in each whole fiscal year the period touches (%(years)s), "
                "including payments before or after the period's dates."
            )
            % {"years": ", ".join(fy_label.values())},
        )
    )
    rows = [
        [
            c.title,
            c.vendor.name,
            label.get(c.technology.slug if c.technology else selectors.FACILITY),
            sources[c.funding_source],
            c.total_value,
            c.paid_in_period,
            c.spent,
            c.remaining,
        ]
        for c in reads.contracts_in_force(period)
    ]
    section.tables.append(
        Table(
            "contracts",
            _("Contracts in force during the period: commitments and payments (US dollars)"),
            [
                _("Contract"),
                _("Vendor"),
                _("For"),
                _("Funding source"),
                _("Committed"),
                _("Paid in period"),
                _("Paid to date"),
                _("Remaining"),
            ],
            rows,
            "",
            numeric_from=4,
            note=_(
                "Contracts whose term overlaps the period. Committed is the contract's total "
                "value; paid in period counts payments dated in the period; paid to date every "
                "payment so far; remaining is committed minus paid to date."
            ),
        )
    )
    costs = reads.cost_per_query(period)
    rows = [
        [label.get(slug, slug), c["cost"], c["queries"], c["per_query"], c["leads"], c["per_lead"]]
        for slug, c in costs.items()
    ]
    section.tables.append(
        Table(
            "cost-per-query",
            _("Cost per query and per lead in the period (US dollars)"),
            [
                _("Technology"),
                _("Cost in period (USD)"),
                _("Queries"),
                _("Cost per query"),
                _("Leads"),
                _("Cost per lead"),
            ],
            rows,
            "",
            note=_(
                "A technology's cost is what was paid in the period under its own contracts "
                "plus a share of the payments for the shared center, in proportion to its share "
                "of all queries in the period. Cost per lead divides that cost by the queries "
                "that produced a reported lead. Payments are counted on the date they were made."
            ),
        )
    )
    return section


def _day(day: date, *, with_year: bool = False) -> str:
    """A day in a sentence as the active language writes it: "July 1, 2025" or "July 1"."""
    if with_year:
        return date_format(day, pgettext("date format", "F j, Y"))
    return date_format(day, pgettext("date format", "F j"))


def _joined(items: list[str]) -> str:
    """Names joined by the active language's "and": "FY2025 and FY2026"."""
    return reduce(lambda a, b: _("%(first)s and %(second)s") % {"first": a, "second": b}, items)
