"""Mixed load on `make serve` with PostgreSQL: ingest throughput alone and beside public readers.

    .venv/bin/python bench/load.py [--seconds 60] [--ingest-clients 4] [--readers 8]
                                   [--batch 100] [--pg-url postgres://postgres@127.0.0.1:5432]
                                   [--rounds 3] [--workers N] [--json]

1. The database `sightline_load` is dropped and created fresh on the PostgreSQL at --pg-url.
   `make serve` starts on a free loopback port with a generated SECRET_KEY, a temporary data
   directory and STATIC_ROOT, SECURE_SSL_REDIRECT=0 (plain HTTP on 127.0.0.1) and the ingest
   rate limit raised out of the way (SIGHTLINE_INGEST_RATE), so the server's capacity is measured.
   Its worker count is make serve's own (2 x cores + 1) unless --workers sets WEB_CONCURRENCY.
2. The BPD agency, its operators and one integration per ingest client (four consoles) are
   created. Each client's pool of realistic queries (bench/common.py's QueryFactory) is built
   before timing; every request gets fresh, unique client_refs.
3. Untimed warm-up: each client posts two arrays, each endpoint is read once.
4. Baseline: the ingest clients alone, each posting arrays of --batch in a closed loop.
5. Mixed: the same ingest clients plus the readers, each fetching `/`, `/api/v1/stats/` and
   `/api/v1/log/tree-head` in turn in a closed loop (no think time).
   Each phase lasts --seconds in all. They alternate in --rounds rounds (default 3: alone 20 s,
   mixed 20 s, three times), so a change in the machine's other load hits both phases alike;
   `--rounds 1` runs one 60-s baseline and then one 60-s mixed phase.
6. The server is stopped; the entries it holds must equal the entries the clients were told were
   recorded, and `manage.py verify_log` must pass.

Clients are separate processes (http.client), so the GIL does not serialise them. Any non-2xx
answer or exception is an error; the first few are shown. Prints entries/s and requests/s,
p50/p99 latency per endpoint, CPU seconds (server tree, clients), how busy the machine's CPUs
were, and ratio = mixed ingest entries/s / alone ingest entries/s (goal: zero errors, >= 0.5).
"""

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, QueryFactory, free_port, machine_info, print_machine, wait_until_up

DB_NAME = "sightline_load"
READ_PATHS = ("/", "/api/v1/stats/", "/api/v1/log/tree-head")
INGEST_PATH = "/api/v1/queries/"
POOL_PER_CLIENT = 10_000  # distinct generated queries per ingest client, reused with new refs
# Built in the parent before the client processes fork, so no client generates while timed.
QUERY_POOLS: list[list[dict]] = []
GOAL_RATIO = 0.5
SHOWN_ERRORS = 5


# --- the server -------------------------------------------------------------------------------


