"""CSV export throughput: GET /audit/export/?format=csv on a live server vs a raw sqlite3 cursor.

    .venv/bin/python bench/export.py [--entries 1000000] [--keep DIR] [--server gunicorn|runserver]
                                     [--worker-timeout 0] [--profile] [--json]

1. A SQLite database of N entries is built with `manage.py seed_demo --queries N` (the demo data:
   entries recorded through `audit.log.services.record_queries`, with flags, outcomes and the users
   `auditor`, `council`, `admin`) in a temporary directory, or in DIR with --keep, which is reused
   on later runs (a kept database is used as it is, whatever its size). `collectstatic` runs into
   the same directory first: with DEBUG off every page needs the static manifest. Building is
   timed and printed, never part of the figures.
2. A live server is started on a free port: by default gunicorn (the production WSGI server in
   requirements.txt) with one sync worker, DEBUG off, the production settings except the HTTPS
   redirect. gunicorn's worker timeout is switched off by default (`--worker-timeout 0`): a sync
   worker does not heartbeat while it streams, so with gunicorn's default of 30 s an export that
   takes longer is killed mid-stream.
3. The client logs in as `auditor` at /accounts/login/ (csrftoken cookie, then the form POST;
   cookies are sent by hand, as the Secure attribute only matters to browsers) and streams
   `GET /audit/export/?format=csv` (no filters: the whole log), reading 256 KiB at a time,
   counting rows and bytes and hashing the body. A thread samples the worker's VmRSS from
   /proc every 50 ms; the kernel's own high-water mark (VmHWM, reset through clear_refs just
   before the request) catches peaks between samples.
4. Baseline, in the same run with the server idle: one raw sqlite3 cursor over the same database
   file selects the same columns in sequence order (operator name and unit joined; flags,
   outcomes and the latest review through correlated subqueries on their entry indexes),
   converts the two timestamps to local ISO 8601 and neutralises formula cells as the export
   must, and writes 2000-row blocks with csv.writer into a StringIO that is encoded and
   discarded. Its bytes are hashed too (hashing time is left out of its figure): both sides
   must produce the same rows, byte for byte.

Both rates (rows/s), the ratio HTTP/raw and the worker's RSS growth are printed. The ratio is
what to compare across machines: both sides run on the same machine, minutes apart. --profile
also runs `row_chunks` + `csv_lines` (audit.workspace.exports) in-process, once plainly and
once under cProfile, and prints the top costs.
"""

import argparse
import cProfile
import csv
import hashlib
import http.client
import io
import json
import os
import pstats
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    configure_environment,
    free_port,
    machine_info,
    print_machine,
    wait_until_up,
)

RATIO_GOAL = 0.5
RSS_GOAL_MB = 64
READ_BYTES = 256 * 1024
BLOCK_ROWS = 2000
SAMPLE_SECONDS = 0.05
PY = sys.executable

# The export's columns (audit.exports.COLUMNS), and the same rows straight from SQLite.
COLUMNS = [
    "sequence", "recorded_at", "occurred_at", "technology", "query_type", "requesting_agency",
    "on_behalf_of", "operator_badge", "operator_name", "unit", "supervisor_badge",
    "offense_code", "offense_category", "case_number", "justification", "scope", "result_count",
    "target_fingerprint", "flags", "outcomes", "review_status", "leaf_hash",
]  # fmt: skip


def raw_sql() -> str:
    """The export's rows straight from SQLite; an entry's flags are the names of its mask's bits
    (audit.flags.rules.ALL_FLAGS: bit i is the i-th), joined in name order."""
    import django

    django.setup()
    from audit.flags.rules import ALL_FLAGS

    names = sorted((name, 1 << position) for position, name in enumerate(ALL_FLAGS))
    flags = " || ".join(
        f"CASE WHEN f.mask & {bit} THEN '{name};' ELSE '' END" for name, bit in names
    )
    return f"""
SELECT e.sequence, e.recorded_at, e.occurred_at, e.technology_id, e.query_type,
       e.requesting_agency_code, e.on_behalf_of, e.operator_badge,
       coalesce(o.name, ''), coalesce(o.unit, ''), e.supervisor_badge, e.offense_code,
       e.offense_category, e.case_number, e.justification, e.scope, e.result_count,
       e.target_fingerprint,
       coalesce(rtrim({flags}, ';'), ''),
       coalesce((SELECT group_concat(outcome, ';') FROM (
           SELECT q.outcome FROM audit_queryoutcome q WHERE q.entry_id = e.sequence ORDER BY q.id
       )), ''),
       coalesce((
           SELECT r.finding FROM audit_auditreview r WHERE r.entry_id = e.sequence
           ORDER BY r.id DESC LIMIT 1
       ), 'unreviewed'),
       e.leaf_hash
FROM audit_querylogentry e LEFT JOIN audit_operator o ON o.id = e.operator_id
     LEFT JOIN audit_entryflags f ON f.entry_id = e.sequence
WHERE e.sequence < ?
ORDER BY e.sequence
"""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- Building the database ----------------------------------------------------------------------


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=REPO, env=env, check=True)


