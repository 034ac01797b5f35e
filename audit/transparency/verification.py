"""Full verification of the stored log: leaves, commitments, subtree hashes, state and heads.

The log is checked in units of 2**UNIT_LEVEL entries, each a perfect aligned subtree (the last
one may be partial). A unit's check needs only its own rows and stored nodes, so the units run in
parallel worker processes, each with its own database connection (SQLite in WAL mode and
PostgreSQL both serve concurrent readers), when the log is large and the call is not inside a
transaction (workers cannot see uncommitted rows). The parent combines the units' subtree roots,
checks the stored nodes above the units, the signed heads, the state and the links, and reports
the problem a sequential check would meet first: each problem has a position in the order
"entry s, then the subtrees completed by entry s (lowest level first), then the heads of size
s + 1", and the lowest one is named.

Each unit streams its entries in chunks of CHUNK rows, rebuilds each leaf from the stored row
with the canonical leaf definition (`sightline_verifier.leaf`) and hashes it; memory stays flat.
"""

import hashlib
import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.utils import load_backend
from sightline_verifier.leaf import ROW_FIELDS, leaf_hashes_of_rows
from sightline_verifier.merkle import EMPTY_ROOT, TreeBuilder, node_hash

from audit.log.models import target_prefix
from audit.models import Agency, LogState, MerkleNode, Operator, QueryLogEntry, SignedTreeHead
from audit.transparency import signing
from audit.transparency.bounds import stored_beyond

#: A unit is 2**UNIT_LEVEL entries: one worker task, one perfect subtree.
UNIT_LEVEL = 15
#: Rows per query inside a unit (keeps each query's memory flat).
CHUNK = 8192
#: Worker processes only for logs of at least this many units; smaller logs are checked here.
MIN_PARALLEL_UNITS = 2
_sha256 = hashlib.sha256

# Problem positions: (entry, kind, level). Kinds order the checks made at one entry.
_MISSING, _LEAF, _NODE, _HEAD = 0, 1, 2, 3


class LogVerificationError(Exception):
    """The stored log does not verify; the message names the first bad sequence or head."""


@dataclass(frozen=True)
class VerifiedLog:
    size: int
    root_hash: str
    heads_checked: int
    witness_size: int | None = None  # the published head kept outside the database, if any


@dataclass
class _UnitResult:
    start: int
    count: int  # entries checked (up to the first problem)
    problem: tuple[tuple[int, int, int], str] | None
    frontier: list[tuple[int, bytes]]  # perfect subtrees of [start, start + count)
    heads: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    bad_links: dict[str, int] = field(default_factory=dict)
    pid: int = field(default_factory=os.getpid)  # the process that checked the unit


# --- SQL ---------------------------------------------------------------------------------------

# The derived target prefix, checked against the committed fingerprint after the links.
_TARGET = "target_prefix"
_LINKS = (  # (link, linked table, linked column, committed column), in the order they are named
    ("operator", Operator._meta.db_table, "badge_number", "operator_badge"),
    ("supervisor", Operator._meta.db_table, "badge_number", "supervisor_badge"),
    ("requesting_agency", Agency._meta.db_table, "code", "requesting_agency_code"),
)


