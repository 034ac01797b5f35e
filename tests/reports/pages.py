"""Reading report pages back: each table's cells as rendered, its chart data and CSV link."""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class RenderedTable:
    id: str
    caption: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    empty_rows: int = 0  # the "Nothing recorded" placeholder row
    csv_link: str = ""


class ReportPage(HTMLParser):
    """Collects every <figure class="report-table">, its cells, CSV link, and the scripts."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, RenderedTable] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.json_blocks: dict[str, str] = {}
        self._table: RenderedTable | None = None
        self._in_head = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._cell_colspan = False
        self._in_caption = False
        self._script: dict | None = None
        self._script_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "figure" and "report-table" in (attributes.get("class") or "").split():
            self._table = RenderedTable(id=attributes["id"])
            self.tables[self._table.id] = self._table
        elif tag == "script":
            self._script = attributes
            self._script_text = []
        elif self._table is None:
            return
        elif tag == "thead":
            self._in_head = True
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._cell_colspan = "colspan" in attributes
        elif tag == "a" and "download" in attributes:
            self._table.csv_link = attributes["href"]

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            if self._script.get("type") == "application/json":
                self.json_blocks[self._script.get("id", "")] = "".join(self._script_text)
            else:
                self._script["inline"] = "".join(self._script_text)
            self._script = None
        elif self._table is None:
            return
        elif tag == "figure":
            self._table = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self._table.columns = self._row
            elif self._cell_colspan and len(self._row) == 1:
                self._table.empty_rows += 1
            else:
                self._table.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)
        elif self._cell is not None:
            self._cell.append(data)
        elif self._in_caption and self._table is not None:
            self._table.caption += data

    def figure(self, table_id: str, prefix: str = "") -> dict | None:
        block = self.json_blocks.get(f"fig-{prefix}{table_id}")
        return json.loads(block) if block is not None else None


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def as_number(text: str):
    """A cell's number as the chart would draw it, or None for text cells."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return None


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives
