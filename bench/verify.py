"""verify_log against a pure-hashlib RFC 6962 root, and proof latency at 1,000 vs N entries.

    .venv/bin/python bench/verify.py [--entries 1000000] [--keep DIR] [--samples 200] [--json]

1. A log of N entries is built in a SQLite database (a temporary one, or DIR with --keep, which
   is reused and only topped up on later runs) through `audit.log.services.record_queries`, 1000
   parsed queries (`audit.log.parsing.parse_queries`, as the API does) per call; a tree head is
   published. Building is not timed.
2. `verify_log()` (audit.transparency.verification; what `manage.py verify_log` runs) is timed
   in-process. It checks the log in units of 2**15 entries in worker processes (one per core);
   its CPU time is this process's plus its workers' (getrusage of the reaped children). On
   PostgreSQL the script first runs ANALYZE, as autovacuum would on a live server.
3. The public leaves' canonical bytes are recomputed into memory (not timed), then only a
   straightforward hashlib RFC 6962 root over them is timed: SHA-256(0x00 || leaf) for every
   leaf, then SHA-256(0x01 || left || right) level by level. The two roots must agree.
4. `root_at(size)` and `inclusion_proof(i, size)` (audit.transparency.selectors) are each called
   ~200 times (random leaves) at size 1,000 and at size N in the same database; medians and the
   ratio N/1k are printed.

Ratios are what to compare: both sides are measured in the same process, minutes apart.
"""

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QueryFactory, machine_info, print_machine, setup_django

