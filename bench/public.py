"""Public home page throughput: GET / (cached) against a static file on the same gunicorn, with wrk.

    .venv/bin/python bench/public.py [--entries 1000000] [--db-dir DIR | --keep DIR]
                                     [--seconds 20] [--rounds 2] [--workers 2] [--threads 2]
                                     [--connections 16] [--new-entries 100] [--reset-public-rollup]
                                     [--access-log]
                                     [--profile] [--json]

1. A SQLite database of N entries: `--db-dir DIR` uses a prepared data directory as it is
   (db.sqlite3 with its secret, signing and target keys, e.g. a copy of one made by
   `bench/verify.py --keep`; the benchmark writes to it, so point it at a copy); `--keep DIR`
   builds or tops up the log in DIR as bench/verify.py does (through
   `audit.log.services.record_queries`, 1000 parsed queries per call); without either, a temporary
   directory is built (about 20 minutes at 1M entries here). The demo spending (contracts and
   expenditures, `reports.demo.seed_spending`) is loaded if the database has no contracts, and a
   tree head is published if the log grew past the latest one. `collectstatic` runs into a
   temporary STATIC_ROOT. None of this is timed. `--reset-public-rollup` empties the public
   rollup first, so the first request recounts the whole log (the cold case) on a reused database.
2. gunicorn (the production WSGI server) with `--workers` sync workers (default 2, one per core
   here), DEBUG off, the production settings and whitenoise serving the collected static files;
   only the HTTPS redirect is off (plain HTTP on 127.0.0.1) and ALLOWED_HOSTS=127.0.0.1. The
   worker timeout is off (the cold first request can take minutes at 1M). gunicorn.conf.py is not
   used: the access log is off unless --access-log (then it goes to a file), so neither side
   pays for writing it.
3. The first `GET /` after the head is timed on its own ("first request after a new head, cold"):
   it brings the public rollup up to the head and renders the page. Then a few concurrent
   requests warm every worker's page cache (LocMem: one copy per worker process).
4. wrk on loopback (`wrk -t2 -c16 -d20s --latency` by default), alternating: the site's
   stylesheet as the page links it (a collected static file, served by whitenoise), then `/`,
   for `--rounds` rounds. Per run: requests/s, p50/p99 latency, non-2xx responses and socket
   errors, bytes per response (must match one 200 response of that URL, so redirects or error
   pages cannot pass unnoticed), and the server's CPU time per request (gunicorn's workers, from
   /proc). After each `/` run follow-up requests must answer 200 with `X-Page-Cache: hit`.
   **Ratio = requests/s of `/` / requests/s of the static file, per round and the median.
   Goal >= 0.3.** The CPU-time ratio (server CPU per static request / per `/` request) is the
   cross-check that other load on the machine moves less.
5. Invalidation, once: `--new-entries` queries are recorded and a new head is published; the next
   `GET /` must be a miss that shows the new size. Its time is what a visitor pays once per head
   (the rollup only counts the new entries; the page is rendered again).

`--profile` then serves `/` in-process (django.test.Client, same settings) from the cache and
prints where a cache hit's time goes: the whole request, the head-size query, the cache lookup,
the database queries per request, a static file through the same stack, and a cProfile listing.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    free_port,
    machine_info,
    print_machine,
    setup_django,
    wait_until_up,
)

RATIO_GOAL = 0.3
PY = sys.executable
FOLLOW_UPS = 4


# --- Preparing the data -------------------------------------------------------------------------


def prepare(entries: int, build_allowed: bool, seed: int, reset_rollup: bool) -> dict:
    """Log, spending, head and static files; returns facts about the database (nothing timed)."""
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from audit.models import LogState
    from audit.transparency import selectors
    from audit.transparency.services import publish_tree_head
    from reports import demo
    from reports.models import Contract, Expenditure, PublicRollup, PublicRollupState

    facts: dict = {"built": 0, "build_seconds": 0.0}
    state = LogState.objects.filter(id=1).first()
    size = state.size if state else 0
    if size < entries and build_allowed:
        from bench.verify import build

        facts["built"], facts["build_seconds"] = build(entries, seed)
    if not Contract.objects.exists():
        facts["spending_rows"] = demo.seed_spending(today=timezone.localdate())
    head = publish_tree_head(force=True)
    facts["published_head"] = head.tree_size if head else None
    if reset_rollup:
        PublicRollup.objects.all().delete()
        PublicRollupState.objects.filter(id=1).delete()
    rollup = PublicRollupState.objects.filter(id=1).first()
    facts.update(
        entries=LogState.objects.get(id=1).size,
        head_size=selectors.latest_tree_head().tree_size,
        rollup_size=rollup.tree_size if rollup else 0,
        contracts=Contract.objects.count(),
        expenditures=Expenditure.objects.count(),
    )
    call_command("collectstatic", interactive=False, verbosity=0)
    connections.close_all()
    return facts


def record_and_publish(count: int, seed: int) -> int:
    """Record `count` realistic queries (as the API does) and publish a head; returns its size."""
    from django.db import connections

    from audit.log.parsing import parse_queries
    from audit.log.services import record_queries, technology_query_types
    from audit.models import LogState
    from audit.transparency import selectors
    from audit.transparency.services import publish_tree_head
    from bench.common import AGENCY, QueryFactory, ensure_reference_data

    integration, _ = ensure_reference_data()
    size = LogState.objects.get(id=1).size
    factory = QueryFactory(seed + size, total=size + count)
    queries, _ = parse_queries(
        factory.batch(size, count),
        technologies=technology_query_types(),
        default_agency=AGENCY,
    )
    record_queries(integration=integration, queries=queries)
    # record_queries may already have published one (a head is due after each interval).
    publish_tree_head()
    head = selectors.latest_tree_head()
    connections.close_all()
    if head is None or head.tree_size != size + count:
        raise RuntimeError(f"No head of size {size + count} was published after recording.")
    return head.tree_size


# --- The server ---------------------------------------------------------------------------------


def start_server(
    port: int,
    workers: int,
    work_dir: Path,
    access_log: bool,
    env: dict,
):
    config = work_dir / "gunicorn-bench.conf.py"
    config.write_text("# bench/public.py: gunicorn's defaults; options on the command line\n")
    cmd = [
        PY, "-m", "gunicorn", "portal.wsgi", "-c", str(config), "-b", f"127.0.0.1:{port}",
        "-w", str(workers), "-k", "sync", "--timeout", "0", "--log-level", "warning",
    ]  # fmt: skip
    if access_log:
        cmd += ["--access-logfile", str(work_dir / "access.log")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    wait_until_up(port, proc, ready=lambda: len(worker_pids(proc.pid)) == workers)
    described = (
        f"gunicorn, {workers} sync worker{'s' if workers != 1 else ''}, worker timeout off, "
        f"access log {'on (file)' if access_log else 'off'}, DEBUG=0, whitenoise"
    )
    return proc, described


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET on a raw socket: (status, headers, the whole response as sent, headers included).

    The raw bytes are what wrk counts per response, so they give the size to expect."""
    with socket.create_connection(("127.0.0.1", port), timeout=900) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        chunks = []
        while block := sock.recv(65536):
            chunks.append(block)
    raw = b"".join(chunks)
    head, _, _ = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, raw


