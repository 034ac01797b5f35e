"""The export formats Sightline reads, and the reader that turns a file into vendor rows.

`flock` is the Flock Safety search-audit CSV; `generic-csv` is any CSV or XLSX described by a
mapping file (`audit.imports.mapping`). A reader streams: it yields one `VendorRow` at a time
and records each problem with its line in a `ProblemList`; a header that is not the chosen
format's is refused at once.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import BinaryIO

from django.utils.translation import gettext_lazy as _

from audit.imports import normalize
from audit.imports.errors import ExportRefused, ProblemList
from audit.imports.mapping import Mapping
from audit.imports.readers import ReadStop, csv_records, kind_of, xlsx_records
from audit.imports.times import TimeProblem, TimeReader, zone_named

FLOCK = "flock"
GENERIC = "generic-csv"
FORMATS = {
    FLOCK: _("Flock Safety search audit (CSV)"),
    GENERIC: _("Any CSV or XLSX export, described by a mapping file"),
}
FLOCK_TECHNOLOGY = "license-plate-reader"
FLOCK_SOURCE = "flock"

# What a cell held in place of the raw target, in the row as kept.
TARGET_MARK = "(fingerprinted)"
# At most this many fingerprints are kept by a reader (a few MB).
_FINGERPRINTS_KEPT = 1 << 16

# The names Flock has shipped its columns under (and that agencies rename them to), after
# lower-casing and collapsing spaces. The first is the name in Flock's current export.
FLOCK_COLUMNS = {
    "row_id": ("id", "search id", "audit id", "row id"),
    "operator": ("name", "user", "user name", "username", "officer", "officer name", "searcher"),
    "agency": (
        "org name",
        "organization",
        "organization name",
        "org",
        "agency",
        "agency name",
        "department",
    ),
    "networks": (
        "total networks searched",
        "networks searched",
        "total networks",
        "network count",
        "# of networks searched",
        "networks",
    ),
    "target": ("license plate", "plate", "plate number", "license plate number", "lp", "lpn"),
    "reason": ("reason", "search reason", "reason for search", "purpose"),
    "case_number": (
        "case #",
        "case number",
        "case",
        "case no",
        "case no.",
        "case num",
        "incident #",
        "incident number",
    ),
    "filters": ("filters", "search filters"),
    "time": (
        "search time",
        "time",
        "date",
        "search date",
        "date/time",
        "date time",
        "searched at",
        "timestamp",
        "time of search",
    ),
    "search_type": ("search type", "type", "search tool"),
}
# Network audits have had officer names stripped, so Name is not required.
FLOCK_REQUIRED = ("time", "agency", "target", "reason")
FLOCK_NAMES = {"time": "Search Time", "agency": "Org Name", "target": "License Plate"}
FLOCK_NAMES["reason"] = "Reason"
# The fields a row is read into, in the order _row unpacks them.
_ROW_FIELDS = (
    "row_id",
    "operator",
    "agency",
    "networks",
    "target",
    "reason",
    "case_number",
    "search_type",
)
_ZONE_SUFFIX = re.compile(r"(?P<name>.+?)\s*\((?P<zone>[^()]+)\)")


# Not frozen: a frozen dataclass's __init__ costs seven times a plain one's, and an import
# builds two per row. Only the import's second pass changes one: a repeated key numbered, and
# `as_read` emptied once the row's values are built (`preparing`).
@dataclass(slots=True)
class VendorRow:
    """One search as the vendor recorded it, understood; the raw target is already gone."""

    line: int
    row_key: str
    occurred_at: datetime
    technology: str
    query_type: str
    search_type: str
    agency_name: str
    operator_name: str
    target_fingerprint: str
    reason: str
    case_number: str  # "" when missing or a placeholder
    networks: int | None
    scope: str
    as_read: dict[str, str]  # column: cell as read, the target replaced by TARGET_MARK


def header_key(cell) -> str:
    """A column name as compared: lower case, single spaces, no BOM, no trailing colon."""
    text = str(cell).replace("\ufeff", "").replace("\u200b", "").strip().rstrip(":").strip()
    return " ".join(text.lower().split())


def _name_and_zone(cell) -> tuple[str, tzinfo | None]:
    """A header cell's compared name, and the zone it names in parentheses, if any:
    'Search Time (UTC)' -> ('search time', UTC). Other parentheses stay part of the name."""
    text = str(cell).replace("\ufeff", "").strip()
    match = _ZONE_SUFFIX.fullmatch(text)
    if match:
        try:
            return header_key(match["name"]), zone_named(match["zone"])
        except TimeProblem:
            pass
    return header_key(text), None


def _as_text(value) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


class ExportReader:
    """Reads one export file in one format into VendorRows.

    `fingerprint(technology, target)` is the log's keyed HMAC of a target; `zone` reads times
    that name no zone (None refuses them); `query_types` are the technology's allowed types.
    After `rows()` has read the header, `header`, `header_line` and `columns` (each field
    with the column it comes from) describe the mapping in use.
    """

    def __init__(
        self,
        *,
        fmt: str,
        technology: str,
        query_types: frozenset[str],
        zone: tzinfo | None,
        fingerprint: Callable[[str, str], str],
        now: datetime,
        mapping: Mapping | None = None,
    ):
        if fmt not in FORMATS:
            raise ExportRefused.single(
                f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}"
            )
        if fmt == GENERIC and mapping is None:
            raise ExportRefused.single("the generic-csv format needs a mapping file (--mapping)")
        self.fmt = fmt
        self.mapping = mapping
        self.technology = technology
        self.query_types = query_types
        self.fingerprint = fingerprint
        # Fingerprints by target as written: exports search the same plates again and again,
        # and the keyed hash costs more than the rest of the row. Bounded (cleared when full).
        self._fingerprints: dict[str, str] = {}
        self.zone = zone
        self.now = now
        self.source = FLOCK_SOURCE if fmt == FLOCK else mapping.source
        if mapping is not None:
            self.scope_rule = normalize.ScopeRule(
                regional_from=mapping.regional_from, national_from=mapping.national_from
            )
        else:
            self.scope_rule = normalize.ScopeRule()
        self.header: list[str] = []
        self.header_line = 0
        self.columns: dict[str, str] = {}
        self._index: dict[str, int] = {}
        self._time_reader: TimeReader | None = None
        self._checked_types: set[str] = set()
        self._spreadsheet = False
        self.records = 0  # data records passed by `rows()`, read or not
        self.stopped: tuple[int, str] | None = None  # the problem that stopped the reading

    # -- records ---------------------------------------------------------------------------

    def _records(self, binary: BinaryIO) -> Iterator[tuple[int, list]]:
        kind = kind_of(binary)
        if kind == "xls":
            raise ExportRefused.single(
                "this is an old Excel .xls workbook; save it as .xlsx or CSV and import that"
            )
        if kind == "binary":
            raise ExportRefused.single("this is not a text (CSV) file or an XLSX workbook")
        if self.fmt == FLOCK:
            if kind == "xlsx":
                raise ExportRefused.single(
                    "this is an XLSX workbook, not Flock's CSV export; save it as CSV, or import "
                    "it with --format generic-csv and a mapping file"
                )
            return csv_records(binary)
        if kind == "xlsx":
            self._spreadsheet = True
            return xlsx_records(binary, sheet=self.mapping.sheet)
        return csv_records(binary, encoding=self.mapping.encoding, delimiter=self.mapping.delimiter)

    def rows(
        self,
        binary: BinaryIO,
        problems: ProblemList,
        *,
        full_rows: int | None = None,
        share: tuple[int, int] | None = None,
    ) -> Iterator[VendorRow]:
        """Each row that reads cleanly; every other row adds its problems to `problems`.

        Raises ExportRefused at once when the header is not this format's (then no row is
        worth reading). Past the first `full_rows` rows (None: all), rows are read light:
        without `as_read`, and without a fingerprint when the row's key is its vendor ID.

        With `share` (part, parts), only that part of the rows is read, for readers that split
        a file between them: of the rows with a vendor ID, every parts-th (from the part-th);
        rows without one (their key is their content, which only a full read tells) go to
        part 0. `records` counts the data records passed either way.
        """
        records = self._records(binary)
        remaining = -1 if full_rows is None else full_rows
        part, parts = share or (0, 1)
        splits = parts > 1
        id_column = -1
        try:
            for line, cells, spans in records:
                if not self.header:
                    if self._is_header(line):
                        self._read_header(line, cells)
                        id_column = self._positions[0] if splits else -1
                    continue
                self.records += 1
                if splits:
                    with_id = 0 <= id_column < len(cells) and str(cells[id_column]).strip()
                    mine = self.records % parts == part if with_id else part == 0
                    if not mine:
                        continue
                row = self._row(line, cells, spans, problems, light=remaining == 0)
                if remaining > 0:
                    remaining -= 1
                if row is not None:
                    yield row
        except ReadStop as stop:
            problems.add(stop.problem.line, stop.problem.message)
            self.stopped = (stop.problem.line, stop.problem.message)
            return
        finally:
            records.close()
        if not self.header:
            raise ExportRefused.single("the file holds no header line and no rows")

    def _is_header(self, line: int) -> bool:
        wanted = self.mapping.header_line if self.mapping is not None else 0
        return wanted == 0 or line >= wanted

    # -- header ----------------------------------------------------------------------------

    def _read_header(self, line: int, cells: list) -> None:
        self.header = [str(_as_text(cell)).strip() for cell in cells]
        self.header_line = line
        keys = [_name_and_zone(cell)[0] for cell in self.header]
        if self.fmt == FLOCK:
            index = self._flock_columns(line, keys)
            time_format = "auto"
            zone = self.zone
        else:
            index = self._mapped_columns(line, keys)
            time_format = self.mapping.time_format
            zone = self.zone or (
                zone_named(self.mapping.time_zone) if self.mapping.time_zone else None
            )
        # A zone written in the time column's own header ("Search Time (UTC)") is the export's.
        header_zone = _name_and_zone(self.header[index["time"]])[1]
        if header_zone is not None:
            zone = header_zone
        self._index = index
        self.columns = {field: self.header[position] for field, position in index.items()}
        self._width = len(self.header)
        self._names = [name or f"column {n + 1}" for n, name in enumerate(self.header)]
        self._time = index["time"]
        self._target = index.get("target", -1)
        self._positions = [index.get(field, -1) for field in _ROW_FIELDS]
        self._time_reader = TimeReader(fmt=time_format, zone=zone, now=self.now)

    def _flock_columns(self, line: int, keys: list[str]) -> dict[str, int]:
        index: dict[str, int] = {}
        for position, key in enumerate(keys):
            for field, names in FLOCK_COLUMNS.items():
                if key in names:
                    if field in index:
                        raise ExportRefused.single(
                            f"the columns '{self.header[index[field]]}' and "
                            f"'{self.header[position]}' both look like Flock's "
                            f"{FLOCK_COLUMNS[field][0].title()} column",
                            line,
                        )
                    index[field] = position
                    break
        missing = [FLOCK_NAMES[field] for field in FLOCK_REQUIRED if field not in index]
        if missing:
            found = ", ".join(h for h in self.header if h) or "nothing"
            raise ExportRefused.single(
                "this is not a Flock search-audit export (wrong format chosen?): no column "
                f"for {', '.join(missing)}; the header has {found[:300]}",
                line,
            )
        return index

    def _mapped_columns(self, line: int, keys: list[str]) -> dict[str, int]:
        positions = {}
        for position, key in enumerate(keys):
            positions.setdefault(key, position)
            positions.setdefault(header_key(self.header[position]), position)
        index = {}
        missing = []
        for field, name in self.mapping.columns.items():
            position = positions.get(header_key(name))
            if position is None:
                missing.append(f"'{name}' (columns.{field})")
            else:
                index[field] = position
        if missing:
            found = ", ".join(h for h in self.header if h) or "nothing"
            raise ExportRefused.single(
                f"the mapping names {', '.join(missing)} but the header has no such column; "
                f"it has {found[:300]}",
                line,
            )
        return index

    # -- rows ------------------------------------------------------------------------------

    def _row(
        self, line: int, cells: list, spans: bool, problems: ProblemList, light: bool
    ) -> VendorRow | None:
        width = self._width
        if len(cells) != width:
            if len(cells) < width:
                if not self._spreadsheet:
                    problems.add(
                        line,
                        f"truncated row: {len(cells)} of {width} values "
                        f"(the row ends after '{self.header[len(cells) - 1]}')",
                    )
                    return None
                cells = cells + [""] * (width - len(cells))  # a sheet's empty trailing cells
            else:
                if any(cell != "" for cell in cells[width:]):
                    problems.add(
                        line,
                        f"{len(cells)} values for {width} columns (an unquoted comma in a value?)",
                    )
                    return None
                cells = cells[:width]
        time_value = cells[self._time]
        if self._spreadsheet:
            cells = [cell if isinstance(cell, str) else _as_text(cell) for cell in cells]
        if spans:  # a quoted value held line breaks: keep them as plain newlines
            cells = [cell.replace("\r\n", "\n") for cell in cells]
        (row_id, operator, agency, networks_cell, target, reason, written_case,
         search_type) = [cells[p].strip() if p >= 0 else "" for p in self._positions]  # fmt: skip

        ok = True
        try:
            occurred_at = self._time_reader.read(time_value)
        except TimeProblem as problem:
            problems.add(line, f"{self.columns['time']}: {problem}")
            ok = False
        if self.fmt == FLOCK:
            query_type = normalize.flock_query_type(search_type, target)
        else:
            query_type = self.mapping.query_type_of(search_type)
            if query_type is None:
                problems.add(
                    line,
                    f"{self.columns['search_type']}: '{search_type[:60]}' has no query type in "
                    'the mapping\'s [query_types] (add it, or "*" for any other value)',
                )
                ok = False
        if query_type is not None and query_type not in self._checked_types:
            if query_type not in self.query_types:
                allowed = ", ".join(sorted(self.query_types))
                problems.add(
                    line,
                    f"'{query_type}' is not a query type of {self.technology} (allowed: {allowed})",
                )
                ok = False
            else:
                self._checked_types.add(query_type)
        if len(target) > 512:
            problems.add(line, f"{self.columns['target']}: longer than 512 characters")
            ok = False
        if not ok:
            return None

        agency, operator, reason = agency[:200], operator[:200], reason[:4000]
        networks = normalize.count(networks_cell)
        fingerprint = ""
        if target and not (light and row_id):
            fingerprint = self._fingerprints.get(target)
            if fingerprint is None:
                if len(self._fingerprints) >= _FINGERPRINTS_KEPT:
                    self._fingerprints.clear()
                fingerprint = self.fingerprint(self.technology, target)
                self._fingerprints[target] = fingerprint
        if row_id:
            row_key = f"id:{row_id[:120]}"
        else:
            row_key = "sha256:" + normalize.row_hash(
                [
                    occurred_at.isoformat(),
                    agency,
                    operator,
                    fingerprint,
                    reason,
                    written_case,
                    search_type,
                    networks_cell,
                ]
            )
        as_read = {}
        if not light:
            as_read = dict(zip(self._names, cells, strict=True))
            if self._target >= 0:
                as_read[self._names[self._target]] = TARGET_MARK if target else ""
        return VendorRow(
            line=line,
            row_key=row_key,
            occurred_at=occurred_at,
            technology=self.technology,
            query_type=query_type,
            search_type=search_type[:100],
            agency_name=agency,
            operator_name=operator,
            target_fingerprint=fingerprint,
            reason=reason,
            case_number=normalize.case_number(written_case),
            networks=networks,
            scope=self.scope_rule.scope(networks, search_type),
            as_read=as_read,
        )
