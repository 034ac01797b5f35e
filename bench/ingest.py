"""Ingest throughput: POST /api/v1/queries/ on a live server versus raw sqlite3 inserts.

    .venv/bin/python bench/ingest.py [--entries 100000] [--server gunicorn|runserver] [--json]

1. A fresh SQLite database in a temporary directory is migrated and given an agency, operators
   and one integration (its API key).
2. N realistic queries are generated and encoded as JSON arrays of 1000 BEFORE timing.
3. A live server is started on a free port: by default gunicorn (the production WSGI server in
   requirements.txt) with one sync worker, DEBUG off, the same settings as production except the
   HTTPS redirect. One client posts the arrays sequentially over http.client.
4. The rows the server wrote to audit_querylogentry are read back and inserted with
   `sqlite3.executemany`, 1000 per transaction, into a table of the same schema and indexes (copied
   from sqlite_master) in a fresh WAL database with the same PRAGMAs. Same data, same disk.

Both rates (entries/s) and their ratio HTTP/raw are printed: the ratio is what to compare across
machines, because both sides run in the same process, on the same machine, minutes apart.
"""

import argparse
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    QueryFactory,
    free_port,
    machine_info,
    print_machine,
    setup_django,
    wait_until_up,
)

BATCH = 1000
GOAL, STRETCH = 0.10, 0.20
TABLE = "audit_querylogentry"


def server_command(kind: str, port: int) -> tuple[list[str], str]:
    if kind == "gunicorn":
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--log-level",
            "warning",
        ]
        return cmd, "gunicorn, 1 sync worker, DEBUG=0"
    cmd = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    return cmd, "manage.py runserver --noreload, DEBUG=0"