def psql(pg_url: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", f"{pg_url}/postgres", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout.strip()


def server_env(args, tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"{args.pg_url}/{DB_NAME}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HOST="127.0.0.1",
        PORT=str(port),
        SECURE_SSL_REDIRECT="0",
        SIGHTLINE_DATA_DIR=str(tmp / "data"),
        STATIC_ROOT=str(tmp / "static"),
        SIGHTLINE_INGEST_RATE="1000000/min",
        SIGHTLINE_REQUIRE_2FA="0",
        LOG_LEVEL="WARNING",
        GUNICORN_LOG_LEVEL="warning",
    )
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    return env


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to make serve's process group (make, gunicorn master, workers), then wait."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server.poll()
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            pid = int(stat.parent.name)
        except (OSError, ValueError):
            continue
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid, seconds in cpu.items():
        node = pid
        while node and node != root:
            node = parent.get(node, 0)
        if node == root:
            total += seconds
    return total


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving `database` (from process titles)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes()
            if not title.startswith(b"postgres:") or f" {database} ".encode() not in title:
                continue
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


class BackendCPU:
    """CPU used by the backends serving `database` between start() and the last sample().

    Django closes a connection once it is 60 s old (conn_max_age), so backends come and go
    during a phase: each one is sampled every quarter second and its last sample kept, so an
    exited backend loses at most its last quarter second; one born during the phase counts
    from zero.
    """

    def __init__(self, database: str):
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def start(self) -> None:
        self.first = backend_cpu(self.database)
        self.last = dict(self.first)

    def sample(self) -> None:
        self.last.update(backend_cpu(self.database))

    def seconds(self) -> float:
        return sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


# --- the clients (separate processes) -----------------------------------------------------------


def fetch(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def ingest_client(job: dict) -> dict:
    """Post arrays in a closed loop from start_at until end_at; returns what happened."""
    pool = QUERY_POOLS[job["client"]]
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Api-Key {job['key']}",
    }
    batch, tag = job["batch"], job["tag"]
    latencies, errors, entries, entries_total, done, late = [], [], 0, 0, 0, 0
    cpu0 = time.process_time()
    n = job["offset"]
    _sleep_until(job["start_at"])
    while time.monotonic() < job["end_at"] and (
        job["max_requests"] is None or done < job["max_requests"]
    ):
        items = []
        for _ in range(batch):
            item = dict(pool[n % POOL_PER_CLIENT], client_ref=f"{tag}-{n:09d}")
            items.append(item)
            n += 1
        body = json.dumps(items).encode()
        t0 = time.monotonic()
        try:
            status, payload = fetch(job["port"], "POST", INGEST_PATH, body, headers)
            t1 = time.monotonic()
            recorded = len(json.loads(payload)["results"]) if status == 201 else 0
            if status != 201 or recorded != batch:
                errors.append(f"POST {INGEST_PATH}: {status} {payload[:200]!r}")
        except Exception as exc:  # every failure is counted and shown
            t1, recorded = time.monotonic(), 0
            errors.append(f"POST {INGEST_PATH}: {type(exc).__name__}: {exc}")
        latencies.append(t1 - t0)
        done += 1
        entries_total += recorded
        if t1 <= job["end_at"]:
            entries += recorded
        else:
            late += 1
    return {
        "kind": "ingest",
        "latencies": {INGEST_PATH: latencies},
        "requests": done,
        "late": late,
        "entries": entries,
        "entries_total": entries_total,
        "errors": errors,
        "cpu": time.process_time() - cpu0,
    }


def read_client(job: dict) -> dict:
    """Fetch the public endpoints in turn in a closed loop from start_at until end_at."""
    latencies = {path: [] for path in READ_PATHS}
    errors, done, late = [], 0, 0
    cpu0 = time.process_time()
    turn = job["index"]
    _sleep_until(job["start_at"])
    while time.monotonic() < job["end_at"]:
        path = READ_PATHS[turn % len(READ_PATHS)]
        turn += 1
        t0 = time.monotonic()
        try:
            status, payload = fetch(job["port"], "GET", path)
            if not 200 <= status < 300:
                errors.append(f"GET {path}: {status} {payload[:200]!r}")
        except Exception as exc:
            errors.append(f"GET {path}: {type(exc).__name__}: {exc}")
        t1 = time.monotonic()
        latencies[path].append(t1 - t0)
        done += 1
        late += t1 > job["end_at"]
    return {
        "kind": "read",
        "latencies": latencies,
        "requests": done,
        "late": late,
        "entries": 0,
        "entries_total": 0,
        "errors": errors,
        "cpu": time.process_time() - cpu0,
    }


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run_slice(
    pool,
    port: int,
    keys: list[str],
    args,
    name: str,
    readers: int,
    server_pid: int,
    seconds: float,
    offset: int,
) -> dict:
    """One timed slice: the ingest clients (and `readers` readers) for `seconds`."""
    start_at = time.monotonic() + 2
    end_at = start_at + seconds
    jobs = [
        (
            ingest_client,
            {
                "port": port,
                "key": key,
                "client": i,
                "offset": offset,
                "batch": args.batch,
                "tag": f"load-{name}-{i}",
                "start_at": start_at,
                "end_at": end_at,
                "max_requests": None,
            },
        )
        for i, key in enumerate(keys)
    ]
    jobs += [
        (read_client, {"port": port, "index": i, "start_at": start_at, "end_at": end_at})
        for i in range(readers)
    ]
    pending = [pool.apply_async(func, (job,)) for func, job in jobs]
    _sleep_until(start_at)
    load0, server0, busy0 = os.getloadavg()[0], tree_cpu_seconds(server_pid), machine_busy()
    database = BackendCPU(DB_NAME)
    database.start()
    while time.monotonic() < end_at:
        time.sleep(min(0.25, max(0.0, end_at - time.monotonic())))
        database.sample()
    server1, busy1 = tree_cpu_seconds(server_pid), machine_busy()
    results = [p.get(timeout=seconds + 300) for p in pending]
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "name": name,
        "seconds": seconds,
        "results": results,
        "server_cpu": server1 - server0,
        "database_cpu": database.seconds(),
        "machine_cpu": (busy1[0] - busy0[0]) / tick,
        "machine_busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        "load_avg_at_start": load0,
    }


