"""The tables of searches found in vendors' audit exports (imported by `audit.imports`): one
for the council report's period, one for the public page's three windows. Counts only: no
name, badge, plate, case number or reason reaches them (`audit.imports.selectors`)."""

from datetime import date

from django.utils.translation import gettext as _

from reports import selectors
from reports.public import cell, share, windows
from reports.tables import Table
from reports.tables import share as plain_share


def council_table(totals: dict[str, tuple[int, int]], names: dict[str, str]) -> Table:
    """Per technology: searches in vendors' audit exports in the period, and those the center
    never logged itself (`totals`: selectors.vendor_exports of the period)."""
    rows = [
        [names.get(slug, slug), searches, never, plain_share(never, searches)]
        for slug, (searches, never) in sorted(
            totals.items(), key=lambda kv: names.get(kv[0], kv[0])
        )
    ]
    return Table(
        "vendor-exports",
        _("Searches in vendors' audit exports"),
        [_("Technology"), _("Searches in vendor exports"), _("Never logged by the center"),
         _("Share")],
        rows,
        "bar",
        note=_(
            "Searches found in the audit exports of vendor systems imported into Sightline, "
            "counted on the local date each search was made (a search several exports hold is "
            "counted once). Never logged by the center counts those the center's own software "
            "never posted to the log; Sightline recorded them from the export. Share is never "
            "logged / searches in vendor exports."
        ),
        empty=_("No vendor audit export covers this period."),
    )  # fmt: skip


def public_table(today: date, names: dict[str, str]) -> Table:
    """Per technology, for the three windows: searches found in vendors' audit exports, how
    many of them the center never logged itself, and that share; small cells withheld."""
    spans = windows(today).items()
    totals = [selectors.vendor_exports(period) for _label, period in spans]
    slugs = sorted(set().union(*totals), key=lambda slug: names.get(slug, slug))
    rows = []
    for slug in slugs:
        figures = [t.get(slug, (0, 0)) for t in totals]
        name = names.get(slug, slug)
        rows += [
            [name, _("Searches in vendors' exports")] + [cell(s) for s, _n in figures],
            [name, _("Never logged by the center")] + [cell(n) for _s, n in figures],
            [name, _("Share never logged")] + [share(n, s) for s, n in figures],
        ]
    return Table(
        id="vendor-exports",
        title=_("Searches in vendors' audit exports"),
        columns=[_("Technology"), _("Measure")] + [label for label, _period in spans],
        rows=rows,
        numeric_from=2,
        note=_(
            "Counted from the audit exports of vendor systems that the city imported, on the "
            "date each search was made; a search that several exports hold is counted once. "
            "Never logged by the center: searches the center's own software did not record; "
            "Sightline recorded them from the export into the log."
        ),
        empty=_("No vendor audit export has been imported yet."),
    )
