"""Full verification of the stored log: leaves, commitments, subtree hashes, state and heads."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection
from django.db.models import F

from audit import signing
from audit.leaves import commitment_bytes, iso_utc, leaf_bytes, leaf_hash_hex
from audit.merkle import TreeBuilder
from audit.models import LogState, MerkleNode, QueryLogEntry, SignedTreeHead

CHUNK = 5000
# Database columns read per entry, in the order verify_log unpacks them.
_COLUMNS = (
    "sequence",
    "recorded_at",
    "occurred_at",
    "local_date",
    "technology_id",
    "query_type",
    "integration_id",
    "requesting_agency_code",
    "on_behalf_of",
    "operator_badge",
    "supervisor_badge",
    "target_fingerprint",
    "offense_code",
    "offense_category",
    "justification",
    "case_number",
    "scope",
    "result_count",
    "client_ref",
    "salt",
    "leaf_hash",
)


class LogVerificationError(Exception):
    """The stored log does not verify; the message names the first bad sequence or head."""


@dataclass(frozen=True)
class VerifiedLog:
    size: int
    root_hash: str
    heads_checked: int


def _db_time(value) -> str:
    """A stored timestamp in committed form, read without the ORM's per-row conversion.

    PostgreSQL returns aware datetimes; SQLite returns Django's naive-UTC text
    ("YYYY-MM-DD HH:MM:SS[.ffffff]").
    """
    if isinstance(value, datetime):
        return iso_utc(value if value.tzinfo else value.replace(tzinfo=UTC))
    text = value.replace(" ", "T")
    return (text if "." in text else text + ".000000") + "+00:00"


def _db_date(value) -> str:
    return value.isoformat() if isinstance(value, date) else value


def _entry_chunks() -> Iterator[list[tuple]]:
    """All entries in sequence order, CHUNK rows per query (keyset paging: flat memory)."""
    table = QueryLogEntry._meta.db_table
    if connection.vendor == "sqlite":
        # Read dates and times as the stored text: skips a parse and a format per value.
        text = {"recorded_at", "occurred_at", "local_date"}
        columns = ", ".join(f"CAST({c} AS TEXT)" if c in text else c for c in _COLUMNS)
    else:
        columns = ", ".join(_COLUMNS)
    # Table and column names come from the model's metadata, never from input.
    sql = f"SELECT {columns} FROM {table} WHERE sequence >= %s ORDER BY sequence LIMIT %s"  # noqa: S608
    start = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [start, CHUNK])
            rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            start = rows[-1][0] + 1


class _StoredNodes:
    """Streams the stored subtree hashes of each level in index order, CHUNK rows per query."""

    def __init__(self) -> None:
        self._buffers: dict[int, list[tuple[int, str]]] = {}
        self._next_index: dict[int, int] = {}
        self._exhausted: set[int] = set()

    def next(self, level: int) -> tuple[int, str] | None:
        buffer = self._buffers.setdefault(level, [])
        if not buffer and level not in self._exhausted:
            start = self._next_index.get(level, 0)
            buffer.extend(
                MerkleNode.objects.filter(level=level, index__gte=start)
                .order_by("index")
                .values_list("index", "hash")[:CHUNK]
            )
            buffer.reverse()
            if buffer:
                self._next_index[level] = buffer[0][0] + 1
            else:
                self._exhausted.add(level)
        return buffer.pop() if buffer else None

    def levels_started(self) -> list[int]:
        return list(self._buffers)


def verify_log(*, progress: Callable[[int], None] = lambda n: None) -> VerifiedLog:
    """Recompute every leaf and subtree from the stored rows and check every published head.

    Each head's signature is checked and its root compared with the root recomputed at its
    size from the same entries, which also proves successive heads consistent. Raises
    LogVerificationError naming the first problem found.
    """
    state = LogState.objects.get(id=1)
    heads = list(SignedTreeHead.objects.order_by("tree_size"))
    public_key = signing.public_key_raw()
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
    if heads and heads[-1].tree_size > state.size:
        raise LogVerificationError(
            f"Tree head of size {heads[-1].tree_size} was published, but the log holds only "
            f"{state.size} entries: entries were lost (a database restored from an old backup?)."
        )
    pending_heads = iter(heads)
    next_head = next(pending_heads, None)
    if next_head is not None and next_head.tree_size == 0:
        next_head = _check_head(next_head, TreeBuilder(), pending_heads)

    tree = TreeBuilder()
    append = tree.append
    nodes = _StoredNodes()
    expected = 0
    for rows in _entry_chunks():
        for row in rows:
            (sequence, recorded_at, occurred_at, local_date, technology, query_type,
             integration_id, agency, on_behalf_of, operator_badge, supervisor_badge,
             target_fingerprint, offense_code, category, justification, case_number, scope,
             result_count, client_ref, salt, stored_hash) = row  # fmt: skip
            if sequence != expected:
                raise LogVerificationError(
                    f"Sequence {expected} is missing: the next stored entry is {sequence}."
                )
            data = leaf_bytes(
                sequence=sequence,
                local_date=_db_date(local_date),
                technology=technology,
                query_type=query_type,
                agency=agency,
                on_behalf_of=on_behalf_of,
                offense_category=category,
                case_number=case_number,
                supervisor_badge=supervisor_badge,
                scope=scope,
                salt=bytes.fromhex(salt),
                private=commitment_bytes(
                    recorded_at=_db_time(recorded_at),
                    occurred_at=_db_time(occurred_at),
                    integration_id=integration_id,
                    operator_badge=operator_badge,
                    supervisor_badge=supervisor_badge,
                    on_behalf_of=on_behalf_of,
                    target_fingerprint=target_fingerprint,
                    offense_code=offense_code,
                    justification=justification,
                    case_number=case_number,
                    result_count=result_count,
                    client_ref=client_ref,
                ),
            )
            if leaf_hash_hex(data) != stored_hash:
                raise LogVerificationError(
                    f"Entry {sequence}: its recorded fields no longer match its leaf hash."
                )
            for level, index, digest in append(bytes.fromhex(stored_hash)):
                if level == 0:
                    continue
                stored = nodes.next(level)
                if stored is None or stored[0] != index or stored[1] != digest.hex():
                    first = index << level
                    raise LogVerificationError(
                        f"Stored subtree hash L{level}#{index} (entries {first}-"
                        f"{first + (1 << level) - 1}) does not match the entries; first bad "
                        f"sequence {first}."
                    )
            expected += 1
            while next_head is not None and next_head.tree_size == expected:
                next_head = _check_head(next_head, tree, pending_heads)
        progress(len(rows))

    if expected != state.size:
        raise LogVerificationError(
            f"The log state says {state.size} entries but {expected} are stored."
        )
    for level in nodes.levels_started():
        extra = nodes.next(level)
        if extra is not None:
            raise LogVerificationError(f"Unexpected stored subtree L{level}#{extra[0]}.")
    top = max(nodes.levels_started(), default=0)
    if MerkleNode.objects.filter(level__gt=top).exists():
        raise LogVerificationError("Stored subtrees exist above the tree's height.")
    _check_links()
    frontier = [[level, digest.hex()] for level, digest in tree.frontier()]
    if frontier != state.frontier:
        raise LogVerificationError("The log state's frontier does not match the entries.")
    return VerifiedLog(size=expected, root_hash=tree.root().hex(), heads_checked=len(heads))


def _check_links() -> None:
    """The resolved operator, supervisor and agency links must match the committed codes.

    The links are not part of the commitment (the codes are), so an edited link would
    otherwise make pages show another person than the one the log committed to.
    """
    links = {
        "operator": ("operator__badge_number", "operator_badge"),
        "supervisor": ("supervisor__badge_number", "supervisor_badge"),
        "requesting_agency": ("requesting_agency__code", "requesting_agency_code"),
    }
    for link, (linked, committed) in links.items():
        wrong = (
            QueryLogEntry.objects.filter(**{f"{link}__isnull": False})
            .exclude(**{linked: F(committed)})
            .order_by("sequence")
            .values_list("sequence", flat=True)
            .first()
        )
        if wrong is not None:
            raise LogVerificationError(
                f"Entry {wrong}: its {link.replace('_', ' ')} link does not match the "
                f"committed {committed.replace('_', ' ')}."
            )


def _check_head(head: SignedTreeHead, tree: TreeBuilder, rest: Iterator) -> SignedTreeHead | None:
    if tree.root().hex() != head.root_hash:
        raise LogVerificationError(
            f"Tree head of size {head.tree_size} does not match the log's root at that size: "
            "entries before it were changed, or the head was forged."
        )
    return next(rest, None)