def db_facts(db: Path) -> dict[str, int]:
    """Entries in the log and rows in the tables the export joins (0 when there is no log)."""
    if not db.exists():
        return {"entries": 0}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        facts = {"entries": conn.execute("SELECT size FROM audit_logstate WHERE id = 1").fetchone()}
        facts["entries"] = facts["entries"][0] if facts["entries"] else 0
        for table in ("audit_entryflags", "audit_queryoutcome", "audit_auditreview"):
            facts[table.removeprefix("audit_")] = conn.execute(
                f"SELECT count(*) FROM {table}"
            ).fetchone()[0]
        return facts
    except sqlite3.OperationalError:  # not migrated yet
        return {"entries": 0}
    finally:
        conn.close()


def prepare(data_dir: Path, entries: int, password: str, env: dict[str, str]) -> float | None:
    """collectstatic, migrate and seed_demo into `data_dir`; returns the seconds seeding took
    (None when a kept database was reused). The demo users' password is (re)set either way."""
    if not (Path(env["STATIC_ROOT"]) / "staticfiles.json").exists():
        manage("collectstatic", "--noinput", "-v0", env=env)
    manage("migrate", "--noinput", "-v0", env=env)
    seeded = db_facts(data_dir / "db.sqlite3")["entries"] == 0
    started = time.perf_counter()
    args = ["--queries", str(entries), "--demo-password", password, "--if-empty"]
    # seed_demo's progress bar goes to stderr; its summary lines are short.
    manage("seed_demo", *args, env=env)
    return time.perf_counter() - started if seeded else None


# --- The server and its memory ------------------------------------------------------------------


def server_command(kind: str, port: int, worker_timeout: int) -> tuple[list[str], str]:
    if kind == "gunicorn":
        cmd = [
            PY, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
            "--timeout", str(worker_timeout), "--log-level", "warning",
        ]  # fmt: skip
        timeout = "off" if worker_timeout == 0 else f"{worker_timeout} s"
        return cmd, f"gunicorn, 1 sync worker (worker timeout {timeout}), DEBUG=0"
    cmd = [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"]
    return cmd, "manage.py runserver --noreload --nothreading, DEBUG=0"


def worker_pid(proc: subprocess.Popen, kind: str) -> int:
    """The process that serves requests: gunicorn's (only) worker, or runserver itself."""
    if kind != "gunicorn":
        return proc.pid
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == proc.pid:
                return int(stat.parent.name)
        except (OSError, ValueError):
            continue
    raise RuntimeError("gunicorn's worker process was not found.")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":")
                found[name] = int(value.split()[0])
    return found


def reset_peak(pid: int) -> bool:
    """Reset the kernel's VmHWM of `pid` to its current RSS (Linux >= 4.0, same owner)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler(threading.Thread):
    """Samples VmRSS of `pid` every SAMPLE_SECONDS until stopped; keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak_kb = max(self.peak_kb, memory_kb(self.pid)["VmRSS"])
                self.samples += 1
            except (OSError, KeyError):
                return
            self.done.wait(SAMPLE_SECONDS)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak_kb


# --- The HTTP client ----------------------------------------------------------------------------