def process_tree_cpu(root: int) -> float | None:
    """CPU seconds (user + system) used so far by process `root` and its children (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    found = False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid = int(stat.parent.name)
            # Fields after the ")" closing the command name: state, ppid, ..., utime, stime.
            fields = stat.read_text().rpartition(")")[2].split()
        except (OSError, ValueError):
            continue
        if pid == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / tick
            found = True
    return total if found else None


def post_all(port: int, key: str, bodies: list[bytes]) -> tuple[float, list[float], int]:
    """POST every body sequentially on one keep-alive connection; returns (seconds, latencies).

    gunicorn's sync worker answers `Connection: close`; http.client then reconnects by itself
    (a loopback connect, negligible next to a 1000-entry request).
    """
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Api-Key {key}",
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies = []
    recorded = 0
    started = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/queries/", body, headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 201:
            raise RuntimeError(f"POST answered {response.status}: {payload[:500]!r}")
        recorded += len(json.loads(payload)["results"])
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, latencies, recorded


def raw_insert(server_db: Path, raw_db: Path, batch: int) -> tuple[float, float, int]:
    """Copy the server's entries into a fresh table of the same schema with executemany."""
    source = sqlite3.connect(server_db)
    schema = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index') "
            "AND sql IS NOT NULL ORDER BY type = 'index'",
            (TABLE,),
        )
    ]
    rows = source.execute(f"SELECT * FROM {TABLE} ORDER BY sequence").fetchall()
    source.close()

    conn = sqlite3.connect(raw_db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for sql in schema:
        conn.execute(sql)
    placeholders = ", ".join("?" * len(rows[0]))
    insert = f"INSERT INTO {TABLE} VALUES ({placeholders})"
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")  # as the server's transactions (transaction_mode)
        conn.executemany(insert, rows[start : start + batch])
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return elapsed, cpu, len(rows)


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="How many to load.")
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn")
    parser.add_argument("--seed", type=int, default=6962)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.entries < 1:
        parser.error("--entries must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="sightline-bench-ingest-"))
    data_dir = tmp / "data"
    proc = None
    try:
        setup_django(data_dir)
        from django.db import connections

        from bench.common import ensure_reference_data

        _, key = ensure_reference_data()
        info = machine_info()
        print("Sightline ingest benchmark: POST /api/v1/queries/ vs raw sqlite3 executemany")
        print_machine(info)

        factory = QueryFactory(args.seed, total=args.entries)
        bodies = []
        for start in range(0, args.entries, BATCH):
            items = factory.batch(start, min(BATCH, args.entries - start))
            bodies.append(json.dumps(items).encode())
        connections.close_all()
        mean_body = sum(map(len, bodies)) / len(bodies)
        print(
            f"payload: {args.entries} queries in {len(bodies)} arrays of up to {BATCH} "
            f"(mean body {mean_body / 1024:.0f} KiB), generated before timing"
        )

        port = free_port()
        cmd, described = server_command(args.server, port)
        proc = subprocess.Popen(cmd, cwd=REPO, env=os.environ.copy())
        wait_until_up(port, proc)
        print(f"server:  {described}, SQLite WAL synchronous=NORMAL, {data_dir}")

        server_cpu0, client_cpu0 = process_tree_cpu(proc.pid), time.process_time()
        http_s, latencies, recorded = post_all(port, key, bodies)
        client_cpu = time.process_time() - client_cpu0
        server_cpu1 = process_tree_cpu(proc.pid)
        server_cpu = None if server_cpu0 is None else server_cpu1 - server_cpu0
        proc.terminate()
        proc.wait(timeout=30)
        proc = None

        server_db = data_dir / "db.sqlite3"
        nodes = count(server_db, "audit_merklenode")
        heads = count(server_db, "audit_signedtreehead")
        raw_s, raw_cpu, raw_rows = raw_insert(server_db, tmp / "raw.sqlite3", BATCH)

        http_rate = recorded / http_s
        raw_rate = raw_rows / raw_s
        ratio = http_rate / raw_rate
        lat_ms = sorted(x * 1000 for x in latencies)
        p95 = lat_ms[min(len(lat_ms) - 1, int(0.95 * len(lat_ms)))]
        print()
        print(
            f"HTTP ingest:      {recorded} entries in {http_s:.2f} s = {http_rate:,.0f} entries/s"
            f"  (per POST of {BATCH}: median {statistics.median(lat_ms):.1f} ms, "
            f"p95 {p95:.1f} ms)"
        )
        print(f"                  server also wrote {nodes} Merkle nodes and {heads} tree heads")
        print(
            f"raw executemany:  {raw_rows} entries in {raw_s:.2f} s = {raw_rate:,.0f} entries/s"
            f"  ({BATCH} per transaction, same schema and indexes, entry rows only)"
        )
        cpu_ratio = None
        if server_cpu:
            cpu_ratio = raw_cpu / (server_cpu + client_cpu)
            print(
                f"CPU time:         HTTP {server_cpu:.1f} s server + {client_cpu:.1f} s client, "
                f"raw {raw_cpu:.1f} s; CPU-time ratio raw/HTTP {cpu_ratio:.3f} "
                "(cross-check, less sensitive to other load)"
            )
        verdict = (
            "stretch met" if ratio >= STRETCH else "goal met" if ratio >= GOAL else "below goal"
        )
        print(
            f"ratio HTTP/raw:   {ratio:.3f}  (goal >= {GOAL:.2f}, stretch >= {STRETCH:.2f}: "
            f"{verdict})"
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "benchmark": "ingest",
                        "entries": recorded,
                        "batch": BATCH,
                        "server": args.server,
                        "http_seconds": round(http_s, 3),
                        "http_entries_per_s": round(http_rate, 1),
                        "post_median_ms": round(statistics.median(lat_ms), 2),
                        "post_p95_ms": round(p95, 2),
                        "raw_seconds": round(raw_s, 3),
                        "raw_entries_per_s": round(raw_rate, 1),
                        "ratio": round(ratio, 4),
                        "server_cpu_seconds": None if server_cpu is None else round(server_cpu, 2),
                        "client_cpu_seconds": round(client_cpu, 2),
                        "raw_cpu_seconds": round(raw_cpu, 2),
                        "cpu_ratio": None if cpu_ratio is None else round(cpu_ratio, 4),
                        "goal": GOAL,
                        "stretch": STRETCH,
                        "merkle_nodes": nodes,
                        "tree_heads": heads,
                        **info,
                    }
                )
            )
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
