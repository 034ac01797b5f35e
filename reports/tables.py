"""Report tables: each `Table` carries its rows once; the HTML table, the chart and the CSV
download are all rendered from those same rows, so they can never disagree."""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext

from reports.formatting import plain_amount

COLORS = ["#0b5394", "#b45f06", "#38761d", "#741b47", "#45818e", "#7f6000", "#3d3d3d"]


@dataclass
class Table:
    """One table of a report. Cells are values, not text: a `Decimal` is money, an `int` a
    count; pages write them with `reports.formatting`, the CSV as plain numbers."""

    id: str
    title: str
    columns: list[str]
    rows: list[list]
    chart: str = ""  # "bar", "stacked", "line" or "" for no chart
    note: str = ""  # how the figures are counted, shown beside the table
    numeric_from: int = 1  # columns from this index on are numbers
    empty: str = ""  # what the table says when it has no rows ("" = nothing recorded)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows([_plain(v) for v in row] for row in self.rows)
        return out.getvalue()

    def figure(self) -> dict | None:
        """A plotly figure of the table: x = first column, one trace per numeric column."""
        if not self.chart or not self.rows:
            return None
        x = [str(row[0]) for row in self.rows]
        traces, money = [], False
        for index in range(self.numeric_from, len(self.columns)):
            y = [_number(row[index]) for row in self.rows]
            if all(value is None for value in y):
                continue  # a text column (change, share, yes/no): shown in the table only
            # The column a report names "Total" in the language it was built in (this one).
            if self.chart == "stacked" and self.columns[index] == gettext("Total"):
                continue  # the stack itself shows the total
            money = money or any(isinstance(row[index], Decimal) for row in self.rows)
            traces.append(
                {
                    "type": "scatter" if self.chart == "line" else "bar",
                    "name": self.columns[index],
                    "x": x,
                    "y": y,
                    "marker": {"color": COLORS[(index - self.numeric_from) % len(COLORS)]},
                }
            )
        if not any(value for trace in traces for value in trace["y"]):
            return None  # nothing to draw: the table says it is all zeros
        layout = {
            "barmode": "stack" if self.chart == "stacked" else "group",
            "margin": {"t": 40, "r": 10, "b": 40, "l": 60},
            "height": 320,
            # Above the plot, so long category names below it never run into the legend.
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            "font": {"family": "system-ui, sans-serif"},
            "xaxis": {"type": "category", "automargin": True},
            # Counts with thousands separators; money in short dollars ($2.15M), like the
            # short form of reports.formatting.dollars.
            "yaxis": {"tickformat": "$~s", "automargin": True}
            if money
            else {"tickformat": ",~r", "automargin": True},
        }
        return {"data": traces, "layout": layout}


def _plain(value):
    """A cell as the CSV writes it: money with two decimals, no symbol or separators."""
    if value is None:
        return ""
    return plain_amount(value) if isinstance(value, Decimal) else value


def _number(value):
    if isinstance(value, Decimal):
        return float(value)  # for drawing only; tables and CSV keep the exact Decimal
    if isinstance(value, bool):
        return None
    return value if isinstance(value, int | float) else None


@dataclass
class Section:
    id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def change(current: int | Decimal, before: int | Decimal) -> str:
    if not before:
        return "new" if current else "-"
    return f"{(current - before) * 100 / before:+.0f}%"


def share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "-"