def _sql(vendor: str, quote: Callable[[str], str]) -> dict[str, str]:
    """The queries a unit runs. Table and column names come from model metadata, never input.

    Times and the date are read as the text the log committed to (`audit.leaves.iso_utc`,
    `date.isoformat`), converted by the database: cheaper than a parse and a format per value.
    """
    entries = quote(QueryLogEntry._meta.db_table)
    nodes = quote(MerkleNode._meta.db_table)
    level, index = quote("level"), quote("index")
    if vendor == "postgresql":
        # The committed text forms (audit.leaves.iso_utc, date.isoformat), made by the server.
        def moment(c):
            return f"""to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""

        day = "to_char(local_date, 'YYYY-MM-DD')"
        hashes = "string_agg(hash, '')"
    else:
        # SQLite keeps Django's naive-UTC text: "YYYY-MM-DD HH:MM:SS[.ffffff]".
        def moment(c):
            text = f"CAST({c} AS TEXT)"
            return (
                f"(replace({text}, ' ', 'T') || CASE WHEN instr({text}, '.') "
                f"THEN '+00:00' ELSE '.000000+00:00' END)"
            )

        day = "CAST(local_date AS TEXT)"
        hashes = "group_concat(hash, '')"

    columns = (
        "sequence", moment("recorded_at"), moment("occurred_at"), day, "technology_id",
        "query_type", "integration_id", "requesting_agency_code", "on_behalf_of",
        "operator_badge", "supervisor_badge", "target_fingerprint", "offense_code",
        "offense_category", "justification", "case_number", "scope", "result_count",
        "client_ref", "salt", "leaf_hash", "target_prefix",
    )  # fmt: skip
    in_range = "WHERE sequence >= %s AND sequence < %s ORDER BY sequence"
    where_nodes = f"{level} = %s AND {index} >= %s AND {index} < %s"
    sql = {
        "entries": f"SELECT {', '.join(columns)} FROM {entries} {in_range}",  # noqa: S608
        "next_entry": f"SELECT MIN(sequence) FROM {entries} WHERE sequence > %s",  # noqa: S608
        # One string per level and unit; if it differs, the nodes are read one by one. The
        # aggregate takes the rows in the subquery's order (both databases do; an ORDER BY
        # inside string_agg made PostgreSQL sort them again, and a string out of order would
        # only send the check to the node-by-node comparison, never report a problem).
        "node_string": f"SELECT {hashes} FROM (SELECT {index}, hash FROM {nodes} "  # noqa: S608
        f"WHERE {where_nodes} ORDER BY {index}) AS unit_nodes",
        "node_list": f"SELECT {index}, hash FROM {nodes} WHERE {where_nodes} "  # noqa: S608
        f"ORDER BY {index}",
    }
    # One pass over the unit for the three links: the first entry whose link disagrees.
    joins, firsts, linked = [], [], []
    for n, (link, table, column, committed) in enumerate(_LINKS):
        joins.append(f"LEFT JOIN {quote(table)} t{n} ON t{n}.id = e.{quote(link + '_id')}")
        firsts.append(
            f"MIN(CASE WHEN t{n}.{quote(column)} <> e.{quote(committed)} THEN e.sequence END)"
        )
        linked.append(f"t{n}.{quote(column)}")
    sql["links"] = (
        f"SELECT {', '.join(firsts)} FROM {entries} e {' '.join(joins)} "  # noqa: S608
        "WHERE e.sequence >= %s AND e.sequence < %s"
    )
    return sql


# --- one unit ----------------------------------------------------------------------------------


def _node_problem(level: int, index: int) -> tuple[tuple[int, int, int], str]:
    first = index << level
    last = first + (1 << level) - 1
    return (last, _NODE, level), (
        f"Stored subtree hash L{level}#{index} (entries {first}-{last}) does not match the "
        f"entries; first bad sequence {first}."
    )


#: Reads entries [lo, hi): their sequences in order, their recomputed leaf hashes, the index
#: of the first whose stored leaf hash differs, or None, and the first sequence whose target prefix
#: is not its fingerprint's, or None.
LeafReader = Callable[[int, int], tuple]
# Where the entries' query puts the fingerprint: its columns are the leaf's (ROW_FIELDS), then
# the leaf hash and the target prefix.
_FINGERPRINT = ROW_FIELDS.index("target_fingerprint")


def _reader(cursor, sql: dict) -> LeafReader:
    def read(lo: int, hi: int):
        cursor.execute(sql["entries"], [lo, hi])
        rows = cursor.fetchall()
        digests = leaf_hashes_of_rows(row[:-2] for row in rows)
        stored = [row[-2] for row in rows]
        mismatch = None
        if b"".join(digests).hex() != "".join(stored):
            mismatch = next(
                i for i, (d, s) in enumerate(zip(digests, stored, strict=True)) if d.hex() != s
            )
        # The target prefix is derived, not committed: an entry whose prefix was changed would be
        # missed by every read by target (searches, the repeated-target rule, matching).
        wrong_prefix = next(
            (row[0] for row in rows if row[-1] != target_prefix(row[_FINGERPRINT])), None
        )
        return [row[0] for row in rows], digests, mismatch, wrong_prefix

    return read


def _check_unit(read: LeafReader, cursor, sql: dict, start: int, end: int, size: int,
                heads: list[int]):  # fmt: skip
    """Check entries [start, end) (start aligned to a unit) and the stored nodes inside them."""
    problem = None
    bad_links: dict[str, int] = {}
    leaves: list[bytes] = []
    expected = start
    while expected < end and problem is None:
        chunk = read(expected, min(expected + CHUNK, end))
        sequences, digests, mismatch, wrong_prefix = chunk
        if wrong_prefix is not None and _TARGET not in bad_links:
            bad_links[_TARGET] = wrong_prefix
        n = len(sequences)
        if not (sequences and sequences[0] == expected and sequences[-1] == expected + n - 1):
            n = 0  # a gap: find the first missing sequence
            while n < len(sequences) and sequences[n] == expected + n:
                n += 1
            missing = expected + n
            if n < len(sequences):
                following = sequences[n]
            else:
                cursor.execute(sql["next_entry"], [missing])
                following = cursor.fetchone()[0]
            if following is None:
                message = f"The log state says {size} entries but {missing} are stored."
            else:
                message = f"Sequence {missing} is missing: the next stored entry is {following}."
            problem = ((missing, _MISSING, 0), message)
        if mismatch is not None and mismatch < n:
            sequence = expected + mismatch
            problem = (
                (sequence, _LEAF, 0),
                f"Entry {sequence}: its recorded fields no longer match its leaf hash.",
            )
            n = mismatch
        leaves.extend(digests[:n])
        expected += n
    count = len(leaves)

    # Every stored subtree inside the unit, level by level, one string per level.
    levels = [leaves]
    level, below = 0, leaves
    while len(below) > 1:
        level += 1
        pairs = iter(below)
        above = [_sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        levels.append(above)
        below = above
        first = start >> level
        params = [level, first, first + len(above)]
        cursor.execute(sql["node_string"], params)
        if (cursor.fetchone()[0] or "") != b"".join(above).hex():
            cursor.execute(sql["node_list"], params)
            stored = dict(cursor.fetchall())
            for offset, digest in enumerate(above):
                if stored.get(first + offset) != digest.hex():
                    found = _node_problem(level, first + offset)
                    if problem is None or found[0] < problem[0]:
                        problem = found
                    break

    def frontier(upto: int) -> list[tuple[int, bytes]]:
        out, done = [], 0
        for lvl in range(len(levels) - 1, -1, -1):
            if (upto >> lvl) & 1:
                out.append((lvl, levels[lvl][done >> lvl]))
                done += 1 << lvl
        return out

    result = _UnitResult(
        start=start, count=count, problem=problem, frontier=frontier(count), bad_links=bad_links
    )
    for m in heads:
        if start < m <= start + count and (problem is None or (m - 1, _HEAD, 0) < problem[0]):
            result.heads[m] = frontier(m - start)
    if problem is None:
        cursor.execute(sql["links"], [start, end])
        links = cursor.fetchone()
        for (link, *_), wrong in zip(_LINKS, links, strict=True):
            if wrong is not None:
                result.bad_links[link] = wrong
    return result


# --- worker processes --------------------------------------------------------------------------

_worker: dict = {}


def _start_worker(settings_dict: dict) -> None:
    """In a forked worker: a database connection of its own (the parent's is never touched)."""
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(dict(settings_dict))
    _worker["connection"] = wrapper
    # Closed when the worker ends normally (the pool is closed and joined after the last unit).
    multiprocessing.util.Finalize(None, wrapper.close, exitpriority=10)
    _worker["sql"] = _sql(wrapper.vendor, wrapper.ops.quote_name)


def _run_in_worker(task: tuple) -> _UnitResult:
    wrapper, sql = _worker["connection"], _worker["sql"]
    with wrapper.cursor() as cursor:
        return _check_unit(_reader(cursor, sql), cursor, sql, *task)


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _can_fork() -> bool:
    if connection.in_atomic_block:
        return False  # the workers could not see this transaction's rows
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return False
    return "fork" in multiprocessing.get_all_start_methods()


def _unit_results(tasks: list[tuple], workers: int) -> Iterator[_UnitResult]:
    if workers > 1 and len(tasks) >= MIN_PARALLEL_UNITS and _can_fork():
        context = multiprocessing.get_context("fork")
        with context.Pool(
            workers, initializer=_start_worker, initargs=(connection.settings_dict,)
        ) as pool:
            yield from pool.imap(_run_in_worker, tasks)
            pool.close()
            pool.join()
        return
    sql = _sql(connection.vendor, connection.ops.quote_name)
    with connection.cursor() as cursor:
        read = _reader(cursor, sql)
        for task in tasks:
            yield _check_unit(read, cursor, sql, *task)


# --- the whole log -----------------------------------------------------------------------------


def _check_signatures(heads: list[SignedTreeHead], public_key: bytes) -> None:
    for head in heads:
        if head.key_id != signing.key_id():
            raise LogVerificationError(
                f"Tree head of size {head.tree_size} names key {head.key_id[:16]}…, not ours."
            )
        if not signing.verify_tree_head(
            {
                "tree_size": head.tree_size,
                "root_hash": head.root_hash,
                "timestamp": head.timestamp,
                "signature": head.signature,
            },
            public_key,
        ):
            raise LogVerificationError(f"Tree head of size {head.tree_size}: bad signature.")


def _check_witness(witness: dict, public_key: bytes, size: int) -> str:
    """Check the witness head's signature and size; return what to say if its root differs.

    The witness file keeps the latest published head outside the database, so a database
    restored from an older backup (which lost that head along with the entries) is caught.
    """
    path = signing.witness_path()
    m, at = witness["tree_size"], witness["timestamp"]
    if witness["key_id"] != signing.key_id() or not signing.verify_tree_head(witness, public_key):
        raise LogVerificationError(
            f"The witness head in {path} (size {m}, published at {at}) is not validly signed by "
            "this log's key: the file was altered, or the key or the file belongs to another log."
        )
    if m > size:
        raise LogVerificationError(
            f"The database holds {size} entries but tree head {m} was published at {at} "
            f"(witness {path}): it was restored from a backup older than that head. Published "
            "entries were lost."
        )
    return (
        f"The database's log does not match the published head of size {m} (published at "
        f"{at}, witness {path}): entries were changed or the database is another log."
    )


def _check_root(checks: list[tuple[str, str]], root: bytes) -> None:
    for root_hash, problem in checks:
        if root.hex() != root_hash:
            raise LogVerificationError(problem)


def _fold(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def verify_log(
    *, progress: Callable[[int], None] = lambda n: None, workers: int | None = None
) -> VerifiedLog:
    """Recompute every leaf and subtree from the stored rows and check every published head.

    Each head's signature is checked and its root compared with the root recomputed at its
    size from the same entries, which also proves successive heads consistent. The head in
    the witness file (`signing.read_witness`, kept outside the database) is checked the same
    way, so a database restored from a backup older than a published head fails. Raises
    LogVerificationError naming the first problem found. `workers` processes share the work
    (default: one per core); 1 checks everything in this process.
    """
    # Heads before the state: a head published meanwhile is then never beyond the state read.
    heads = list(SignedTreeHead.objects.order_by("tree_size"))
    state = LogState.objects.get(id=1)
    size = state.size
    try:
        public_key = signing.public_key_raw()
        witness = signing.read_witness()
    except (signing.SigningKeyMissing, signing.WitnessUnreadable) as problem:
        raise LogVerificationError(str(problem)) from None
    _check_signatures(heads, public_key)
    if heads and heads[-1].tree_size > size:
        raise LogVerificationError(
            f"Tree head of size {heads[-1].tree_size} was published, but the log holds only "
            f"{size} entries: entries were lost (a database restored from an old backup?)."
        )
    # size -> [(root the entries must give, what to say when they do not)]
    expected: dict[int, list[tuple[str, str]]] = {}
    for head in heads:
        expected.setdefault(head.tree_size, []).append(
            (
                head.root_hash,
                f"Tree head of size {head.tree_size} does not match the log's root at that "
                "size: entries before it were changed, or the head was forged.",
            )
        )
    if witness is not None:
        expected.setdefault(witness["tree_size"], []).append(
            (witness["root_hash"], _check_witness(witness, public_key, size))
        )
    if 0 in expected:
        _check_root(expected[0], EMPTY_ROOT)

    unit = 1 << UNIT_LEVEL
    head_sizes = sorted(expected)
    tasks = []
    for start in range(0, size, unit):
        end = min(start + unit, size)
        tasks.append((start, end, size, [m for m in head_sizes if start < m <= end]))
    # Stored nodes above the units: few (one per 2**UNIT_LEVEL entries), read at once.
    upper = {
        (level, index): digest
        for level, index, digest in MerkleNode.objects.filter(level__gt=UNIT_LEVEL).values_list(
            "level", "index", "hash"
        )
    }
    tree = TreeBuilder()
    bad_links: dict[str, int] = {}
    results = _unit_results(tasks, workers or _default_workers())
    try:
        for result in results:
            progress(result.count)
            end = result.start + result.count
            prefix = [digest for _, digest in tree.frontier()]
            for m, frontier in sorted(result.heads.items()):
                if m != end or result.problem is not None:
                    _check_root(expected[m], _fold(prefix + [d for _, d in frontier]))
            if result.problem is not None:
                raise LogVerificationError(result.problem[1])
            for level, digest in result.frontier:
                for lvl, index, node in tree.append_subtree(level, digest):
                    if lvl > UNIT_LEVEL and upper.get((lvl, index)) != node.hex():
                        raise LogVerificationError(_node_problem(lvl, index)[1])
            if end in result.heads:
                _check_root(expected[end], tree.root())
            for link, sequence in result.bad_links.items():
                bad_links[link] = min(sequence, bad_links.get(link, sequence))
    finally:
        results.close()

    if (problem := stored_beyond(size)) is not None:
        raise LogVerificationError(problem)
    for link, _, _, committed in _LINKS:
        if link in bad_links:
            raise LogVerificationError(
                f"Entry {bad_links[link]}: its {link.replace('_', ' ')} link does not match the "
                f"committed {committed.replace('_', ' ')}."
            )
    if _TARGET in bad_links:
        raise LogVerificationError(
            f"Entry {bad_links[_TARGET]}: its target prefix does not match the committed target "
            "fingerprint, so reads by target would miss it."
        )
    frontier = [[level, digest.hex()] for level, digest in tree.frontier()]
    if frontier != state.frontier:
        raise LogVerificationError("The log state's frontier does not match the entries.")
    return VerifiedLog(
        size=size,
        root_hash=tree.root().hex(),
        heads_checked=len(heads),
        witness_size=None if witness is None else witness["tree_size"],
    )