def request(port: int, method: str, path: str, cookies: dict[str, str], body: str | None = None):
    """One request on a fresh connection (gunicorn's sync worker closes each one).

    Returns (status, headers, body bytes); Set-Cookie values are merged into `cookies`.
    """
    headers = {"Host": f"127.0.0.1:{port}"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        payload = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                cookies[name] = morsel.value
        return response.status, response.headers, payload
    finally:
        conn.close()


def log_in(port: int, username: str, password: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    status, _, page = request(port, "GET", "/accounts/login/", cookies)
    if status != 200:
        raise RuntimeError(f"GET /accounts/login/ answered {status}")
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not found or "csrftoken" not in cookies:
        raise RuntimeError("The login page gave no CSRF token.")
    form = urlencode(
        {
            "csrfmiddlewaretoken": found.group(1).decode(),
            "username": username,
            "password": password,
            "next": "/audit/",
        }
    )
    status, _, _ = request(port, "POST", "/accounts/login/", cookies, form)
    if status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"Logging in as {username} failed (status {status}).")
    return cookies


class Stream:
    """What came back from the export: rows (CRLF line ends minus the header), bytes, digest."""

    def __init__(self):
        self.bytes = 0
        self.lines = 0
        self.digest = hashlib.sha256()
        self._cr = False

    def feed(self, block: bytes) -> None:
        self.bytes += len(block)
        self.lines += block.count(b"\r\n") + (self._cr and block[:1] == b"\n")
        self._cr = block[-1:] == b"\r"
        self.digest.update(block)

    @property
    def rows(self) -> int:
        return max(self.lines - 1, 0)


def http_export(port: int, cookies: dict[str, str], pid: int) -> dict:
    """Stream the whole log as CSV; time it and watch the worker's memory meanwhile."""
    headers = {
        "Host": f"127.0.0.1:{port}",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
    }
    before = memory_kb(pid)["VmRSS"]
    hwm_reset = reset_peak(pid)
    sampler = RssSampler(pid)
    sampler.start()
    server_cpu0, client_cpu0 = cpu_seconds(pid), time.process_time()
    stream = Stream()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    conn.request("GET", "/audit/export/?format=csv", headers=headers)
    response = conn.getresponse()
    first_byte = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"The export answered {response.status}: {response.read()[:500]!r}")
    try:
        while block := response.read(READ_BYTES):
            stream.feed(block)
    except (http.client.IncompleteRead, ConnectionError) as error:
        sampler.stop()
        raise RuntimeError(
            f"The export stream broke after {stream.rows} rows and "
            f"{time.perf_counter() - started:.1f} s ({error!r}); with gunicorn, a sync worker "
            "that streams for longer than --worker-timeout is killed."
        ) from error
    elapsed = time.perf_counter() - started
    conn.close()
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu0, time.process_time() - client_cpu0
    peak = sampler.stop()
    after = memory_kb(pid)
    peak = max(peak, after["VmRSS"])
    hwm = after["VmHWM"] if hwm_reset else None
    return {
        "rows": stream.rows,
        "bytes": stream.bytes,
        "sha256": stream.digest.hexdigest(),
        "seconds": elapsed,
        "first_byte_seconds": first_byte,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "row_count_header": response.headers.get("X-Row-Count"),
        "transfer_encoding": response.headers.get("Transfer-Encoding", ""),
        "rss_before_kb": before,
        "rss_peak_kb": max(peak, hwm or 0),
        "rss_after_kb": after["VmRSS"],
        "rss_sampled_peak_kb": peak,
        "rss_hwm_kb": hwm,
        "rss_samples": sampler.samples,
    }


# --- The raw baseline ---------------------------------------------------------------------------


def raw_export(db: Path, size: int, time_zone: str) -> dict:
    """The same rows with one sqlite3 cursor and csv.writer, 2000 rows per StringIO block."""
    local = ZoneInfo(time_zone)
    parse = datetime.fromisoformat
    digest = hashlib.sha256()
    hash_s = 0.0
    total_bytes = 0
    rows = 0

    def local_iso(text: str) -> str:
        return parse(text).replace(tzinfo=UTC).astimezone(local).isoformat()

    def cells(row: tuple) -> list:
        out = [row[0], local_iso(row[1]), local_iso(row[2])]
        for value in row[3:]:
            if value.__class__ is str and value.startswith(FORMULA_START):
                value = "'" + value
            out.append(value)
        return out

    sql = raw_sql()
    started, cpu0 = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    cursor = conn.execute(sql, (size,))
    while True:
        block = cursor.fetchmany(BLOCK_ROWS)
        writer.writerows(map(cells, block))
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        total_bytes += len(data)
        rows += len(block)
        t0 = time.perf_counter()
        digest.update(data)
        hash_s += time.perf_counter() - t0
        if not block:
            break
    conn.close()
    elapsed = time.perf_counter() - started - hash_s
    cpu = time.process_time() - cpu0 - hash_s
    return {
        "rows": rows,
        "bytes": total_bytes,
        "sha256": digest.hexdigest(),
        "seconds": elapsed,
        "cpu": cpu,
        "hash_seconds": hash_s,
    }


