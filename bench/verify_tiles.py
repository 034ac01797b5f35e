"""sightline-verify end to end over loopback HTTP against downloading the same bytes + hashlib.

    .venv/bin/python bench/verify_tiles.py [--entries 1000000] [--keep DIR] [--workers 2]
        [--parallel 4] [--rounds 2] [--no-mirror] [--json]

1. A log of N entries is built as bench/verify.py builds it (its `build`, through
   `record_queries`; reused from a --keep DIR on later runs) and a tree head is published, which
   also makes the checkpoint of size N. Not timed.
2. Sightline is served by gunicorn (`--workers` sync workers, DEBUG off) on a free loopback port.
3. Timed, in alternating order over `--rounds` rounds (verifier first in odd rounds, the
   baseline first in even ones, so drifting machine load hits both alike):
   - **verifier**: the `sightline-verify` command as a user runs it (a new process) with the
     log key pinned: checkpoint signature, every entry bundle and hash tile, leaf checks, root,
     the statistics compared with /api/v1/stats/. It must print `OK:`.
   - **baseline**: the same URLs with plain http.client on keep-alive connections (sequential,
     and again with the verifier's number of parallel requests), gzip bodies decoded as the
     verifier must, the leaves cut out of the bundles, then the RFC 6962 root with plain hashlib
     (`bench.verify.rfc6962_root`). The roots must agree.
   Ratio = verifier seconds / baseline seconds (each the median over the rounds).
4. Unless --no-mirror: `manage.py export_tiles` writes the static mirror (not timed), a plain
   static file server (stdlib, HTTP/1.1 keep-alive) serves it, and the same comparison runs
   against it, with `sightline-verify --mirror`. Here the server does almost nothing, so the
   ratio shows the verifier's own cost.
"""

import argparse
import gzip
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    configure_environment,
    free_port,
    machine_info,
    print_machine,
    setup_django,
    wait_until_up,
)
from bench.public import cpu_seconds, worker_pids  # /proc CPU time of server processes

PY = sys.executable
VERIFY = str(Path(PY).with_name("sightline-verify"))
GOAL = 2.0

