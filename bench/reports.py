"""Council report latency at 10,000 vs 1,000,000 entries, and against a raw GROUP BY of the log.

    .venv/bin/python bench/reports.py [--small 10000] [--large 1000000] [--keep DIR]
                                      [--runs 7] [--warmups 2] [--raw-runs 3]
                                      [--profile] [--profile-top 25] [--json]

1. Two SQLite databases are built with `manage.py seed_demo --queries N --seed 1
   --demo-password <random>` (two years of demo data ending today, recorded through
   `audit.log.services.record_queries`, rollups kept in the same transactions), each in its own
   SIGHTLINE_DATA_DIR: a temporary directory, or DIR/entries-N with --keep, reused on later runs
   (a directory whose build did not finish is wiped and rebuilt). `collectstatic` runs into the
   same directory first: with DEBUG off every page needs the static manifest. Building is timed
   and printed, never part of the figures.
2. The fiscal year measured is the latest one that lies wholly inside the data of both databases
   (with a July start and data ending in late 2026, FY2026 = July 2025 - June 2026).
3. For each database this script re-invokes itself in a subprocess (`--measure`, with the data
   directory in SIGHTLINE_DATA_DIR; Django's settings cannot be switched inside one process),
   which prints one JSON line. In it, with production settings (DEBUG off) except the HTTPS
   redirect:
   - page: Django's test Client, logged in as `council` (force_login), GETs
     /reports/?kind=fiscal-year&year=<FY>: 2 warm-ups, then the median of 7;
   - function: `reports.report.council_report(fiscal_year(FY))` alone, likewise.
   With --profile the large database's subprocess also runs `council_report` once under
   cProfile and once with every SQL statement timed, and prints the top costs.
4. Raw baseline, in this process on the large database: one sqlite3 connection runs
   `SELECT technology_id, strftime('%Y-%m', local_date) AS month, COUNT(*)
   FROM audit_querylogentry GROUP BY 1, 2` and fetches all rows; median of 3.

Printed: entries, the page and function latencies at both sizes, ratio large/small, the raw
GROUP BY latency and ratio report@large / raw. Goals (issue 6): large/small <= 1.5 and
report@large <= 0.05 x raw. Nothing is asserted on timings; the exit status is 0 unless
something fails to run.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, configure_environment, machine_info, print_machine

SCALE_GOAL = 1.5  # report at the large size / report at the small size
RAW_GOAL = 0.05  # report at the large size / raw GROUP BY at the large size
SEED = 1
PY = sys.executable
MEASURE_ENV = "SIGHTLINE_BENCH_MEASURE_DIR"
MARKER = "bench-reports-built.json"
RAW_SQL = (
    "SELECT technology_id, strftime('%Y-%m', local_date) AS month, COUNT(*) "
    "FROM audit_querylogentry GROUP BY 1, 2"
)


# --- Building the databases ---------------------------------------------------------------------


def environment(data_dir: Path) -> dict[str, str]:
    """The environment of a subprocess working on `data_dir` (this process stays Django-free)."""
    env = configure_environment(data_dir)
    env["STATIC_ROOT"] = str(data_dir / "static")
    env["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    return env


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=REPO, env=env, check=True)


def log_size(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT size FROM audit_logstate WHERE id = 1").fetchone()
        return row[0] if row else 0
    except sqlite3.OperationalError:  # not migrated
        return 0
    finally:
        conn.close()


def build(data_dir: Path, entries: int) -> dict:
    """collectstatic, migrate and seed_demo into `data_dir` unless a finished build is there.

    Returns {"entries", "seconds" (None when reused), "built_on"}.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / MARKER
    db = data_dir / "db.sqlite3"
    if marker.exists():
        facts = json.loads(marker.read_text())
        if facts.get("queries") == entries and log_size(db) == facts.get("entries"):
            return {**facts, "seconds": None, "build_seconds": facts.get("seconds")}
    # Nothing finished here: start from an empty database (keys and static files may stay).
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", MARKER):
        (data_dir / name).unlink(missing_ok=True)
    env = environment(data_dir)
    print(f"build:   {entries:,} entries into {data_dir} (seed_demo's progress bar below)")
    started = time.perf_counter()
    if not (data_dir / "static" / "staticfiles.json").exists():
        manage("collectstatic", "--noinput", "-v0", env=env)
    manage("migrate", "--noinput", "-v0", env=env)
    seed_started = time.perf_counter()
    password = secrets.token_urlsafe(12)  # nobody logs in with it: the client uses force_login
    manage(
        "seed_demo", "--queries", str(entries), "--seed", str(SEED), "--demo-password", password,
        env=env,
    )  # fmt: skip
    seeded = time.perf_counter() - seed_started
    total = time.perf_counter() - started
    facts = {
        "queries": entries,
        "entries": log_size(db),
        "seconds": round(total, 1),
        "seed_seconds": round(seeded, 1),
        "built_on": date.today().isoformat(),
        "load_avg_after": round(os.getloadavg()[0], 2),
    }
    marker.write_text(json.dumps(facts))
    print(
        f"build:   {facts['entries']:,} entries in {total:.0f} s (seed_demo {seeded:.0f} s, "
        f"{entries / seeded:,.0f} entries/s; load average {facts['load_avg_after']:.2f} after)"
    )
    return {**facts, "build_seconds": facts["seconds"]}