# --- In-process profile of the app's export -----------------------------------------------------


def profile_export(data_dir: Path, top: int) -> dict:
    """row_chunks + csv_lines (+ encode, as the response does) in this process."""
    import django

    django.setup()
    from audit.models import LogState
    from audit.workspace import exports, selectors

    size = LogState.objects.values_list("size", flat=True).get(id=1)

    def run() -> tuple[int, int]:
        entries = selectors.search_entries({}).filter(sequence__lt=size)  # as ExportView
        count = total = 0
        for line in exports.csv_lines(exports.row_chunks(entries)):
            total += len(line.encode())
            count += 1
        return count - 1, total

    started, cpu0 = time.perf_counter(), time.process_time()
    rows, _ = run()
    plain_s, plain_cpu = time.perf_counter() - started, time.process_time() - cpu0
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    run()
    profiler.disable()
    profiled_s = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return {
        "rows": rows,
        "seconds": plain_s,
        "cpu": plain_cpu,
        "profiled_seconds": profiled_s,
        "report": out.getvalue(),
    }


# --- Main ---------------------------------------------------------------------------------------


def mb(kb: float) -> float:
    return kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="Log size N to build.")
    parser.add_argument("--keep", type=Path, help="Data directory to build in and reuse.")
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn")
    parser.add_argument(
        "--worker-timeout",
        type=int,
        default=0,
        help="gunicorn --timeout in seconds (default 0: off; gunicorn's own default is 30).",
    )
    parser.add_argument(
        "--profile", action="store_true", help="Also profile the export in-process (cProfile)."
    )
    parser.add_argument("--profile-top", type=int, default=25, help="Functions to list.")
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    args = parser.parse_args()
    if args.entries < 1:
        parser.error("--entries must be at least 1")

    if args.keep:
        data_dir = args.keep.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        tmp = Path(tempfile.mkdtemp(prefix="sightline-bench-export-"))
        data_dir = tmp
    env = configure_environment(data_dir)
    env["STATIC_ROOT"] = os.environ["STATIC_ROOT"] = str(data_dir / "static")
    env["ALLOWED_HOSTS"] = os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    db = data_dir / "db.sqlite3"
    password = secrets.token_urlsafe(12)
    proc = None
    try:
        info = machine_info()
        print(
            "Sightline export benchmark: GET /audit/export/?format=csv vs raw sqlite3 + csv.writer"
        )
        print_machine(info)

        seed_s = prepare(data_dir, args.entries, password, env)
        facts = db_facts(db)
        size = facts["entries"]
        if seed_s is not None:
            print(
                f"build:   seed_demo --queries {args.entries}: {seed_s:.0f} s "
                f"({args.entries / seed_s:,.0f} entries/s, load average "
                f"{os.getloadavg()[0]:.2f} after)"
            )
        else:
            print(f"build:   reused the kept database in {data_dir}")
        print(
            f"log:     {size} entries, {facts['entryflags']} flagged, {facts['queryoutcome']} "
            f"outcomes, {facts['auditreview']} reviews in {db} "
            f"({db.stat().st_size / 2**20:,.0f} MiB)"
        )
        if size != args.entries:
            print(f"note:    the kept database holds {size} entries, not {args.entries}; using it")

        port = free_port()
        cmd, described = server_command(args.server, port, args.worker_timeout)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env)
        wait_until_up(port, proc)
        pid = worker_pid(proc, args.server)
        print(f"server:  {described}, pid {pid}")

        cookies = log_in(port, "auditor", password)
        load_http = os.getloadavg()[0]
        web = http_export(port, cookies, pid)
        proc.terminate()
        proc.wait(timeout=30)
        proc = None

        load_raw = os.getloadavg()[0]
        raw = raw_export(db, size, env.get("TIME_ZONE", "America/Chicago"))

        http_rate = web["rows"] / web["seconds"]
        raw_rate = raw["rows"] / raw["seconds"]
        ratio = http_rate / raw_rate
        cpu_ratio = raw["cpu"] / web["server_cpu"] if web["server_cpu"] else None
        growth_mb = mb(web["rss_peak_kb"] - web["rss_before_kb"])
        same = web["sha256"] == raw["sha256"]
        rows_agree = web["rows"] == raw["rows"] == size
        hwm = "n/a" if web["rss_hwm_kb"] is None else f"{mb(web['rss_hwm_kb']):.1f} MB"

        print()
        print(
            f"HTTP export:  {web['rows']} rows, {web['bytes'] / 1e6:,.1f} MB in "
            f"{web['seconds']:.2f} s = {http_rate:,.0f} rows/s  (first byte after "
            f"{web['first_byte_seconds'] * 1000:.0f} ms; X-Row-Count {web['row_count_header']}; "
            f"{web['transfer_encoding'] or 'no transfer encoding'}; load average {load_http:.2f})"
        )
        print(
            f"              CPU: server worker {web['server_cpu']:.1f} s, client "
            f"{web['client_cpu']:.1f} s"
        )
        print(
            f"raw cursor:   {raw['rows']} rows, {raw['bytes'] / 1e6:,.1f} MB in "
            f"{raw['seconds']:.2f} s = {raw_rate:,.0f} rows/s  (CPU {raw['cpu']:.1f} s; "
            f"hashing {raw['hash_seconds']:.2f} s left out; load average {load_raw:.2f})"
        )
        print(
            f"same output:  rows {'agree' if rows_agree else 'DIFFER'}, "
            f"bytes {'identical' if same else 'DIFFER'} (sha256 {web['sha256'][:16]}...)"
        )
        verdict = "goal met" if ratio >= RATIO_GOAL else "below goal"
        print(f"ratio HTTP/raw:  {ratio:.3f}  (goal >= {RATIO_GOAL}: {verdict})")
        if cpu_ratio is not None:
            print(
                f"CPU-time ratio raw/server: {cpu_ratio:.3f}  (cross-check, insensitive to other "
                "load)"
            )
        verdict = "goal met" if growth_mb <= RSS_GOAL_MB else "above goal"
        print(
            f"server RSS:   {mb(web['rss_before_kb']):.1f} MB before, peak "
            f"{mb(web['rss_peak_kb']):.1f} MB (sampled {mb(web['rss_sampled_peak_kb']):.1f} MB "
            f"over {web['rss_samples']} samples, VmHWM {hwm}), "
            f"{mb(web['rss_after_kb']):.1f} MB after"
        )
        print(f"RSS growth:   {growth_mb:.1f} MB  (goal <= {RSS_GOAL_MB} MB: {verdict})")

        profile = None
        if args.profile:
            profile = profile_export(data_dir, args.profile_top)
            print()
            print(
                f"in-process rows + csv_lines + encode: {profile['rows']} rows in "
                f"{profile['seconds']:.2f} s = {profile['rows'] / profile['seconds']:,.0f} rows/s "
                f"(CPU {profile['cpu']:.1f} s); under cProfile {profile['profiled_seconds']:.1f} s"
            )
            print(profile["report"])

        if args.json:
            result = {
                "benchmark": "export",
                "entries": size,
                "server": args.server,
                "worker_timeout": args.worker_timeout,
                "seed_seconds": None if seed_s is None else round(seed_s, 1),
                "http_rows": web["rows"],
                "http_bytes": web["bytes"],
                "http_seconds": round(web["seconds"], 3),
                "http_rows_per_s": round(http_rate, 1),
                "first_byte_ms": round(web["first_byte_seconds"] * 1000, 1),
                "server_cpu_seconds": round(web["server_cpu"], 2),
                "client_cpu_seconds": round(web["client_cpu"], 2),
                "raw_rows": raw["rows"],
                "raw_seconds": round(raw["seconds"], 3),
                "raw_rows_per_s": round(raw_rate, 1),
                "raw_cpu_seconds": round(raw["cpu"], 2),
                "ratio": round(ratio, 4),
                "cpu_ratio": None if cpu_ratio is None else round(cpu_ratio, 4),
                "ratio_goal": RATIO_GOAL,
                "rows_agree": rows_agree,
                "bytes_identical": same,
                "rss_before_mb": round(mb(web["rss_before_kb"]), 1),
                "rss_peak_mb": round(mb(web["rss_peak_kb"]), 1),
                "rss_after_mb": round(mb(web["rss_after_kb"]), 1),
                "rss_growth_mb": round(growth_mb, 1),
                "rss_goal_mb": RSS_GOAL_MB,
                "load_avg_http": round(load_http, 2),
                "load_avg_raw": round(load_raw, 2),
                **info,
            }
            if profile is not None:
                result["inprocess_seconds"] = round(profile["seconds"], 3)
                result["inprocess_cpu_seconds"] = round(profile["cpu"], 2)
            print(json.dumps(result))
        return 0 if rows_agree and same else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {data_dir}")


if __name__ == "__main__":
    sys.exit(main())
