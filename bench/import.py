"""A million-row Flock search audit imported and reconciled, against csv.reader + sqlite3.

    .venv/bin/python bench/import.py [--rows 1000000] [--logged-share 0.1] [--seed N]
                                     [--existing N] [--random-ids] [--keep] [--json]
                                     [--database-url URL]

1. A fresh SQLite database (SIGHTLINE_DATA_DIR = a temporary directory), or with --database-url
   a fresh database at that PostgreSQL server (dropped afterwards), is migrated and given the
   BPD agency with its operators (bench/common.py) and the alias "Birmingham AL PD" -> BPD.
2. Untimed: a Flock-shaped CSV of --rows searches over the last 60 days is written (the ten
   columns of Flock's export, UTF-8 with a BOM and Windows line ends; times in the shapes exports
   ship: 12-hour US dates with a zone abbreviation, ISO, some without seconds; 3% of the rows by
   a partner agency nobody mapped, a fifth with placeholder case numbers, nationwide lookups,
   partial plates, visual searches; about ten searches per plate). --logged-share of the rows
   (default 10%) are also recorded into the log beforehand, as the RTCC console would have
   posted them, a minute or two off the vendor's clock: the import must match those and record
   all the others. With --existing N, an export of N other searches (their own IDs, over the 60
   days before) is imported first, also untimed, so that the timed import goes into a log that
   already holds them, as a city's would.
   With --random-ids the row IDs are random UUID-shaped strings instead of IDs in sequence, as
   some vendors ship them: the row keys, and the recorded entries' client_refs, then land at
   random places in their indexes.
3. Timed: `import_export` (both passes: the check and the chunked write that matches each row
   and records the unmatched ones through `record_queries`), then `reconcile` of the same import
   (a full recomputation, as `manage.py reconcile` does).
   Peak RSS growth is measured from the process's RSS just before the import (Linux VmHWM reset
   through /proc/self/clear_refs); the reader processes' private memory (pages each wrote, its
   own or copied from the importer's) is sampled every 0.2 s from /proc/PID/smaps_rollup.
4. Baseline, same run, same disk: the same file read with csv.reader and its rows inserted with
   sqlite3.executemany (5,000 per call, one transaction) into a bare ten-column table of a fresh
   WAL database with synchronous=NORMAL, three times (before the import, between the import and
   the reconcile, after both); the median of the three is the raw rate.

Prints rows/s of each, ratio = import rate / raw rate (goal >= 0.05, stretch >= 0.10), the
reconcile rate, memory and CPU seconds. A file this long is read by a second, forked process
too (audit/imports/forking.py): its CPU is printed beside the importer's and counted in the CPU
ratio; the memory goal (<= 128 MB) is for the importer's peak RSS growth and the reader's peak
private memory together.
Nothing is asserted.
"""

import argparse
import contextlib
import csv
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BPD_OPERATORS,
    BPD_SUPERVISORS,
    fresh_postgres_database,
    machine_info,
    print_machine,
    setup_django,
)

HEADER = [
    "ID",
    "Name",
    "Org Name",
    "Total Networks Searched",
    "License Plate",
    "Reason",
    "Case #",
    "Filters",
    "Search Time",
    "Search Type",
]
GOAL, STRETCH, RSS_GOAL_MB = 0.05, 0.10, 128
REASONS = [
    "Armed robbery at a gas station on 3rd Ave N, suspect vehicle",
    "Homicide investigation, vehicle seen leaving 5th St S",
    "Stolen vehicle reported from Five Points South",
    "Burglary of a residence in Ensley, witness saw the car",
    "investigation",
    "Other - Not Applicable",
    "Carjacking on I-20 near the Arlington exit",
    "Missing person, last seen driving this car",
]
PLACEHOLDERS = ["N/A", "none", "-", "0", "unknown", ""]
CHICAGO = ZoneInfo("America/Chicago")


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class ReaderMemory(threading.Thread):
    """Samples the private memory of this process's children (the import's readers) every
    0.2 s: pages each has written, its own or copied from the importer's on write, from
    /proc/PID/smaps_rollup. `peak_mb` is the largest seen (0 without /proc)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kib = 0
        self._done = threading.Event()

    @property
    def peak_mb(self) -> float:
        return self.peak_kib / 1024

    def run(self) -> None:
        while not self._done.wait(0.2):
            for pid in self._children():
                self.peak_kib = max(self.peak_kib, self._private_kib(pid))

    def stop(self) -> None:
        self._done.set()
        self.join()

    @staticmethod
    def _children() -> list[str]:
        pids = []
        for children in Path("/proc/self/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids.extend(children.read_text().split())
        return pids

    @staticmethod
    def _private_kib(pid: str) -> int:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:  # ended meanwhile
            return 0
        return sum(int(line.split()[1]) for line in lines if line.startswith("Private_"))


def reader_cpu_seconds() -> float:
    """CPU of the import's reader processes (forked children, counted once they end)."""
    times = os.times()
    return times.children_user + times.children_system