def body(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


def warm(port: int, threads: int = 4, each: int = 10) -> dict[str, int]:
    """Concurrent GET / so every worker renders and caches the page; counts hits and misses."""
    seen = {"hit": 0, "miss": 0, "other": 0}
    lock = threading.Lock()

    def run():
        for _ in range(each):
            status, headers, _ = fetch(port, "/")
            key = headers.get("x-page-cache", "other") if status == 200 else "other"
            with lock:
                seen[key if key in seen else "other"] += 1

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return seen


# --- wrk ----------------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}
SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def run_wrk(port: int, path: str, args, pids: list[int]) -> dict:
    url = f"http://127.0.0.1:{port}{path}"
    cmd = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
        url,
    ]  # fmt: skip
    load = os.getloadavg()[0]
    cpu0 = cpu_seconds(pids)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    server_cpu = cpu_seconds(pids) - cpu0
    found = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+)(B|KB|MB|GB|TB) read", out)
    if not found:
        raise RuntimeError(f"Unexpected wrk output:\n{out}")
    requests = int(found.group(1))
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "path": path,
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "bytes_per_response": float(found.group(3)) * SIZES[found.group(4)] / max(requests, 1),
        "p50_ms": ms(latency["50"]),
        "p99_ms": ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": dict(
            zip(
                ("connect", "read", "write", "timeout"),
                map(int, socket_errors.groups()) if socket_errors else (0, 0, 0, 0),
                strict=True,
            )
        ),
        "server_cpu": server_cpu,
        "cpu_us_per_request": server_cpu / max(requests, 1) * 1e6,
        "load_avg": round(load, 2),
        "command": " ".join(cmd),
    }