def merge(slices: list[dict]) -> dict:
    """The slices of one phase as if they were one phase."""
    seconds = sum(s["seconds"] for s in slices)
    return {
        "name": slices[0]["name"].rstrip("0123456789-"),
        "seconds": seconds,
        "results": [r for s in slices for r in s["results"]],
        "server_cpu": sum(s["server_cpu"] for s in slices),
        "database_cpu": sum(s["database_cpu"] for s in slices),
        "machine_cpu": sum(s["machine_cpu"] for s in slices),
        "machine_busy": sum(s["machine_busy"] * s["seconds"] for s in slices) / seconds,
        "load_avg_at_start": slices[0]["load_avg_at_start"],
    }


def slice_rate(s: dict) -> float:
    return sum(r["entries"] for r in s["results"] if r["kind"] == "ingest") / s["seconds"]


# --- reporting ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def summarize(phase: dict) -> dict:
    seconds = phase["seconds"]
    results = phase["results"]
    per_path: dict[str, list[float]] = {}
    for result in results:
        for path, values in result["latencies"].items():
            per_path.setdefault(path, []).extend(values)
    ingest = [r for r in results if r["kind"] == "ingest"]
    reads = [r for r in results if r["kind"] == "read"]
    errors = [e for r in results for e in r["errors"]]
    summary = {
        "phase": phase["name"],
        "seconds": seconds,
        "ingest_entries": sum(r["entries"] for r in ingest),
        "ingest_entries_per_s": sum(r["entries"] for r in ingest) / seconds,
        "ingest_requests_per_s": sum(r["requests"] - r["late"] for r in ingest) / seconds,
        "read_requests_per_s": sum(r["requests"] - r["late"] for r in reads) / seconds,
        "requests_per_s": sum(r["requests"] - r["late"] for r in results) / seconds,
        "errors": len(errors),
        "first_errors": errors[:SHOWN_ERRORS],
        "server_cpu_seconds": round(phase["server_cpu"], 1),
        "database_cpu_seconds": round(phase["database_cpu"], 1),
        "client_cpu_seconds": round(sum(r["cpu"] for r in results), 1),
        "other_cpu_seconds": round(
            phase["machine_cpu"]
            - phase["server_cpu"]
            - phase["database_cpu"]
            - sum(r["cpu"] for r in results),
            1,
        ),
        "machine_cpu_busy": round(phase["machine_busy"], 3),
        "load_avg_at_start": phase["load_avg_at_start"],
        "endpoints": {
            path: {
                "requests": len(values),
                "p50_ms": round(percentile(values, 0.50), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
            }
            for path, values in per_path.items()
        },
        "entries_recorded_incl_late": sum(r["entries_total"] for r in ingest),
    }
    return summary


def print_phase(title: str, s: dict) -> None:
    print(f"\n{title} ({s['seconds']:.0f} s; load average {s['load_avg_at_start']:.2f} at start)")
    print(
        f"  ingest: {s['ingest_entries']:,} entries = {s['ingest_entries_per_s']:,.0f} entries/s "
        f"({s['ingest_requests_per_s']:.1f} POST/s)"
    )
    if s["read_requests_per_s"]:
        print(f"  reads:  {s['read_requests_per_s']:.1f} requests/s")
    print(f"  all:    {s['requests_per_s']:.1f} requests/s, errors {s['errors']}")
    for path, e in s["endpoints"].items():
        method = "POST" if path == INGEST_PATH else "GET "
        print(
            f"    {method} {path:<24} {e['requests']:>6} requests  p50 {e['p50_ms']:>8.1f} ms  "
            f"p99 {e['p99_ms']:>8.1f} ms"
        )
    print(
        f"  CPU: server (make serve tree) {s['server_cpu_seconds']} s, PostgreSQL backends "
        f"{s['database_cpu_seconds']} s, clients {s['client_cpu_seconds']} s, everything else "
        f"on the machine {s['other_cpu_seconds']} s; CPUs {s['machine_cpu_busy']:.0%} busy"
    )
    for error in s["first_errors"]:
        print(f"  error: {error}")


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="Length of each phase.")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="Alternate the phases in this many rounds (alone, mixed, alone, mixed, ...) of "
        "seconds/rounds each, so load changes on the machine hit both phases alike.",
    )
    parser.add_argument("--ingest-clients", type=int, default=4)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="Queries per POST (1-1000).")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--workers", type=int, help="WEB_CONCURRENCY (default: make serve's).")
    parser.add_argument("--seed", type=int, default=6962)
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.seconds <= 0 or args.ingest_clients < 1 or args.readers < 0 or args.rounds < 1:
        parser.error(
            "--seconds, --ingest-clients and --rounds must be positive, --readers not negative"
        )
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be 1 to 1000")
    args.pg_url = args.pg_url.rstrip("/")

    tmp = Path(tempfile.mkdtemp(prefix="sightline-bench-load-"))
    server = None
    log = tmp / "serve.log"
    try:
        psql(args.pg_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        psql(args.pg_url, f"CREATE DATABASE {DB_NAME}")
        pg_version = psql(args.pg_url, "SHOW server_version")
        port = free_port()
        env = server_env(args, tmp, port)
        with log.open("wb") as out:
            server = subprocess.Popen(
                ["make", "--no-print-directory", "serve"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_up(port, server, timeout=300.0)

        # Reference data through the ORM, against the server's database, before any timing.
        os.environ.update(env, DJANGO_SETTINGS_MODULE="portal.settings")
        import django

        django.setup()
        from django.db import connections

        from audit.log import services
        from bench.common import ensure_reference_data

        integration, first_key = ensure_reference_data()
        keys = [first_key] + [
            services.create_integration(agency=integration.agency, name=f"load console {i}")[1]
            for i in range(1, args.ingest_clients)
        ]
        connections.close_all()
        workers = int(env.get("WEB_CONCURRENCY") or 2 * len(os.sched_getaffinity(0)) + 1)

        info = machine_info()
        print(
            f"Sightline load benchmark: {args.ingest_clients} ingest clients (arrays of "
            f"{args.batch}) alone, then beside {args.readers} readers"
        )
        print_machine(info)
        print(
            f"server:  make serve = gunicorn, {workers} sync workers, DEBUG=0, PostgreSQL "
            f"{pg_version} (database {DB_NAME}), 127.0.0.1:{port}"
        )
        print(f"readers: {', '.join(READ_PATHS)} in turn; every client a separate process")

        # Generated before timing, in this process: the clients inherit them when they fork.
        QUERY_POOLS[:] = [
            QueryFactory(args.seed + i, total=POOL_PER_CLIENT).batch(0, POOL_PER_CLIENT)
            for i in range(args.ingest_clients)
        ]
        slice_seconds = args.seconds / args.rounds
        print(
            f"phases:  ingest alone and beside the readers, {args.seconds:.0f} s each, alternating "
            f"in {args.rounds} round{'s' if args.rounds != 1 else ''} of {slice_seconds:.0f} s"
        )
        context = multiprocessing.get_context("fork")
        with context.Pool(args.ingest_clients + args.readers) as pool:
            # Warm-up, not timed: every worker process imports and connects before phase 1.
            warm = [
                pool.apply_async(
                    ingest_client,
                    (
                        {
                            "port": port,
                            "key": key,
                            "client": i,
                            "offset": 0,
                            "batch": args.batch,
                            "tag": f"load-warm-{i}",
                            "start_at": 0,
                            "end_at": float("inf"),
                            "max_requests": 2,
                        },
                    ),
                )
                for i, key in enumerate(keys)
            ]
            warm_results = [w.get(timeout=600) for w in warm]
            for path in READ_PATHS:
                fetch(port, "GET", path)
            slices = {"alone": [], "mixed": []}
            for round_ in range(args.rounds):
                for name, readers in (("alone", 0), ("mixed", args.readers)):
                    slices[name].append(
                        run_slice(
                            pool, port, keys, args, f"{name}-{round_}", readers, server.pid,
                            slice_seconds, offset=(2 * round_ + (readers > 0)) * 997,
                        )
                    )  # fmt: skip
            alone = summarize(merge(slices["alone"]))
            mixed = summarize(merge(slices["mixed"]))
            round_ratios = [
                slice_rate(m) / slice_rate(a) if slice_rate(a) else float("nan")
                for a, m in zip(slices["alone"], slices["mixed"], strict=True)
            ]

        print_phase("Ingest alone (baseline)", alone)
        print_phase(f"Ingest beside {args.readers} readers", mixed)

        stop(server)
        server = None
        expected = (
            sum(r["entries_total"] for r in warm_results)
            + alone["entries_recorded_incl_late"]
            + mixed["entries_recorded_incl_late"]
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), coalesce(max(sequence) + 1, 0) FROM audit_querylogentry"
            )
            stored, next_sequence = cursor.fetchone()
        connections.close_all()
        verify = subprocess.run(
            [sys.executable, "manage.py", "verify_log", "--no-progress"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        verified = verify.returncode == 0
        total_errors = alone["errors"] + mixed["errors"]
        ratio = mixed["ingest_entries_per_s"] / alone["ingest_entries_per_s"]
        print()
        print(
            f"log:     {stored:,} entries stored, sequences 0..{next_sequence - 1} "
            f"({'gapless' if stored == next_sequence else 'GAPS'}); clients were told "
            f"{expected:,} were recorded ({'equal' if stored == expected else 'DIFFERENT'})"
        )
        print(f"verify_log: {(verify.stdout or verify.stderr).strip().splitlines()[-1]}")
        print(f"errors:  {total_errors} (goal 0: {'met' if total_errors == 0 else 'missed'})")
        print(
            f"ratio mixed/alone ingest entries/s: {ratio:.3f}  (goal >= {GOAL_RATIO}: "
            f"{'met' if ratio >= GOAL_RATIO else 'missed'}); per round: "
            + ", ".join(f"{r:.3f}" for r in round_ratios)
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "benchmark": "load",
                        "workers": workers,
                        "batch": args.batch,
                        "ingest_clients": args.ingest_clients,
                        "readers": args.readers,
                        "postgresql": pg_version,
                        "alone": {k: v for k, v in alone.items() if k != "first_errors"},
                        "mixed": {k: v for k, v in mixed.items() if k != "first_errors"},
                        "ratio": round(ratio, 4),
                        "rounds": args.rounds,
                        "round_ratios": [round(r, 4) for r in round_ratios],
                        "errors": total_errors,
                        "stored": stored,
                        "expected": expected,
                        "verify_log_ok": verified,
                        **info,
                    }
                )
            )
        return 0
    except Exception:
        if log.exists():
            print("--- make serve log (last 30 lines) ---", file=sys.stderr)
            print(*log.read_text(errors="replace").splitlines()[-30:], sep="\n", file=sys.stderr)
        raise
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