def write_export(
    path: Path,
    rows: int,
    seed: int,
    logged_share: float,
    *,
    prefix: str = "fl",
    earlier: int = 0,
    random_ids: bool = False,
) -> list[tuple]:
    """Write the CSV (IDs `prefix`-n, or random UUID-shaped ones, over the 60 days ending
    `earlier` days before the last two hours); returns the logged rows (occurred_at, badge,
    plate, reason, case)."""
    from tqdm import tqdm

    rng = random.Random(seed)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2, days=earlier)
    start = end - timedelta(days=60)
    step = (end - start).total_seconds() / rows
    names = [f"Operator {n}" for n in range(BPD_SUPERVISORS, BPD_OPERATORS)]
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    # About ten searches per plate over the 60 days: investigations come back to a plate,
    # but a pool fixed at a few thousand would have each searched hundreds of times.
    plates = [
        f"{rng.randint(1, 67)}{rng.choice(letters)}{rng.choice(letters)} {rng.randint(100, 9999)}"
        for _ in range(max(5_000, rows // 10))
    ]
    logged = []
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for n in tqdm(range(rows), desc="Writing the export", unit="row", unit_scale=True,
                      mininterval=0.5, file=sys.stderr):  # fmt: skip
            moment = start + timedelta(seconds=n * step)
            local = moment.astimezone(CHICAGO)
            shape = n % 4
            if shape == 0:
                zone = local.tzname()
                written = f"{local:%m/%d/%Y} {local:%I:%M:%S %p} {zone}"
            elif shape == 1:
                written = f"{local:%Y-%m-%d %H:%M:%S}"
            elif shape == 2:
                written = f"{moment:%Y-%m-%dT%H:%M:%S}Z"
            else:
                written = f"{local:%m/%d/%Y %H:%M}"
                moment = moment.replace(second=0)
            roll = rng.random()
            name = rng.choice(names)
            org = "Birmingham AL PD" if roll > 0.03 else "Hoover Police Dept"
            plate = rng.choice(plates)
            search_type, networks = "Search", 1
            if roll < 0.10:
                search_type, networks = "Lookup", rng.randint(1200, 1700)
            elif roll < 0.13:
                plate = plate[:3] + "*"
            elif roll < 0.15:
                search_type, plate = "Visual Search", ""
            reason = rng.choice(REASONS)
            case = (
                rng.choice(PLACEHOLDERS)
                if rng.random() < 0.2
                else f"BPD-{local.year}-{rng.randint(1, 99999):06d}"
            )
            row_id = str(uuid.UUID(int=rng.getrandbits(128))) if random_ids else f"{prefix}-{n:08d}"
            writer.writerow(
                [row_id, name, org, networks, plate, reason, case, "", written, search_type]
            )
            if org != "Hoover Police Dept" and plate and rng.random() < logged_share:
                drift = timedelta(seconds=rng.randint(-120, 120))
                logged.append((moment + drift, name, plate, reason, case))
    return logged


def seed_log(logged: list[tuple]) -> None:
    """Record the RTCC's own entries for the logged share (untimed), 1000 per call."""
    from tqdm import tqdm

    from audit.imports.normalize import case_number, flock_query_type
    from audit.log.parsing import QueryInput, fingerprint_target
    from audit.log.services import create_integration, record_queries
    from audit.models import Agency, Operator

    agency = Agency.objects.get(code="BPD")
    integration, _ = create_integration(agency=agency, name="bench RTCC console")
    badges = dict(Operator.objects.values_list("name", "badge_number"))
    batch = []
    bar = tqdm(total=len(logged), desc="Seeding the log", unit="entry", unit_scale=True,
               mininterval=0.5, file=sys.stderr)  # fmt: skip
    for n, (moment, name, plate, reason, case) in enumerate(logged):
        batch.append(
            QueryInput(
                technology="license-plate-reader",
                query_type=flock_query_type("Search", plate),
                occurred_at=moment,
                operator=badges[name],
                target_fingerprint=fingerprint_target("license-plate-reader", plate),
                offense_code="120",
                justification=reason,
                case_number=case_number(case),
                supervisor="",
                requesting_agency="BPD",
                on_behalf_of="",
                scope="local",
                result_count=None,
                client_ref=f"rtcc-{n}",
            )
        )
        if len(batch) == 1000:
            record_queries(integration=integration, queries=batch)
            bar.update(len(batch))
            batch = []
    if batch:
        record_queries(integration=integration, queries=batch)
        bar.update(len(batch))
    bar.close()


def raw_baseline(path: Path, directory: Path) -> tuple[int, float, float]:
    """csv.reader + sqlite3.executemany of the same rows into a bare table; (rows, s, cpu s)."""
    database = directory / "raw.sqlite3"
    for leftover in (database, directory / "raw.sqlite3-wal", directory / "raw.sqlite3-shm"):
        leftover.unlink(missing_ok=True)  # each run starts from a fresh database
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    columns = ", ".join(f"c{i} TEXT" for i in range(len(HEADER)))
    connection.execute(f"CREATE TABLE raw_rows (id INTEGER PRIMARY KEY, {columns})")
    insert = f"INSERT INTO raw_rows ({', '.join(f'c{i}' for i in range(len(HEADER)))}) VALUES ({', '.join('?' * len(HEADER))})"  # noqa: E501
    started, cpu = time.perf_counter(), cpu_seconds()
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as source:
        reader = csv.reader(source)
        next(reader)
        connection.execute("BEGIN IMMEDIATE")
        chunk = []
        for row in reader:
            chunk.append(row)
            if len(chunk) == 5000:
                connection.executemany(insert, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            connection.executemany(insert, chunk)
            count += len(chunk)
        connection.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    connection.close()
    return count, elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--logged-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--existing",
        type=int,
        default=0,
        help="Import an export of this many other searches first (untimed), so that the timed "
        "import goes into a log that already holds them.",
    )
    parser.add_argument(
        "--random-ids",
        action="store_true",
        help="Random UUID-shaped row IDs instead of IDs in sequence (the row keys, and the "
        "recorded entries' client_refs, then land at random places in their indexes).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--database-url",
        default="",
        help="Import into a fresh database at this PostgreSQL server (e.g. "
        "postgres://postgres@127.0.0.1:5432/test) instead of SQLite; the baseline stays "
        "csv.reader + sqlite3.executemany.",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sightline-bench-import-"))
    # A stopped run still removes its temporary directory (and database).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with ExitStack() as stack:
        database_url = None
        if args.database_url:
            database_url = stack.enter_context(
                fresh_postgres_database(args.database_url, "sightline_bench_import")
            )
        return run(args, tmp, database_url)


def run(args, tmp: Path, database_url: str | None) -> int:
    try:
        setup_django(tmp, database_url)
        from bench.common import ensure_reference_data

        ensure_reference_data()
        from django.db import connection

        from audit.imports import reconciliation, services
        from audit.imports.models import AgencyAlias
        from audit.imports.progress import BarProgress
        from audit.models import Agency, QueryLogEntry

        AgencyAlias.objects.create(name="Birmingham AL PD", agency=Agency.objects.get(code="BPD"))
        info = machine_info()
        if args.existing:
            earlier = tmp / "flock-audit-earlier.csv"
            write_export(earlier, args.existing, args.seed + 1, 0.0, prefix="ex", earlier=60)
            bar = BarProgress(sys.stderr)
            with earlier.open("rb") as binary:
                services.import_export(
                    binary=binary,
                    file_name=earlier.name,
                    spec=services.export_spec(fmt="flock", agency_code="BPD"),
                    progress=bar,
                )
            bar.close()
            earlier.unlink()
        export = tmp / "flock-audit.csv"
        logged = write_export(
            export, args.rows, args.seed, args.logged_share, random_ids=args.random_ids
        )
        seed_log(logged)
        entries_before = QueryLogEntry.objects.count()

        # The baseline is run three times (before the import, between it and the reconcile,
        # after both) and its median taken: one run of a few seconds moves with the machine as
        # much as the import does.
        raw_runs = [raw_baseline(export, tmp)]
        spec = services.export_spec(fmt="flock", agency_code="BPD")
        progress = BarProgress(sys.stderr)
        rss_before = rss_kib("VmRSS")
        peak_known = reset_peak_rss()
        readers = ReaderMemory()
        readers.start()
        started, cpu, reader_cpu = time.perf_counter(), cpu_seconds(), reader_cpu_seconds()
        with export.open("rb") as binary:
            result = services.import_export(
                binary=binary, file_name=export.name, spec=spec, progress=progress
            )
        import_s, import_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        readers.stop()
        reader_cpu = reader_cpu_seconds() - reader_cpu
        # The reader processes' largest RSS (whole, not growth: most of a fork's pages are
        # the importer's, shared until written).
        reader_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        progress.close()
        peak_growth_mb = (rss_kib("VmHWM") - rss_before) / 1024 if peak_known else None

        raw_runs.append(raw_baseline(export, tmp))
        started, cpu = time.perf_counter(), cpu_seconds()
        reconciled = reconciliation.reconcile(vendor_import=result.vendor_import, progress=progress)
        reconcile_s, reconcile_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        progress.close()
        entries_after = QueryLogEntry.objects.count()

        raw_runs.append(raw_baseline(export, tmp))
        raw_rows = raw_runs[0][0]
        raw_s = statistics.median(run[1] for run in raw_runs)
        raw_cpu = statistics.median(run[2] for run in raw_runs)
        rows = result.scan.rows_read
        import_rate, raw_rate = rows / import_s, raw_rows / raw_s
        ratio = import_rate / raw_rate
        both_ratio = rows / (import_s + reconcile_s) / raw_rate
        figures = {
            "database": connection.vendor,
            "rows": rows,
            "file_mb": round(export.stat().st_size / 2**20, 1),
            "existing": args.existing,
            "random_ids": args.random_ids,
            "logged_beforehand": len(logged),
            "matched": result.matched,
            "recorded": result.recorded,
            "entries_before": entries_before,
            "entries_after": entries_after,
            "import_seconds": round(import_s, 1),
            "import_rows_per_s": round(import_rate),
            "import_cpu_seconds": round(import_cpu, 1),
            "reader_cpu_seconds": round(reader_cpu, 1),
            "reader_peak_rss_mb": round(reader_rss_mb, 1),
            "reconcile_seconds": round(reconcile_s, 1),
            "reconcile_rows_per_s": round(reconciled.rows / reconcile_s),
            "reconcile_cpu_seconds": round(reconcile_cpu, 1),
            "raw_seconds": round(raw_s, 2),
            "raw_runs_seconds": [round(run[1], 2) for run in raw_runs],
            "raw_rows_per_s": round(raw_rate),
            "raw_cpu_seconds": round(raw_cpu, 2),
            "ratio": round(ratio, 4),
            "import_and_reconcile_ratio": round(both_ratio, 4),
            "cpu_ratio": round((raw_cpu / raw_rows) / ((import_cpu + reader_cpu) / rows), 4),
            "peak_rss_growth_mb": round(peak_growth_mb, 1) if peak_growth_mb is not None else None,
            "reader_private_peak_mb": round(readers.peak_mb, 1),
            **info,
        }
        print_machine(info)
        print(f"database:  {connection.vendor} (the baseline: sqlite3 into a bare table)")
        ids = "random IDs" if args.random_ids else "IDs in sequence"
        print(
            f"export:    {rows:,} rows, {figures['file_mb']} MB (BOM, CRLF, mixed time shapes, "
            f"{ids})"
        )
        print(
            f"log:       {entries_before:,} entries before the import ({args.existing:,} from an "
            f"earlier export, {len(logged):,} the RTCC logged), {entries_after:,} after"
        )
        print(
            f"import:    {import_s:.1f} s, {import_rate:,.0f} rows/s, CPU {import_cpu:.1f} s "
            f"+ {reader_cpu:.1f} s in its reader process; {result.matched:,} matched, "
            f"{result.recorded:,} recorded as not logged by the RTCC"
        )
        print(
            f"reconcile: {reconcile_s:.1f} s, {reconciled.rows / reconcile_s:,.0f} rows/s, "
            f"CPU {reconcile_cpu:.1f} s; {reconciled.matched:,} matched"
        )
        runs = ", ".join(f"{run[1]:.2f}" for run in raw_runs)
        print(
            f"raw:       {raw_s:.2f} s, {raw_rate:,.0f} rows/s (csv.reader + executemany; the "
            f"median of {runs} s)"
        )
        verdict = (
            "stretch met" if ratio >= STRETCH else ("goal met" if ratio >= GOAL else "below goal")
        )
        print(
            f"ratio:     {ratio:.4f} (goal >= {GOAL}, stretch >= {STRETCH}: {verdict}); "
            f"CPU-time ratio (both processes) {figures['cpu_ratio']:.4f}"
        )
        print(f"           import then a full reconcile: ratio {both_ratio:.4f}")
        if peak_growth_mb is not None:
            both = peak_growth_mb + readers.peak_mb
            print(f"memory:    peak RSS growth {peak_growth_mb:.1f} MB during the import; its "
                  f"reader process: {readers.peak_mb:.1f} MB private at most "
                  f"({reader_rss_mb:.1f} MB peak RSS, shared pages included); both "
                  f"{both:.1f} MB (goal <= {RSS_GOAL_MB} MB)")  # fmt: skip
        if args.json:
            print(json.dumps(figures))
        if args.keep:
            print(f"kept: {tmp}", file=sys.stderr)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
