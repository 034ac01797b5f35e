"""The first pass over an export: what the importer chose, checked (`export_spec`), and the
file read once to the end, keeping its first rows and every problem by line (`scan_export`).
Nothing here writes."""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

from audit.imports.errors import ExportRefused, ProblemList
from audit.imports.forking import Forked, own_reading
from audit.imports.formats import (
    FLOCK,
    FLOCK_TECHNOLOGY,
    FORMATS,
    GENERIC,
    ExportReader,
    VendorRow,
)
from audit.imports.mapping import Mapping, load_mapping
from audit.imports.normalize import RepeatFinder
from audit.imports.times import TimeProblem, zone_named
from audit.log.parsing import fingerprint_target
from audit.models import Agency, Technology

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class ExportSpec:
    """What the importer says about a file: its format, agency, technology, zone, mapping."""

    fmt: str
    agency: Agency
    technology: Technology
    zone_name: str
    mapping: Mapping | None = None
    mapping_text: str = ""


def export_spec(
    *,
    fmt: str,
    agency_code: str,
    technology_slug: str = "",
    zone_name: str = "",
    mapping_text: str | bytes = "",
) -> ExportSpec:
    """Check what the importer chose before any file is read; ExportRefused names the mistake."""
    if fmt not in FORMATS:
        raise ExportRefused.single(f"unknown format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    agency = Agency.objects.filter(code__iexact=agency_code.strip()).first()
    if agency is None:
        known = ", ".join(Agency.objects.values_list("code", flat=True)) or "none yet"
        raise ExportRefused.single(f"unknown agency '{agency_code}' (known codes: {known})")
    mapping = None
    if isinstance(mapping_text, bytes):
        mapping_text = mapping_text.decode("utf-8-sig", errors="replace")
    if fmt == GENERIC:
        if not mapping_text.strip():
            raise ExportRefused.single("the generic-csv format needs a mapping file (--mapping)")
        mapping = load_mapping(mapping_text)
    elif mapping_text.strip():
        raise ExportRefused.single("a mapping file is only used with --format generic-csv")
    if fmt == FLOCK:
        if technology_slug and technology_slug != FLOCK_TECHNOLOGY:
            raise ExportRefused.single(
                f"Flock exports are {FLOCK_TECHNOLOGY} searches, not {technology_slug}"
            )
        technology_slug = FLOCK_TECHNOLOGY
    else:
        if mapping.technology and technology_slug and mapping.technology != technology_slug:
            raise ExportRefused.single(
                f"the mapping file says technology {mapping.technology}, the import says "
                f"{technology_slug}"
            )
        technology_slug = technology_slug or mapping.technology
        if not technology_slug:
            raise ExportRefused.single(
                'name the technology (--technology, or technology = "..." in the mapping)'
            )
    technology = Technology.objects.filter(slug=technology_slug).first()
    if technology is None:
        known = ", ".join(Technology.objects.values_list("slug", flat=True))
        raise ExportRefused.single(f"unknown technology '{technology_slug}' (known: {known})")
    if not zone_name and mapping is not None:
        zone_name = mapping.time_zone
    zone_name = zone_name or settings.TIME_ZONE
    try:
        zone_named(zone_name)
    except TimeProblem as problem:
        raise ExportRefused.single(f"--timezone: {problem}") from None
    return ExportSpec(
        fmt=fmt,
        agency=agency,
        technology=technology,
        zone_name=zone_name,
        mapping=mapping,
        mapping_text=mapping_text,
    )


def reader_for(spec: ExportSpec) -> ExportReader:
    return ExportReader(
        fmt=spec.fmt,
        technology=spec.technology.slug,
        query_types=frozenset(spec.technology.query_types),
        zone=zone_named(spec.zone_name),
        fingerprint=fingerprint_target,
        now=timezone.now(),
        mapping=spec.mapping,
    )


@dataclass
class Scan:
    """What the first pass learned of a file."""

    sha256: str
    size: int
    columns: dict[str, str]
    header: list[str]
    header_line: int
    rows_read: int = 0
    covers_from: datetime | None = None
    covers_to: datetime | None = None
    first_rows: list[VendorRow] = field(default_factory=list)
    problems: ProblemList = field(default_factory=ProblemList)
    repeats: set[str] = field(default_factory=set)


def _digest(binary: BinaryIO) -> tuple[str, int]:
    binary.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := binary.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    binary.seek(0)
    return digest.hexdigest(), size


SCAN_STEP = 10_000


def scan_steps(
    *,
    binary: BinaryIO,
    spec: ExportSpec,
    scan: list,
    keep: int = PREVIEW_ROWS,
    split: bool = False,
) -> Iterator[int]:
    """The first pass, yielding the rows read so far every SCAN_STEP rows; the Scan is put in
    `scan` (a list, empty on entry) once the header is read. Writes nothing.

    With `split` (and nothing to `keep`), a forked reader process (`forking`) reads half of
    the rows meanwhile and its findings are added to this one's: the caller has checked that
    forking is safe here (`forking.can_fork`, `forking.reopenable`).
    """
    sha256, size = _digest(binary)
    if size == 0:
        raise ExportRefused.single("the file is empty")
    helper = None
    share = None
    if split and keep == 0:
        helper = Forked(lambda: iter([_scan_part(own_reading(binary), spec, (1, 2))]))
        share = (0, 2)
    try:
        reader = reader_for(spec)
        problems = ProblemList()
        finder = RepeatFinder()
        found = None
        step = SCAN_STEP
        for row in reader.rows(binary, problems, full_rows=keep, share=share):
            if found is None:
                found = Scan(sha256, size, reader.columns, reader.header, reader.header_line)
                scan.append(found)
            found.rows_read += 1
            if len(found.first_rows) < keep:
                found.first_rows.append(row)
            moment = row.occurred_at
            if found.covers_from is None or moment < found.covers_from:
                found.covers_from = moment
            if found.covers_to is None or moment > found.covers_to:
                found.covers_to = moment
            if row.row_key.startswith("sha256:"):
                finder.see(row.row_key)
            if reader.records >= step:
                step += SCAN_STEP
                yield reader.records
        if found is None:
            found = Scan(sha256, size, reader.columns, reader.header, reader.header_line)
            scan.append(found)
        found.problems = problems
        found.repeats = finder.suspects
        if helper is not None:
            for part in helper:
                _add_part(found, part, reader.stopped)
    finally:
        if helper is not None:
            helper.close()
    binary.seek(0)
    yield found.rows_read


def _scan_part(binary: BinaryIO, spec: ExportSpec, share: tuple[int, int]) -> tuple:
    """A share of the first pass (`ExportReader.rows`), in a reader process: (rows read, first
    and last time, problems listed as (line, message), problems in all, the problem that
    stopped the reading or None)."""
    problems = ProblemList()
    rows_read, earliest, latest = 0, None, None
    reader = reader_for(spec)
    for row in reader.rows(binary, problems, full_rows=0, share=share):
        rows_read += 1
        moment = row.occurred_at
        if earliest is None or moment < earliest:
            earliest = moment
        if latest is None or moment > latest:
            latest = moment
    listed = [(p.line, p.message) for p in problems.listed]
    return rows_read, earliest, latest, listed, problems.total, reader.stopped


def _add_part(found: Scan, part: tuple, stopped: tuple[int, str] | None) -> None:
    """Add a reader process's share of the first pass to this process's, which `stopped` at
    that problem of the file itself (an unreadable CSV), or None."""
    rows_read, earliest, latest, listed, total, their_stop = part
    found.rows_read += rows_read
    if earliest is not None and (found.covers_from is None or earliest < found.covers_from):
        found.covers_from = earliest
    if latest is not None and (found.covers_to is None or latest > found.covers_to):
        found.covers_to = latest
    if not total:
        return
    mine = found.problems
    # A problem of the file itself stops both readers at the same line: it counts once.
    shared = stopped is not None and stopped == their_stop
    if shared:
        listed = [problem for problem in listed if problem != stopped]
        total -= 1
    merged = ProblemList(mine.limit)
    for line, message in sorted(
        [(p.line, p.message) for p in mine.listed] + listed, key=lambda problem: problem[0]
    ):
        merged.add(line, message)
    merged.total = mine.total + total
    found.problems = merged


def scan_export(*, binary: BinaryIO, spec: ExportSpec, keep: int = PREVIEW_ROWS) -> Scan:
    """Read the whole file once, keeping its first `keep` rows and every problem by line.

    Raises ExportRefused only when the header itself is wrong; row problems are in `problems`.
    """
    scan: list[Scan] = []
    for _ in scan_steps(binary=binary, spec=spec, scan=scan, keep=keep):
        pass
    return scan[0]
