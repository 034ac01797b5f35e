"""Bulk recording in-process: `record_queries` against raw executemany of the same rows.

    .venv/bin/python bench/record.py [--entries 100000] [--batch 1000 --batch 10000]
        [--seed N] [--profile] [--json]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/record.py

1. For each backend (SQLite always; PostgreSQL too when DATABASE_URL is set, in a fresh
   database `sightline_bench_record_<pid>` created on that server and dropped afterwards) and
   each batch size, a child process migrates a fresh database and loads the BPD agency, its
   operators and one integration (bench/common.py).
2. N realistic queries (bench/common.py's QueryFactory, the demo mix, a client_ref each) are
   generated and parsed by `audit.log.parsing.parse_queries` (1000 at a time, the API's limit)
   into QueryInput objects BEFORE timing.
3. Timed: `audit.log.services.record_queries(integration=..., queries=batch)` for consecutive
   batches of B queries, each call its own transaction, as an importer or the API calls it:
   entries, leaves, Merkle nodes, flags, the queries_recorded signal (report rollups) and the
   log state; a tree head is published after commit when one is due.
4. Baseline, same process, same data, same disk: the rows the service wrote to
   audit_querylogentry are read back and inserted with `executemany`, B per transaction, into
   a bare copy of that table (same columns and indexes; no triggers, nodes, flags or rollups).
   On SQLite a fresh WAL database with synchronous=NORMAL (as the service's), the schema copied
   from sqlite_master; on PostgreSQL `CREATE TABLE ... (LIKE audit_querylogentry INCLUDING
   ALL)` in the same database, through psycopg's executemany.

Prints rows/s of both, **ratio = record rate / raw rate** and a CPU-time ratio (this process
only: on PostgreSQL the server's CPU is not counted on either side). `--profile` runs the timed
part under cProfile (slower; the ratio then means little) and prints the top functions.
"""

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    QueryFactory,
    machine_info,
    print_machine,
    setup_django,
    with_database,
)

TABLE = "audit_querylogentry"
RAW_TABLE = "bench_raw_querylogentry"
PARSE_CHUNK = 1000  # parse_queries accepts at most the API's 1000 per call
API_GOAL = 0.05  # issue 13: import+reconcile at >= 0.05 of raw (stretch 0.10)


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parsed_queries(entries: int, seed: int) -> list:
    from audit.log.parsing import parse_queries
    from audit.log.services import technology_query_types
    from bench.common import AGENCY

    technologies = technology_query_types()
    factory = QueryFactory(seed, total=entries)
    queries = []
    for start in range(0, entries, PARSE_CHUNK):
        items = factory.batch(start, min(PARSE_CHUNK, entries - start))
        parsed, _ = parse_queries(items, technologies=technologies, default_agency=AGENCY)
        queries.extend(parsed)
    return queries


def record_all(integration, queries: list, batch: int) -> tuple[float, float, int]:
    from audit.log.services import record_queries

    recorded = 0
    started, cpu = time.perf_counter(), cpu_now()
    for start in range(0, len(queries), batch):
        results = record_queries(integration=integration, queries=queries[start : start + batch])
        recorded += sum(1 for r in results if r.created)
    return time.perf_counter() - started, cpu_now() - cpu, recorded


def raw_sqlite(server_db: Path, tmp: Path, batch: int) -> dict[str, tuple[float, float, int]]:
    """The service's rows into fresh tables, B per transaction: bare (the columns only, as the
    import benchmark's baseline) and indexed (the same schema and indexes, from sqlite_master)."""
    source = sqlite3.connect(server_db)
    schema = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index') "
            "AND sql IS NOT NULL ORDER BY type = 'index'",
            (TABLE,),
        )
    ]
    columns = [row[1] for row in source.execute(f"PRAGMA table_info({TABLE})")]
    rows = source.execute(f"SELECT * FROM {TABLE} ORDER BY sequence").fetchall()
    source.close()
    results = {}
    for variant in ("bare", "indexed"):
        conn = sqlite3.connect(tmp / f"raw-{variant}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if variant == "bare":
            conn.execute(f"CREATE TABLE {TABLE} ({', '.join(columns)})")
        else:
            for sql in schema:
                conn.execute(sql)
        insert = f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(columns))})"
        started, cpu = time.perf_counter(), cpu_now()
        for start in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")  # as the service's transactions (transaction_mode)
            conn.executemany(insert, rows[start : start + batch])
            conn.execute("COMMIT")
        results[variant] = (time.perf_counter() - started, cpu_now() - cpu, len(rows))
        conn.close()
    return results