def date_range(db: Path) -> tuple[date, date]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        low, high = conn.execute(
            "SELECT min(local_date), max(local_date) FROM audit_querylogentry"
        ).fetchone()
    finally:
        conn.close()
    return date.fromisoformat(low), date.fromisoformat(high)


def complete_fiscal_year(ranges: list[tuple[date, date]], start_month: int) -> int:
    """The latest fiscal year (named by the year it ends in) inside every (first, last) range."""
    first = max(low for low, _ in ranges)
    last = min(high for _, high in ranges)
    for fy in range(last.year + 1, first.year - 1, -1):
        begins = date(fy - 1 if start_month > 1 else fy, start_month, 1)
        ends_before = date(fy if start_month > 1 else fy + 1, start_month, 1)
        if begins >= first and ends_before <= last:
            return fy
    raise SystemExit(f"No complete fiscal year lies between {first} and {last}.")


def fiscal_start_month(env: dict[str, str]) -> int:
    out = subprocess.run(
        [PY, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SIGHTLINE_FISCAL_YEAR_START_MONTH)"],
        cwd=REPO, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


# --- Measuring (in a subprocess per database) ---------------------------------------------------


def timed(fn, runs: int, warmups: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (this process: Python and SQLite alike) of each timed run."""
    for _ in range(warmups):
        fn()
    times, cpu = [], []
    for _ in range(runs):
        started, cpu0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu0)
    return times, cpu


def measure(fy: int, runs: int, warmups: int, profile_top: int) -> dict:
    """Runs inside the subprocess: Django is configured for the data dir in the environment."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from audit.models import LogState
    from reports import rollups
    from reports.periods import fiscal_year
    from reports.report import council_report

    period = fiscal_year(fy)
    url = f"/reports/?kind=fiscal-year&year={fy}"
    client = Client()
    client.force_login(get_user_model().objects.get(username="council"))
    page_bytes = 0

    def page():
        nonlocal page_bytes
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        if f"Council report: {period.label}" not in response.text:  # not the default period
            raise RuntimeError(f"GET {url} did not render the report for {period.label}")
        page_bytes = len(response.content)

    def function():
        return council_report(period)

    page_s, page_cpu = timed(page, runs, warmups)
    function_s, function_cpu = timed(function, runs, warmups)
    with CaptureQueriesContext(connection) as page_queries:
        page()
    with CaptureQueriesContext(connection) as function_queries:
        sections = function()
    rollup_rows = {model.__name__: model.objects.count() for model in rollups.ROLLUPS}
    result = {
        "entries": LogState.objects.values_list("size", flat=True).get(id=1),
        "fiscal_year": fy,
        "period": f"{period.start} to {period.end}",
        "url": url,
        "page_seconds": page_s,
        "page_median": statistics.median(page_s),
        "page_cpu_median": statistics.median(page_cpu),
        "page_bytes": page_bytes,
        "page_sql": len(page_queries.captured_queries),
        "function_seconds": function_s,
        "function_median": statistics.median(function_s),
        "function_cpu_median": statistics.median(function_cpu),
        "function_sql": len(function_queries.captured_queries),
        "tables": sum(len(s.tables) for s in sections),
        "rollup_rows": rollup_rows,
        "load_avg": round(os.getloadavg()[0], 2),
    }
    if profile_top:
        result["profile"] = profile(function, profile_top)
    return result


def profile(function, top: int) -> str:
    """council_report once under cProfile, once with every SQL statement timed."""
    from django.db import connection

    out = io.StringIO()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    function()
    profiler.disable()
    out.write(f"council_report under cProfile: {time.perf_counter() - started:.3f} s\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)

    statements: list[tuple[float, str, int]] = []

    def timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - started, sql, len(params or ())))

    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        function()
    total = time.perf_counter() - started
    sql_total = sum(s for s, _, _ in statements)
    out.write(
        f"\ncouncil_report with SQL timed: {total:.3f} s, {len(statements)} statements, "
        f"{sql_total:.3f} s in execute ({sql_total / total:.0%}); fetching and Python the rest\n"
        f"slowest {min(top, len(statements))} statements (execute time only):\n"
    )
    for seconds, sql, nparams in sorted(statements, reverse=True)[:top]:
        out.write(f"  {seconds * 1000:9.1f} ms  ({nparams} params) {sql[:400]}\n")
    return out.getvalue()


def run_measure(data_dir: Path, fy: int, args, profile_top: int) -> dict:
    env = environment(data_dir)
    env[MEASURE_ENV] = str(data_dir)
    cmd = [
        PY, __file__, "--measure", "--fy", str(fy), "--runs", str(args.runs),
        "--warmups", str(args.warmups), "--profile-top", str(profile_top),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, text=True)
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The raw baseline ---------------------------------------------------------------------------


def raw_group_by(db: Path, runs: int) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        times, cpu, rows = [], [], []
        for _ in range(runs):
            started, cpu0 = time.perf_counter(), time.process_time()
            rows = conn.execute(RAW_SQL).fetchall()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu0)
        plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + RAW_SQL)]
    finally:
        conn.close()
    return {
        "seconds": times,
        "median": statistics.median(times),
        "cpu_median": statistics.median(cpu),
        "groups": len(rows),
        "counted": sum(row[2] for row in rows),
        "plan": plan,
    }