def wrk_pair(
    name: str, port: int, pids: list[int], static_path: str, sizes: dict, args, problems: list
) -> dict:
    """wrk on the static file, then on /; checks every response; returns both runs and ratios."""
    pair = {}
    for label, path in (("static", static_path), ("page", "/")):
        run = run_wrk(port, path, args, pids)
        pair[label] = run
        errors = sum(run["socket_errors"].values())
        size_ok = abs(run["bytes_per_response"] - sizes[path]) <= 0.02 * sizes[path]
        print(
            f"  {name} {label:6} {path:42.42} {run['rps']:9,.1f} req/s  "
            f"p50 {run['p50_ms']:6.2f} ms  p99 {run['p99_ms']:7.2f} ms  "
            f"{run['requests']:,} requests, non-2xx {run['non_2xx']}, socket errors "
            f"{errors}, {run['bytes_per_response']:,.0f} B/response, server CPU "
            f"{run['cpu_us_per_request']:,.0f} us/request, load {run['load_avg']:.2f}"
        )
        if run["non_2xx"]:
            problems.append(f"{name} {label}: {run['non_2xx']} non-2xx responses")
        if not size_ok:
            problems.append(
                f"{name} {label}: {run['bytes_per_response']:,.0f} bytes per "
                f"response, expected {sizes[path]:,} (a different response)"
            )
        if errors:
            problems.append(f"{name} {label}: socket errors {run['socket_errors']}")
        if label == "page":
            for _ in range(FOLLOW_UPS):
                status, headers, _ = fetch(port, "/")
                if status != 200 or headers.get("x-page-cache") != "hit":
                    problems.append(
                        f"{name}: follow-up GET / answered {status}, "
                        f"X-Page-Cache {headers.get('x-page-cache')}"
                    )
    pair["ratio"] = pair["page"]["rps"] / pair["static"]["rps"]
    pair["cpu_ratio"] = pair["static"]["cpu_us_per_request"] / pair["page"]["cpu_us_per_request"]
    print(
        f"  {name} ratio / : static = {pair['ratio']:.3f}  (CPU-time ratio {pair['cpu_ratio']:.3f})"
    )
    return pair


def run_summary(pair: dict) -> dict:
    out = {
        label: {
            k: (round(v, 3) if isinstance(v, float) else v)
            for k, v in pair[label].items()
            if k != "command"
        }
        for label in ("static", "page")
    }
    return out | {"ratio": round(pair["ratio"], 4), "cpu_ratio": round(pair["cpu_ratio"], 4)}


# --- In-process profile of a cache hit ----------------------------------------------------------


def profile_hit(static_path: str, calls: int, top: int) -> dict:
    """Where a cache-hit GET / spends its time, in this process with the server's settings.

    Figures are CPU microseconds per call (best of 3 batches of `calls`): CPU time moves less than
    wall time when other processes share the cores. django.test.Client keeps the database
    connection open between requests; gunicorn's worker closes it after each (CONN_MAX_AGE 0),
    so "GET / + reconnect" closes it after every request as the server does.
    """
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client, override_settings

    from reports import views

    def per_call(function) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(calls):
                function()
            best = min(best, time.process_time() - started)
        return best / calls * 1e6

    def hit_client(middleware=None) -> Client:
        client = Client(HTTP_HOST="127.0.0.1")
        for _ in range(5):
            response = client.get("/")
        if response.status_code != 200 or response.get("X-Page-Cache") != "hit":
            raise RuntimeError("In-process GET / was not a 200 cache hit.")
        return client

    client = hit_client()
    sqls: list[str] = []

    def record(execute, sql, params, many, context):
        sqls.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        page = client.get("/")

    def page_reconnect():
        client.get("/")
        connection.close()

    def reconnect():
        connection.close()
        connection.ensure_connection()

    key = "public-page:bench-probe"
    cache.set(key, (page.content, {"Content-Type": page["Content-Type"]}), 300)
    result = {
        "calls": calls,
        "page_us": per_call(lambda: client.get("/")),
        "page_reconnect_us": per_call(page_reconnect),
        "static_us": per_call(lambda: b"".join(client.get(static_path).streaming_content)),
        "version_us": per_call(views._public_version),
        "connect_us": per_call(reconnect),
        "cache_get_us": per_call(lambda: cache.get(key)),
        "queries_per_hit": sqls,
        "page_bytes": len(page.content),
    }
    # The same hit with only the middleware the page cannot do without (whitenoise for static,
    # sessions + auth for request.user, locale for the language): what the rest costs.
    essential = [
        m
        for m in settings.MIDDLEWARE
        if m.rsplit(".", 1)[-1]
        in {"WhiteNoiseMiddleware", "SessionMiddleware", "LocaleMiddleware",
            "AuthenticationMiddleware"}
    ]  # fmt: skip
    with override_settings(MIDDLEWARE=essential):
        minimal = hit_client()
        result["page_essential_middleware_us"] = per_call(lambda: minimal.get("/"))
        result["essential_middleware"] = essential
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        page_reconnect()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    result["report"] = out.getvalue()
    return result