BATCH = 1000
SMALL = 1000
VERIFY_GOAL, VERIFY_STRETCH = 3.0, 2.0
LATENCY_GOAL = 2.0
BASELINE_RUNS = 3


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH over the leaves (RFC 6962 section 2.1), level by level with plain hashlib.

    Pairing left to right and carrying an odd last node up unchanged gives exactly the RFC's
    split at the largest power of two below n.
    """
    sha256 = hashlib.sha256
    if not leaves:
        return sha256(b"").digest()
    level = [sha256(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def build(target: int, seed: int) -> tuple[int, float]:
    """Top the log up to `target` entries; returns (entries added, seconds)."""
    from tqdm import tqdm

    from audit.log.parsing import parse_queries
    from audit.log.services import record_queries, technology_query_types
    from audit.models import LogState
    from bench.common import AGENCY, ensure_reference_data

    integration, _ = ensure_reference_data()
    size = LogState.objects.get(id=1).size
    if size >= target:
        return 0, 0.0
    first = size
    technologies = technology_query_types()
    factory = QueryFactory(seed + size, total=target)
    started = time.perf_counter()
    with tqdm(
        total=target, initial=size, unit="entry", desc="Building log", mininterval=1.0
    ) as bar:
        while size < target:
            count = min(BATCH, target - size)
            queries, _ = parse_queries(
                factory.batch(size, count), technologies=technologies, default_agency=AGENCY
            )
            record_queries(integration=integration, queries=queries)
            size += count
            bar.update(count)
    return size - first, time.perf_counter() - started


def leaf_bytes() -> list[bytes]:
    """Canonical JSON of every public leaf, in order, recomputed from the stored rows."""
    from sightline_verifier import leaf as leaves
    from sightline_verifier.merkle import canonical_json
    from tqdm import tqdm

    from audit.models import QueryLogEntry

    if hasattr(leaves, "entry_leaf_bytes"):
        to_bytes = leaves.entry_leaf_bytes
    else:  # older layout: the leaf as a dict, serialized canonically

        def to_bytes(entry):
            return canonical_json(leaves.entry_leaf(entry))

    rows = QueryLogEntry.objects.order_by("sequence").values()
    total = QueryLogEntry.objects.count()
    out = []
    for row in tqdm(
        rows.iterator(chunk_size=5000), total=total, unit="leaf", desc="Leaf bytes", mininterval=1.0
    ):
        out.append(to_bytes(SimpleNamespace(**row)))
    return out


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished, reaped children.

    verify_log checks the log in worker processes; their CPU time counts too.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def paired_medians(call, small_args: list[tuple], big_args: list[tuple]) -> tuple[float, float]:
    """Median seconds of `call` over each argument list, the two sizes interleaved.

    Alternating the calls (and which size goes first) spreads any drift in machine load evenly
    over both sizes, so the ratio stays fair on a busy machine.
    """
    for args in small_args[:10] + big_args[:10]:  # warm caches and code paths, untimed
        call(*args)
    small, big = [], []
    for i, (a, b) in enumerate(zip(small_args, big_args, strict=True)):
        order = [(a, small), (b, big)] if i % 2 == 0 else [(b, big), (a, small)]
        for args, samples in order:
            t0 = time.perf_counter()
            call(*args)
            samples.append(time.perf_counter() - t0)
    return statistics.median(small), statistics.median(big)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="Log size N.")
    parser.add_argument("--keep", type=Path, help="Data directory to build in and reuse.")
    parser.add_argument(
        "--database-url",
        help="A PostgreSQL database to build the log in (keys stay in the data directory); "
        "default: SQLite in the data directory.",
    )
    parser.add_argument("--samples", type=int, default=200, help="Calls per latency median.")
    parser.add_argument("--seed", type=int, default=9162)
    parser.add_argument("--json", action="store_true", help="Also print one JSON result line.")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.entries < SMALL:
        parser.error(f"--entries must be at least {SMALL}")

    if args.keep:
        data_dir = args.keep.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sightline-bench-verify-")
        data_dir = Path(tmp.name)
    setup_django(data_dir, args.database_url)

    from django.db import connection

    from audit.models import LogState
    from audit.transparency import selectors
    from audit.transparency.services import publish_tree_head
    from audit.transparency.verification import LogVerificationError, verify_log

    info = machine_info()
    print("Sightline verify benchmark: verify_log vs pure-hashlib RFC 6962 root; proof latency")
    print_machine(info)

    added, build_s = build(args.entries, args.seed)
    publish_tree_head(force=True)
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum keeps them on a live server: right after a bulk load
        # they lag, and the planner sorted the entries instead of walking the primary key.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    size = LogState.objects.get(id=1).size
    if added:
        print(f"log:     built {added} entries in {build_s:.0f} s ({added / build_s:,.0f}/s)")
    where = args.database_url or data_dir / "db.sqlite3"
    print(f"log:     {size} entries in {where}")
    if size != args.entries:
        print(f"note:    the kept database holds {size} entries, more than --entries; using {size}")

    t0, (own0, children0) = time.perf_counter(), cpu_seconds()
    try:
        verified = verify_log()
    except LogVerificationError as problem:
        print(f"verify_log FAILED: {problem}")
        if args.keep:
            print("A database kept from before a change to the leaf format no longer verifies:")
            print(f"delete {data_dir} and run again.")
        return 1
    verify_s = time.perf_counter() - t0
    own1, children1 = cpu_seconds()
    verify_own_cpu, verify_workers_cpu = own1 - own0, children1 - children0
    verify_cpu = verify_own_cpu + verify_workers_cpu

    t0 = time.perf_counter()
    leaves = leaf_bytes()
    load_s = time.perf_counter() - t0
    # The baseline is short, so one burst of other load would skew it: take the median of a few.
    runs = []
    for _ in range(BASELINE_RUNS):
        t0, cpu0 = time.perf_counter(), time.process_time()
        root = rfc6962_root(leaves)
        runs.append((time.perf_counter() - t0, time.process_time() - cpu0))
    hashlib_s = statistics.median(wall for wall, _ in runs)
    hashlib_cpu = statistics.median(cpu for _, cpu in runs)
    leaf_mb = sum(map(len, leaves)) / 1e6
    del leaves

    ratio = verify_s / hashlib_s
    verdict = (
        "stretch met"
        if ratio <= VERIFY_STRETCH
        else "goal met"
        if ratio <= VERIFY_GOAL
        else "above goal"
    )
    print()
    print(
        f"verify_log():        {verified.size} entries in {verify_s:.2f} s "
        f"({verify_s / verified.size * 1e6:.1f} us/entry, {verified.heads_checked} heads checked)"
    )
    print(
        f"hashlib RFC 6962:    {size} leaves ({leaf_mb:.0f} MB) in {hashlib_s:.2f} s "
        f"({hashlib_s / size * 1e6:.2f} us/leaf; median of "
        f"{', '.join(f'{wall:.2f}' for wall, _ in runs)} s; leaf bytes loaded beforehand "
        f"in {load_s:.0f} s)"
    )
    print(
        f"roots agree:         {'yes' if root.hex() == verified.root_hash else 'NO'} "
        f"({verified.root_hash[:16]}...)"
    )
    print(
        f"CPU time:            verify_log {verify_cpu:.2f} s ({verify_own_cpu:.2f} s here + "
        f"{verify_workers_cpu:.2f} s in worker processes), hashlib {hashlib_cpu:.2f} s: "
        f"{verify_cpu / hashlib_cpu:.1f}x (cross-check, less sensitive to other load; the "
        f"workers share {os.cpu_count()} cores)"
    )
    print(
        f"ratio verify/hashlib: {ratio:.1f}x  (goal <= {VERIFY_GOAL:.0f}x, stretch <= "
        f"{VERIFY_STRETCH:.0f}x: {verdict})"
    )

    rng = random.Random(args.seed)
    latency: dict[int, dict[str, float]] = {SMALL: {}, size: {}}
    n = args.samples
    latency[SMALL]["root_at"], latency[size]["root_at"] = paired_medians(
        selectors.root_at, [(SMALL,)] * n, [(size,)] * n
    )
    small_leaves = [(rng.randrange(SMALL), SMALL) for _ in range(n)]
    big_leaves = [(rng.randrange(size), size) for _ in range(n)]
    latency[SMALL]["inclusion_proof"], latency[size]["inclusion_proof"] = paired_medians(
        selectors.inclusion_proof, small_leaves, big_leaves
    )
    print()
    print(f"latency (median of {args.samples} calls each):")
    print(f"  {'':18} {'size ' + format(SMALL, ','):>14} {'size ' + format(size, ','):>16}  ratio")
    ratios = {}
    for name in ("root_at", "inclusion_proof"):
        small, big = latency[SMALL][name], latency[size][name]
        ratios[name] = big / small
        print(
            f"  {name:18} {small * 1000:11.3f} ms {big * 1000:13.3f} ms  {ratios[name]:.2f}"
            f"  (goal <= {LATENCY_GOAL:.0f})"
        )

    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "verify",
                    "entries": size,
                    "verify_seconds": round(verify_s, 3),
                    "hashlib_seconds": round(hashlib_s, 3),
                    "hashlib_runs_seconds": [round(wall, 3) for wall, _ in runs],
                    "ratio": round(ratio, 2),
                    "verify_cpu_seconds": round(verify_cpu, 3),
                    "verify_worker_cpu_seconds": round(verify_workers_cpu, 3),
                    "hashlib_cpu_seconds": round(hashlib_cpu, 3),
                    "cpu_ratio": round(verify_cpu / hashlib_cpu, 2),
                    "roots_agree": root.hex() == verified.root_hash,
                    "goal": VERIFY_GOAL,
                    "stretch": VERIFY_STRETCH,
                    "samples": args.samples,
                    "latency_ms": {
                        str(n): {k: round(v * 1000, 4) for k, v in latency[n].items()}
                        for n in latency
                    },
                    "latency_ratio": {k: round(v, 2) for k, v in ratios.items()},
                    "latency_goal": LATENCY_GOAL,
                    "build_seconds": round(build_s, 1),
                    **info,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