def raw_postgresql(batch: int) -> dict[str, tuple[float, float, int]]:
    """The service's rows into copies of the table in the same database, B per transaction:
    bare (LIKE: the columns only) and indexed (LIKE ... INCLUDING ALL)."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    results = {}
    with psycopg.connect(**params, autocommit=True) as conn:
        rows = conn.execute(f"SELECT * FROM {TABLE} ORDER BY sequence").fetchall()
        insert = f"INSERT INTO {RAW_TABLE} VALUES ({', '.join(['%s'] * len(rows[0]))})"
        for variant, like in (("bare", ""), ("indexed", " INCLUDING ALL")):
            conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
            conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE {TABLE}{like})")
            started, cpu = time.perf_counter(), cpu_now()
            for start in range(0, len(rows), batch):
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(insert, rows[start : start + batch])
            results[variant] = (time.perf_counter() - started, cpu_now() - cpu, len(rows))
            conn.execute(f"DROP TABLE {RAW_TABLE}")
    return results


def run_child(args) -> int:
    """One backend and one batch size in this process; prints the figures and a JSON line."""
    backend = args.child
    tmp = Path(tempfile.mkdtemp(prefix="sightline-bench-record-"))
    try:
        setup_django(tmp / "data", args.database_url if backend == "postgresql" else None)
        from django.db import connection

        from audit.models import EntryFlags, LogState, MerkleNode, QueryLogEntry
        from bench.common import ensure_reference_data
        from reports.rollups import ROLLUPS

        integration, _ = ensure_reference_data()
        queries = parsed_queries(args.entries, args.seed)
        profiler = None
        if args.profile:
            import cProfile

            # CPU time, not wall time: on a shared machine waits would swamp the listing.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        rec_s, rec_cpu, recorded = record_all(integration, queries, args.batch)
        if profiler is not None:
            profiler.disable()
        size = LogState.objects.get(id=1).size
        if recorded != args.entries or size != args.entries:
            raise RuntimeError(f"recorded {recorded}, log size {size}, expected {args.entries}")
        facts = {
            "merkle_nodes": MerkleNode.objects.count(),
            "flags": sum(
                bin(mask).count("1") for mask in EntryFlags.objects.values_list("mask", flat=True)
            ),
            "flagged_entries": EntryFlags.objects.count(),
            "rollup_rows": sum(model.objects.count() for model in ROLLUPS),
            "entries": QueryLogEntry.objects.count(),
        }
        if backend == "postgresql":
            raw = raw_postgresql(args.batch)
        else:
            connection.close()
            raw = raw_sqlite(tmp / "data" / "db.sqlite3", tmp, args.batch)
        rec_rate = recorded / rec_s
        result = {
            "backend": backend,
            "entries": recorded,
            "batch": args.batch,
            "record_seconds": round(rec_s, 3),
            "record_rows_per_s": round(rec_rate, 1),
            "record_cpu_seconds": round(rec_cpu, 2),
            "profiled": bool(profiler),
            **facts,
        }
        for variant, (raw_s, raw_cpu, raw_rows) in raw.items():
            raw_rate = raw_rows / raw_s
            result[f"{variant}_seconds"] = round(raw_s, 3)
            result[f"{variant}_rows_per_s"] = round(raw_rate, 1)
            result[f"{variant}_cpu_seconds"] = round(raw_cpu, 2)
            result[f"{variant}_ratio"] = round(rec_rate / raw_rate, 4)
            result[f"{variant}_cpu_ratio"] = round(raw_cpu / rec_cpu, 4) if rec_cpu else None
        print(
            f"{backend:10} batch {args.batch:>6}: record_queries {recorded:,} rows in "
            f"{rec_s:.2f} s = {rec_rate:,.0f} rows/s (CPU {rec_cpu:.1f} s)"
        )
        for variant in raw:
            print(
                f"{'':10} raw executemany, {variant + ' table:':14} "
                f"{result[f'{variant}_rows_per_s']:>9,.0f} rows/s (CPU "
                f"{result[f'{variant}_cpu_seconds']:.2f} s); ratio "
                f"{result[f'{variant}_ratio']:.3f}, CPU ratio {result[f'{variant}_cpu_ratio']}"
            )
        print(
            f"{'':10} wrote {facts['merkle_nodes']:,} Merkle nodes, {facts['flags']:,} flags on "
            f"{facts['flagged_entries']:,} entries, {facts['rollup_rows']:,} rollup rows"
        )
        if profiler is not None:
            import pstats

            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(30)
        print("RESULT " + json.dumps(result))
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run_backend(args, backend: str, batch: int, database_url: str | None) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        backend,
        "--entries",
        str(args.entries),
        "--batch",
        str(batch),
        "--seed",
        str(args.seed),
    ]
    if args.profile:
        cmd.append("--profile")
    if database_url:
        cmd += ["--database-url", database_url]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        else:
            print(line)
    if proc.returncode or result is None:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"the {backend} run with batch {batch} failed")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument(
        "--batch",
        type=int,
        action="append",
        help="Queries per record_queries call; repeat for several (default 1000 and 10000).",
    )
    parser.add_argument("--seed", type=int, default=6962)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed part.")
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.entries < 1:
        parser.error("--entries must be at least 1")
    if args.child:
        args.batch = args.batch[0]
        return run_child(args)

    batches = args.batch or [1000, 10_000]
    database_url = os.environ.get("DATABASE_URL", "")
    info = machine_info()
    print("Sightline bulk recording: record_queries in-process vs raw executemany, same rows")
    print_machine(info)
    print(
        f"data:    {args.entries:,} parsed queries (demo mix, seed {args.seed}), "
        f"batches of {', '.join(map(str, batches))}; each run in a fresh database"
    )
    results = [run_backend(args, "sqlite", batch, None) for batch in batches]
    if database_url:
        import psycopg

        name = f"sightline_bench_record_{os.getpid()}"
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        try:
            for batch in batches:
                bench_url = with_database(database_url, name)
                results.append(run_backend(args, "postgresql", batch, bench_url))
                with psycopg.connect(database_url, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                    admin.execute(f"CREATE DATABASE {name}")
        finally:
            with psycopg.connect(database_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print()
    print(
        f"{'backend':10} {'batch':>6} {'record rows/s':>14} {'bare rows/s':>12} {'ratio':>6} "
        f"{'CPU':>6} {'indexed rows/s':>15} {'ratio':>6} {'CPU':>6}"
    )
    for r in results:
        print(
            f"{r['backend']:10} {r['batch']:>6} {r['record_rows_per_s']:>14,.0f} "
            f"{r['bare_rows_per_s']:>12,.0f} {r['bare_ratio']:>6.3f} {r['bare_cpu_ratio']:>6.3f} "
            f"{r['indexed_rows_per_s']:>15,.0f} {r['indexed_ratio']:>6.3f} "
            f"{r['indexed_cpu_ratio']:>6.3f}"
        )
    print(
        "ratio = record_queries rows/s / raw executemany rows/s of the same rows, same run; "
        "CPU = raw CPU s / record CPU s.\n"
        f"bare = the columns only (issue 13's import baseline: import+reconcile >= {API_GOAL} of "
        "it); indexed = the same schema and indexes"
    )
    if args.json:
        print(json.dumps({"benchmark": "record", "results": results, **info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