# --- Main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="Log size N.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db-dir", type=Path, help="Prepared data directory, used as it is.")
    where.add_argument("--keep", type=Path, help="Data directory to build in and reuse.")
    parser.add_argument("--seconds", type=int, default=20, help="Length of each wrk run.")
    parser.add_argument("--rounds", type=int, default=2, help="Static-then-page rounds.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t).")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (-c).")
    parser.add_argument(
        "--new-entries", type=int, default=100, help="Entries recorded before the new head."
    )
    parser.add_argument(
        "--reset-public-rollup",
        action="store_true",
        help="Empty the public rollup first, so the first request recounts the whole log.",
    )
    parser.add_argument("--access-log", action="store_true", help="gunicorn access log to a file.")
    parser.add_argument("--profile", action="store_true", help="Profile a cache hit in-process.")
    parser.add_argument("--profile-calls", type=int, default=500)
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--seed", type=int, default=9162)
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.entries < 1 or args.seconds < 1 or args.rounds < 1 or args.workers < 1:
        parser.error("--entries, --seconds, --rounds and --workers must be at least 1")
    if args.new_entries < 1:
        parser.error("--new-entries must be at least 1")
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    if args.db_dir and not (args.db_dir / "db.sqlite3").exists():
        parser.error(f"--db-dir {args.db_dir}: no db.sqlite3 there")

    work = Path(tempfile.mkdtemp(prefix="sightline-bench-public-"))
    data_dir = (args.db_dir or args.keep or work / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["STATIC_ROOT"] = str(work / "static")
    setup_django(data_dir)  # configure_environment + migrate
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    env = dict(os.environ)
    proc = None
    try:
        info = machine_info()
        print(
            "Sightline public page benchmark: GET / (page cache) vs a static file, wrk on loopback"
        )
        print_machine(info)
        facts = prepare(args.entries, args.db_dir is None, args.seed, args.reset_public_rollup)
        db = data_dir / "db.sqlite3"
        if facts["built"]:
            print(
                f"build:   {facts['built']} entries in {facts['build_seconds']:.0f} s "
                f"({facts['built'] / facts['build_seconds']:,.0f}/s)"
            )
        print(
            f"data:    {facts['entries']:,} entries in {db} "
            f"({db.stat().st_size / 2**20:,.0f} MiB), "
            f"head at {facts['head_size']:,}, public rollup at {facts['rollup_size']:,}; "
            f"{facts['contracts']} contracts, {facts['expenditures']} expenditures"
            + (" (demo spending loaded)" if "spending_rows" in facts else "")
        )
        if facts["entries"] != args.entries:
            print(f"note:    the database holds {facts['entries']:,} entries, not {args.entries:,}")

        port = free_port()
        proc, described = start_server(port, args.workers, work, args.access_log, env)
        pids = worker_pids(proc.pid)
        print(f"server:  {described}; workers {pids}")

        started = time.perf_counter()
        status, headers, raw = fetch(port, "/")
        cold_s = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"GET / answered {status}: {body(raw)[:300]!r}")
        print(
            f"cold:    first request after a new head (rollup {facts['rollup_size']:,} -> "
            f"{facts['head_size']:,}): {cold_s:.2f} s, X-Page-Cache {headers.get('x-page-cache')}"
        )
        found = re.search(rb'<link rel="stylesheet" href="(/static/[^"]+\.css)"', body(raw))
        if not found:
            raise RuntimeError("The home page links no stylesheet under /static/.")
        static_path = found.group(1).decode()
        warmed = warm(port)
        print(f"warm-up: 40 concurrent GET /: {warmed['hit']} hits, {warmed['miss']} misses")
        sizes = {}
        for path in (static_path, "/"):
            status, headers, raw = fetch(port, path)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
            sizes[path] = len(raw)
            print(
                f"target:  {path}: {len(body(raw)):,} bytes of body, {len(raw):,} with headers "
                f"({headers.get('content-type')}"
                + (f", X-Page-Cache {headers.get('x-page-cache')}" if path == "/" else "")
                + ")"
            )

        print()
        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s --latency, alternating:"
        )
        problems: list[str] = []
        rounds = []
        for number in range(1, args.rounds + 1):
            rounds.append(
                wrk_pair(f"round {number}", port, pids, static_path, sizes, args, problems)
            )
        ratio = statistics.median(r["ratio"] for r in rounds)
        cpu_ratio = statistics.median(r["cpu_ratio"] for r in rounds)
        verdict = "goal met" if ratio >= RATIO_GOAL else "below goal"
        print(
            f"ratio / : static (median of {len(rounds)}): {ratio:.3f}  "
            f"(goal >= {RATIO_GOAL}: {verdict}); CPU-time ratio {cpu_ratio:.3f}"
        )
        print(
            f"cache:   every follow-up GET / after a wrk run was a 200 hit: "
            f"{'yes' if not any('follow-up' in p for p in problems) else 'NO'}"
        )

        print()
        new_size = record_and_publish(args.new_entries, args.seed)
        started = time.perf_counter()
        status, headers, raw = fetch(port, "/")
        new_head_s = time.perf_counter() - started
        shows = f"{new_size:,}".encode() in body(raw)
        after = [fetch(port, "/")[1].get("x-page-cache") for _ in range(6)]
        print(
            f"new head: {args.new_entries} entries recorded, head {new_size:,} published; "
            f"next GET / {status}, X-Page-Cache {headers.get('x-page-cache')}, "
            f"shows {new_size:,}: {'yes' if shows else 'NO'}; "
            f"first request after the new head (warm rollup): {new_head_s * 1000:,.0f} ms; "
            f"next 6: {', '.join(str(a) for a in after)}"
        )
        if status != 200 or headers.get("x-page-cache") != "miss" or not shows:
            problems.append("publishing a new head did not give a fresh page")

        proc.terminate()
        proc.wait(timeout=30)
        proc = None

        profile = None
        if args.profile:
            profile = profile_hit(static_path, args.profile_calls, args.profile_top)
            print()
            print(
                f"in-process, CPU us per call (best of 3 x {profile['calls']}; "
                "django.test.Client, same settings):"
            )
            print(f"  GET / cache hit, connection kept open    {profile['page_us']:8,.0f}")
            print(
                f"  GET / cache hit, reconnect each request    {profile['page_reconnect_us']:8,.0f}"
            )
            print(
                f"  GET / hit, essential middleware only     "
                f"{profile['page_essential_middleware_us']:8,.0f}"
            )
            print(f"  GET {static_path} (whitenoise)  {profile['static_us']:8,.0f}")
            print(f"  open a database connection              {profile['connect_us']:8,.0f}")
            print(f"  _public_version() (the cache's version) {profile['version_us']:8,.0f}")
            print(
                f"  cache.get of the page ({profile['page_bytes']:,} bytes)    "
                f"{profile['cache_get_us']:8,.0f}"
            )
            print(f"  queries per hit: {len(profile['queries_per_hit'])}")
            for sql in profile["queries_per_hit"]:
                print(f"    {sql[:160]}")
            print(profile["report"])

        for problem in problems:
            print(f"FAILED: {problem}")
        if args.json:
            result = {
                "benchmark": "public",
                "entries": facts["entries"],
                "workers": args.workers,
                "wrk": f"-t{args.threads} -c{args.connections} -d{args.seconds}s",
                "static_path": static_path,
                "response_bytes": {"static": sizes[static_path], "page": sizes["/"]},
                "cold_first_request_s": round(cold_s, 3),
                "rollup_before": facts["rollup_size"],
                "rounds": [run_summary(pair) for pair in rounds],
                "ratio": round(ratio, 4),
                "cpu_ratio": round(cpu_ratio, 4),
                "ratio_goal": RATIO_GOAL,
                "new_head_size": new_size,
                "new_head_first_request_ms": round(new_head_s * 1000, 1),
                "new_head_miss": headers.get("x-page-cache") == "miss",
                "problems": problems,
                **info,
            }
            if profile is not None:
                result["profile"] = {
                    k: (round(v, 1) if isinstance(v, float) else v)
                    for k, v in profile.items()
                    if k != "report"
                }
            print(json.dumps(result))
        return 1 if problems else 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        if args.keep:
            print(f"kept {data_dir}")


if __name__ == "__main__":
    sys.exit(main())