# --- Main ---------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def spread(times: list[float]) -> str:
    return f"min {ms(min(times))}, max {ms(max(times))}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="Entries in the small DB.")
    parser.add_argument("--large", type=int, default=1_000_000, help="Entries in the large DB.")
    parser.add_argument("--keep", type=Path, help="Directory to build the databases in and reuse.")
    parser.add_argument("--runs", type=int, default=7, help="Timed runs per measure (median).")
    parser.add_argument("--warmups", type=int, default=2, help="Untimed runs before them.")
    parser.add_argument("--raw-runs", type=int, default=3, help="Raw GROUP BY runs (median).")
    parser.add_argument(
        "--profile", action="store_true", help="Profile council_report on the large database."
    )
    parser.add_argument("--profile-top", type=int, default=25, help="Functions/queries to list.")
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fy", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:  # the subprocess: one database, named in the environment
        if not os.environ.get(MEASURE_ENV):
            parser.error(f"--measure is internal (needs {MEASURE_ENV})")
        configure_environment(Path(os.environ[MEASURE_ENV]))
        os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
        print(json.dumps(measure(args.fy, args.runs, args.warmups, args.profile_top)))
        return 0

    if not 1 <= args.small < args.large:
        parser.error("need 1 <= --small < --large")
    if args.runs < 1 or args.raw_runs < 1 or args.warmups < 0:
        parser.error("--runs and --raw-runs must be at least 1, --warmups at least 0")

    if args.keep:
        root = args.keep.resolve()
        tmp = None
    else:
        tmp = root = Path(tempfile.mkdtemp(prefix="sightline-bench-reports-"))
    try:
        info = machine_info()
        print("Sightline reports benchmark: council report (fiscal year) at two sizes vs raw")
        print_machine(info)
        dirs = {size: root / f"entries-{size}" for size in (args.small, args.large)}
        builds = {}
        for size, data_dir in dirs.items():
            builds[size] = build(data_dir, size)
            if builds[size]["seconds"] is None:
                made = builds[size].get("build_seconds")
                print(
                    f"build:   reused {builds[size]['entries']:,} entries in {data_dir} (built "
                    f"{builds[size].get('built_on')} in {made} s)"
                )
        small_db, large_db = (dirs[s] / "db.sqlite3" for s in (args.small, args.large))
        start_month = fiscal_start_month(environment(dirs[args.large]))
        ranges = [date_range(small_db), date_range(large_db)]
        fy = complete_fiscal_year(ranges, start_month)
        print(
            f"data:    {ranges[1][0]} to {ranges[1][1]}; fiscal years start in month "
            f"{start_month}; measuring FY{fy}"
        )
        for size in (args.small, args.large):
            db = dirs[size] / "db.sqlite3"
            print(f"db:      {size:,}: {db} ({db.stat().st_size / 2**20:,.0f} MiB)")

        print(f"measure: {args.small:,} entries (load average {os.getloadavg()[0]:.2f})")
        small = run_measure(dirs[args.small], fy, args, 0)
        print(f"measure: {args.large:,} entries (load average {os.getloadavg()[0]:.2f})")
        large = run_measure(dirs[args.large], fy, args, args.profile_top if args.profile else 0)
        load_raw = os.getloadavg()[0]
        print(f"measure: raw GROUP BY on {args.large:,} entries (load average {load_raw:.2f})")
        raw = raw_group_by(large_db, args.raw_runs)

        page_scale = large["page_median"] / small["page_median"]
        function_scale = large["function_median"] / small["function_median"]
        page_raw = large["page_median"] / raw["median"]
        function_raw = large["function_median"] / raw["median"]
        # CPU time of the measuring process (SQLite runs in it): a cross-check that other jobs
        # on the machine disturb far less than wall-clock time.
        cpu_scale = large["page_cpu_median"] / small["page_cpu_median"]
        cpu_raw = large["page_cpu_median"] / raw["cpu_median"]

        def verdict(value: float, goal: float) -> str:
            return "goal met" if value <= goal else "goal NOT met"

        print()
        print(f"period:  FY{fy} ({large['period']}), GET {large['url']} as council")
        for name, m in (("small", small), ("large", large)):
            print(
                f"{name}:   {m['entries']:>9,} entries  page {ms(m['page_median'])} "
                f"({spread(m['page_seconds'])}; {m['page_bytes'] / 1024:,.0f} KiB, "
                f"{m['page_sql']} SQL)  council_report {ms(m['function_median'])} "
                f"({spread(m['function_seconds'])}; {m['function_sql']} SQL, {m['tables']} tables)"
            )
            rows = ", ".join(f"{k} {v:,}" for k, v in m["rollup_rows"].items())
            print(f"         rollup rows: {rows}; load average {m['load_avg']:.2f}")
        print(
            f"raw:     GROUP BY technology, month over {raw['counted']:,} rows: "
            f"{ms(raw['median'])} median of {args.raw_runs} "
            f"({', '.join(ms(s) for s in raw['seconds'])}; {raw['groups']} groups; plan: "
            f"{'; '.join(raw['plan'])})"
        )
        print()
        print(
            f"ratio {args.large:,}/{args.small:,}:  page {page_scale:.3f}, council_report "
            f"{function_scale:.3f}  (goal <= {SCALE_GOAL}: page {verdict(page_scale, SCALE_GOAL)})"
        )
        print(
            f"ratio report@{args.large:,} / raw:  page {page_raw:.4f}, council_report "
            f"{function_raw:.4f}  (goal <= {RAW_GOAL}: page {verdict(page_raw, RAW_GOAL)})"
        )
        print(
            f"CPU time (cross-check): page {ms(small['page_cpu_median'])} -> "
            f"{ms(large['page_cpu_median'])}, council_report {ms(small['function_cpu_median'])} "
            f"-> {ms(large['function_cpu_median'])}, raw {ms(raw['cpu_median'])}; page ratios "
            f"{cpu_scale:.3f} and {cpu_raw:.4f}"
        )
        if args.large != 1_000_000:
            print(f"note:    the large database has {args.large:,} entries, not 1,000,000")
        if "profile" in large:
            print()
            print(f"profile of council_report on {large['entries']:,} entries:")
            print(large["profile"])

        if args.json:
            result = {
                "benchmark": "reports",
                "fiscal_year": fy,
                "small_entries": small["entries"],
                "large_entries": large["entries"],
                "small_build_seconds": builds[args.small]["seconds"],
                "large_build_seconds": builds[args.large]["seconds"],
                "small_page_ms": round(small["page_median"] * 1000, 2),
                "small_function_ms": round(small["function_median"] * 1000, 2),
                "large_page_ms": round(large["page_median"] * 1000, 2),
                "large_function_ms": round(large["function_median"] * 1000, 2),
                "raw_group_by_ms": round(raw["median"] * 1000, 2),
                "small_page_cpu_ms": round(small["page_cpu_median"] * 1000, 2),
                "large_page_cpu_ms": round(large["page_cpu_median"] * 1000, 2),
                "small_function_cpu_ms": round(small["function_cpu_median"] * 1000, 2),
                "large_function_cpu_ms": round(large["function_cpu_median"] * 1000, 2),
                "raw_group_by_cpu_ms": round(raw["cpu_median"] * 1000, 2),
                "cpu_ratio_page_large_small": round(cpu_scale, 4),
                "cpu_ratio_page_raw": round(cpu_raw, 5),
                "ratio_page_large_small": round(page_scale, 4),
                "ratio_function_large_small": round(function_scale, 4),
                "ratio_page_raw": round(page_raw, 5),
                "ratio_function_raw": round(function_raw, 5),
                "scale_goal": SCALE_GOAL,
                "raw_goal": RAW_GOAL,
                "page_sql": large["page_sql"],
                "function_sql": large["function_sql"],
                "load_avg_small": small["load_avg"],
                "load_avg_large": large["load_avg"],
                "load_avg_raw": round(load_raw, 2),
                **info,
            }
            print(json.dumps(result))
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {root}")


if __name__ == "__main__":
    sys.exit(main())
