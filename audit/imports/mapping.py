"""The mapping file of the `generic-csv` format: which column of a CSV or XLSX export is what.

A small TOML file the importer writes once per vendor report; docs/imports.md explains every
key with a worked example. Loading it checks every key and value, so a typo is refused with
its name rather than silently ignored.
"""

import tomllib
from dataclasses import dataclass, field

from audit.imports.errors import ExportRefused, Problem
from audit.imports.times import TimeProblem, zone_named

COLUMN_FIELDS = (
    "row_id",
    "time",
    "operator",
    "agency",
    "target",
    "reason",
    "case_number",
    "search_type",
    "networks",
)
TOP_KEYS = {
    "source",
    "technology",
    "sheet",
    "header_line",
    "encoding",
    "delimiter",
    "columns",
    "time",
    "query_types",
    "scope",
}
ANY_OTHER = "*"


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    source: str
    columns: dict[str, str]
    technology: str = ""
    sheet: str = ""
    header_line: int = 0  # 0: the first non-blank line holds the column names
    encoding: str = "utf-8"
    delimiter: str = ","
    time_format: str = "auto"
    time_zone: str = ""
    query_types: dict[str, str] = field(default_factory=dict)  # lower-cased vendor value -> type
    regional_from: int = 2
    national_from: int = 100

    def query_type_of(self, value: str) -> str | None:
        found = self.query_types.get(value.strip().lower())
        return found if found is not None else self.query_types.get(ANY_OTHER)


def _refuse(message: str) -> ExportRefused:
    return ExportRefused([Problem(0, f"mapping file: {message}")])


def _string(table: dict, key: str, where: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise _refuse(f"{where}{key} must be a string in quotes")
    return value.strip()


def _unknown(table: dict, known, where: str) -> None:
    extra = sorted(set(table) - set(known))
    if extra:
        raise _refuse(
            f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(where + k for k in extra)} "
            f"(known: {', '.join(sorted(known))})"
        )


def load_mapping(data: bytes | str) -> Mapping:
    """Parse and check a mapping file; raises ExportRefused naming the first mistake."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _refuse("is not UTF-8 text") from None
    try:
        document = tomllib.loads(data)
    except tomllib.TOMLDecodeError as error:
        raise _refuse(f"is not valid TOML: {error}") from None
    _unknown(document, TOP_KEYS, "")

    source = _string(document, "source", "")
    if not source:
        raise _refuse('needs source = "..." naming the vendor system (it keys the rows)')
    if len(source) > 40:
        raise _refuse("source is longer than 40 characters")

    columns = document.get("columns")
    if not isinstance(columns, dict):
        raise _refuse("needs a [columns] table naming at least the time column")
    _unknown(columns, COLUMN_FIELDS, "columns.")
    named = {name: _string(columns, name, "columns.") for name in columns}
    named = {name: header for name, header in named.items() if header}
    if "time" not in named:
        raise _refuse('[columns] needs time = "<the column holding the date and time>"')
    seen: dict[str, str] = {}
    for name, header in named.items():
        key = header.lower()
        if key in seen:
            raise _refuse(f"columns.{seen[key]} and columns.{name} both name '{header}'")
        seen[key] = name

    time_table = document.get("time", {})
    if not isinstance(time_table, dict):
        raise _refuse("time must be a table: [time] with format and zone")
    _unknown(time_table, {"format", "zone"}, "time.")
    time_format = _string(time_table, "format", "time.", "auto") or "auto"
    if time_format != "auto" and "%" not in time_format:
        raise _refuse(
            f"time.format '{time_format}' is neither \"auto\" nor a strptime format "
            '(such as "%m/%d/%Y %I:%M %p")'
        )
    time_zone = _string(time_table, "zone", "time.")
    if time_zone:
        try:
            zone_named(time_zone)
        except TimeProblem as problem:
            raise _refuse(f"time.zone: {problem}") from None

    types_table = document.get("query_types", {})
    if not isinstance(types_table, dict):
        raise _refuse('query_types must be a table: [query_types] "Vendor value" = "query-type"')
    query_types = {}
    for value, query_type in types_table.items():
        if not isinstance(query_type, str) or not query_type.strip():
            raise _refuse(f'query_types."{value}" must name a query type in quotes')
        query_types[value.strip().lower()] = query_type.strip()
    if "search_type" not in named and ANY_OTHER not in query_types:
        raise _refuse(
            'with no search_type column, [query_types] needs "*" = "<query type>" '
            "(the type of every row)"
        )

    scope = document.get("scope", {})
    if not isinstance(scope, dict):
        raise _refuse("scope must be a table: [scope] with regional_from and national_from")
    _unknown(scope, {"regional_from", "national_from"}, "scope.")
    regional_from = scope.get("regional_from", 2)
    national_from = scope.get("national_from", 100)
    for name, value in (("regional_from", regional_from), ("national_from", national_from)):
        if type(value) is not int or value < 1:
            raise _refuse(f"scope.{name} must be a whole number, 1 or more")
    if national_from < regional_from:
        raise _refuse("scope.national_from is smaller than scope.regional_from")

    header_line = document.get("header_line", 0)
    if type(header_line) is not int or header_line < 0:
        raise _refuse("header_line must be a whole number (the line holding the column names)")
    delimiter = _string(document, "delimiter", "", ",") or ","
    if delimiter == "\\t":
        delimiter = "\t"
    if len(delimiter) != 1:
        raise _refuse('delimiter must be one character (use "\\t" for tabs)')
    encoding = _string(document, "encoding", "", "utf-8") or "utf-8"
    try:
        "".encode(encoding)
    except LookupError:
        raise _refuse(f"unknown encoding '{encoding}'") from None

    return Mapping(
        source=source,
        columns=named,
        technology=_string(document, "technology", ""),
        sheet=_string(document, "sheet", ""),
        header_line=header_line,
        encoding=encoding,
        delimiter=delimiter,
        time_format=time_format,
        time_zone=time_zone,
        query_types=query_types,
        regional_from=regional_from,
        national_from=national_from,
    )