# The static file server for the mirror: a child process, HTTP/1.1 keep-alive.
STATIC_SERVER = """
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args):
        pass
handler = functools.partial(Handler, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def tile_paths(size: int, prefix: str) -> tuple[list[str], list[str]]:
    """(entry bundle paths, hash tile paths) of the tree of ``size``, under ``prefix``."""
    from sightline_verifier import tiles

    bundles = [f"{prefix}/{t.path}" for t in tiles.entry_bundles_for_size(size)]
    hashes = [f"{prefix}/{t.path}" for t in tiles.tiles_for_size(size)]
    return bundles, hashes


class Downloader:
    """Plain GETs on keep-alive connections, one per thread; gzip bodies decoded."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bytes = 0

    def fetch_all(self, paths: list[str], parallel: int) -> list[bytes]:
        if parallel == 1:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                return [self._get(conn, p) for p in paths]
            finally:
                conn.close()
        chunks = [paths[i::parallel] for i in range(parallel)]

        def run(chunk: list[str]) -> list[bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                return [self._get(conn, p) for p in chunk]
            finally:
                conn.close()

        with ThreadPoolExecutor(parallel) as pool:
            parts = list(pool.map(run, chunks))
        out: list[bytes] = [b""] * len(paths)
        for i, part in enumerate(parts):
            out[i::parallel] = part
        return out

    def _get(self, conn: http.client.HTTPConnection, path: str) -> bytes:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip, identity"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bytes += len(body)
        return body


def baseline(port: int, size: int, prefix: str, parallel: int, extra: list[str]) -> dict:
    """Download what the verifier downloads, cut the leaves out, compute the root (hashlib)."""
    from bench.verify import rfc6962_root

    bundles, hashes = tile_paths(size, prefix)
    downloader = Downloader(port)
    started, cpu0 = time.perf_counter(), time.process_time()
    bodies = downloader.fetch_all(bundles + hashes + extra, parallel)
    downloaded = time.perf_counter() - started
    leaves = []
    for body in bodies[: len(bundles)]:
        at = 0
        while at < len(body):
            length = int.from_bytes(body[at : at + 2], "big")
            leaves.append(body[at + 2 : at + 2 + length])
            at += 2 + length
    root = rfc6962_root(leaves)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "client_cpu": time.process_time() - cpu0,
        "download_seconds": downloaded,
        "bytes": downloader.bytes,
        "requests": len(bodies),
        "root": root.hex(),
        "leaves": len(leaves),
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_verifier(args: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    started, cpu0 = time.perf_counter(), children_cpu()
    done = subprocess.run(
        [VERIFY, *args, "--no-progress"], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - started
    client_cpu = children_cpu() - cpu0
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not last.startswith("OK:"):
        raise RuntimeError(f"sightline-verify exited {done.returncode}: {done.stderr[-2000:]}")
    return {"seconds": seconds, "verdict": last, "stderr": done.stderr, "client_cpu": client_cpu}


def compare(
    name: str, port: int, size: int, prefix: str, verify_args: list[str], extra: list[str],
    parallel: int, rounds: int, server_pids: list[int],
) -> dict:  # fmt: skip
    """Alternate verifier and baselines over the rounds; print and return the medians."""
    runs: dict[str, list[dict]] = {"verifier": [], "sequential": [], "parallel": []}
    for round_ in range(rounds):
        order = ["verifier", "sequential", "parallel"]
        if round_ % 2:
            order.reverse()
        for kind in order:
            server0 = cpu_seconds(server_pids)
            if kind == "verifier":
                result = run_verifier(verify_args)
            else:
                width = 1 if kind == "sequential" else parallel
                result = baseline(port, size, prefix, width, extra)
            result["server_cpu"] = cpu_seconds(server_pids) - server0
            runs[kind].append(result)
            print(
                f"  round {round_ + 1} {kind:10} {result['seconds']:8.2f} s wall, CPU "
                f"{result['client_cpu']:6.2f} s client + {result['server_cpu']:6.2f} s server",
                flush=True,
            )
    median = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {
        k: statistics.median(r["client_cpu"] + r["server_cpu"] for r in v) for k, v in runs.items()
    }
    roots = {r["root"] for r in runs["sequential"] + runs["parallel"]}
    verdict = runs["verifier"][0]["verdict"]
    agree = len(roots) == 1 and roots.pop() in verdict
    base = runs["sequential"][0]
    print(f"{name}:")
    print(f"  verifier            {median['verifier']:8.2f} s  ({verdict[:90]})")
    print(
        f"  baseline sequential {median['sequential']:8.2f} s  ({base['requests']} GETs, "
        f"{base['bytes'] / 1e6:.0f} MB decoded; round 1: download {base['download_seconds']:.2f} s "
        f"of {base['seconds']:.2f} s)"
    )
    print(f"  baseline {parallel} parallel  {median['parallel']:8.2f} s")
    ratio_seq = median["verifier"] / median["sequential"]
    ratio_par = median["verifier"] / median["parallel"]
    print(
        f"  roots agree: {'yes' if agree else 'NO'}; ratio verifier/baseline: "
        f"{ratio_seq:.2f}x (sequential), {ratio_par:.2f}x ({parallel} parallel); "
        f"goal <= {GOAL:.0f}x"
    )
    print(
        f"  CPU (client + server, median): verifier {cpu['verifier']:.2f} s, baseline "
        f"{cpu['sequential']:.2f} s sequential / {cpu['parallel']:.2f} s parallel: "
        f"{cpu['verifier'] / cpu['sequential']:.2f}x / {cpu['verifier'] / cpu['parallel']:.2f}x "
        "(cross-check, less sensitive to other load)"
    )
    return {
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "verifier_seconds": round(median["verifier"], 3),
        "baseline_sequential_seconds": round(median["sequential"], 3),
        "baseline_parallel_seconds": round(median["parallel"], 3),
        "ratio_sequential": round(ratio_seq, 2),
        "ratio_parallel": round(ratio_par, 2),
        "bytes": base["bytes"],
        "requests": base["requests"],
        "roots_agree": agree,
        "runs": {k: [round(r["seconds"], 3) for r in v] for k, v in runs.items()},
    }


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="Log size N.")
    parser.add_argument("--keep", type=Path, help="Data directory to build in and reuse.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers.")
    parser.add_argument("--parallel", type=int, default=4, help="Requests in flight.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-mirror", action="store_true", help="Skip the static mirror run.")
    parser.add_argument("--seed", type=int, default=9162)
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    if args.keep:
        data_dir = args.keep.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sightline-bench-tiles-")
        data_dir = Path(tmp.name)
    setup_django(data_dir)

    from django.core.management import call_command

    from audit.models import LogState
    from audit.transparency import checkpoints
    from audit.transparency.services import publish_tree_head
    from bench.verify import build

    info = machine_info()
    print("Sightline tiles benchmark: sightline-verify vs download + hashlib root, loopback HTTP")
    print_machine(info)
    added, build_s = build(args.entries, args.seed)
    publish_tree_head(force=True)
    size = LogState.objects.get(id=1).size
    if added:
        print(f"log:     built {added} entries in {build_s:.0f} s")
    print(f"log:     {size} entries in {data_dir / 'db.sqlite3'}")
    vkey = checkpoints.verifier_key()
    print(f"key:     {vkey}")
    results: dict = {}

    env = configure_environment(data_dir)
    port = free_port()
    # gunicorn's defaults, not the repository's gunicorn.conf.py (its access log would be timed).
    config = data_dir / "gunicorn-bench.conf.py"
    config.write_text("# bench/verify_tiles.py: gunicorn's defaults\n")
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "portal.wsgi", "-c", str(config), "-b", f"127.0.0.1:{port}",
         "-w", str(args.workers), "-k", "sync", "--timeout", "0", "--log-level", "warning"],
        cwd=REPO, env=env,
    )  # fmt: skip
    try:
        wait_until_up(port, server, ready=lambda: len(worker_pids(server.pid)) == args.workers)
        # Untimed: the statistics snapshot of size N is computed on its first request and kept.
        Downloader(port).fetch_all(["/tlog/checkpoint", f"/api/v1/stats/?tree_size={size}"], 1)
        print(f"server:  gunicorn, {args.workers} sync workers, DEBUG=0, 127.0.0.1:{port}")
        url = f"http://127.0.0.1:{port}"
        results["live"] = compare(
            "live site (/tlog/ on gunicorn)", port, size, "/tlog",
            ["--url", url, "--log-key", vkey, "--parallel", str(args.parallel)],
            ["/tlog/checkpoint", f"/api/v1/stats/?tree_size={size}"],
            args.parallel, args.rounds, worker_pids(server.pid),
        )  # fmt: skip
    finally:
        stop(server)

    if not args.no_mirror:
        mirror = data_dir / "mirror"
        started = time.perf_counter()
        call_command("export_tiles", str(mirror), "--no-progress")
        print(f"mirror:  written by export_tiles in {time.perf_counter() - started:.0f} s")
        port = free_port()
        static = subprocess.Popen([PY, "-c", STATIC_SERVER, str(port), str(mirror)])
        try:
            for _ in range(100):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                    break
                except OSError:
                    time.sleep(0.1)
            url = f"http://127.0.0.1:{port}"
            results["mirror"] = compare(
                "static mirror (export_tiles, stdlib file server)", port, size, "",
                ["--mirror", url, "--log-key", vkey, "--parallel", str(args.parallel)],
                ["/checkpoint"], args.parallel, args.rounds, [static.pid],
            )  # fmt: skip
        finally:
            stop(static)

    if args.json:
        print(json.dumps({"benchmark": "verify_tiles", "entries": size, **results, **info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
