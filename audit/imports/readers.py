"""The records of an export file, one at a time, with the line each starts on (CSV or XLSX).

Nothing here holds more than one record in memory: CSV is decoded as it is read, XLSX is read
with openpyxl's read-only mode.
"""

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import BinaryIO

from audit.imports.errors import Problem

ZIP_MAGIC = b"PK\x03\x04"  # XLSX is a zip archive
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (OLE2)


class ReadStop(Exception):
    """The file's structure is broken at this point; nothing after it can be read."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def kind_of(binary: BinaryIO) -> str:
    """ "xlsx", "xls", "binary" or "text", from the first bytes (the position is kept)."""
    position = binary.tell()
    head = binary.read(4096)
    binary.seek(position)
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLD_EXCEL_MAGIC):
        return "xls"
    if b"\x00" in head:
        return "binary"
    return "text"


def csv_records(
    binary: BinaryIO, *, encoding: str = "utf-8", delimiter: str = ","
) -> Iterator[tuple[int, list[str], bool]]:
    """(line the record starts on, its cells, whether it spans lines) per non-blank record.

    A UTF-8 byte order mark is dropped, Windows and old Mac line endings are read as line
    ends, and a quoted cell may hold line breaks (the record then spans several lines).
    """
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    read_lines = 0
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise ReadStop(Problem(read_lines + 1, _csv_problem(str(error)))) from None
            except UnicodeDecodeError:
                raise ReadStop(
                    Problem(
                        reader.line_num + 1,
                        f"the text is not {encoding.removesuffix('-sig').upper()}; save the "
                        "file as UTF-8 CSV (or name its encoding in the mapping file)",
                    )
                ) from None
            start = read_lines + 1
            read_lines = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            yield start, cells, read_lines > start
    finally:
        if not binary.closed:
            text.detach()  # the caller owns the binary file


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message:
        return "a quoted value is never closed (the file is truncated or a quote is missing)"
    if "NUL" in message:
        return "the line contains a NUL byte: this is not a CSV text file"
    if "field larger than field limit" in message:
        return "a value is longer than 131072 characters (an unclosed quote?)"
    return f"unreadable CSV ({message})"


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_records(binary: BinaryIO, *, sheet: str = "") -> Iterator[tuple[int, list, bool]]:
    """(row number, its cells, True) for each non-empty row of the sheet (the first if unnamed).

    Cells are strings, except dates and times, which stay datetime objects.
    """
    import openpyxl  # only XLSX imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as error:
        raise ReadStop(Problem(0, f"the file is not a readable XLSX workbook ({error})")) from None
    try:
        if sheet:
            if sheet not in workbook.sheetnames:
                names = ", ".join(workbook.sheetnames)
                raise ReadStop(Problem(0, f"the workbook has no sheet '{sheet}' (it has {names})"))
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        for number, row in enumerate(worksheet.iter_rows(values_only=True), start=1):
            cells = [_cell(value) for value in row]
            if any(cell != "" for cell in cells):
                yield number, cells, True  # a cell may hold line breaks of either kind
    finally:
        workbook.close()
