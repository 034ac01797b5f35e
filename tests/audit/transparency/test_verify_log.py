"""`audit.verification.verify_log()` and `manage.py verify_log`, on honest and tampered logs.

Tampering with an append-only table needs deliberate DDL: the tests drop the triggers inside the
test's transaction (DDL is transactional on SQLite and PostgreSQL, so the rollback at the end of
each test puts them back; `test_dropping_triggers_is_rolled_back_with_the_transaction` and the
autouse check below prove it on whichever database runs the suite).
"""

import base64
import hashlib
import os
import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from sightline_verifier.merkle import EMPTY_ROOT, TreeBuilder, canonical_json

from audit.log.db import APPEND_ONLY_TABLES, create_append_only_triggers, drop_append_only_triggers
from audit.log.parsing import QueryInput
from audit.log.services import record_queries
from audit.models import (
    Agency,
    LogState,
    MerkleNode,
    Operator,
    QueryLogEntry,
    SignedTreeHead,
)
from audit.transparency import selectors, signing, verification
from audit.transparency.services import publish_tree_head
from audit.transparency.verification import LogVerificationError, verify_log
from tests.factories import AgencyFactory, OperatorFactory

# --- helpers ---------------------------------------------------------------------------------


def make_query(n: int) -> QueryInput:
    """A varied but deterministic query; n picks the variations."""
    return QueryInput(
        technology=("face-recognition", "license-plate-reader", "nibin")[n % 3],
        query_type=("photo-probe", "plate-search", "casing-correlation")[n % 3],
        occurred_at=datetime(2026, 3, 1, 14, 0, tzinfo=UTC) + timedelta(hours=7 * n),
        operator=f"B{1000 + n % 4}",
        target_fingerprint=hashlib.sha256(f"target {n}".encode()).hexdigest(),
        offense_code=("09A", "", "120", "13A")[n % 4],
        justification=f"Investigation of incident {n}, lead from the camera network.",
        case_number="" if n % 5 == 0 else f"2026-{n:06d}",
        supervisor="" if n % 2 else "B2001",
        requesting_agency=("BPD", "JCSO")[n % 2],
        on_behalf_of="" if n % 3 else "Hoover PD",
        scope=("local", "regional", "national")[n % 3],
        result_count=n,
        client_ref=f"ref-{n}",
    )


def record(integration, count: int) -> None:
    start = LogState.objects.get(id=1).size
    record_queries(integration=integration, queries=[make_query(start + i) for i in range(count)])


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify_log", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def assert_fails(pattern: str) -> str:
    """verify_log() and the command both fail, with a message matching pattern."""
    with pytest.raises(LogVerificationError) as raised:
        verify_log()
    message = str(raised.value)
    assert re.search(pattern, message), message
    with pytest.raises(CommandError) as command_error:
        run_command("--no-progress")
    assert command_error.value.returncode != 0
    assert str(command_error.value) == f"FAILED: {message}"
    return message


def execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.rowcount


def delete_entries(where: str, params=()) -> int:
    """Raw DELETE of entries (and first of the rows that reference them), as an attacker would."""
    selected = f"SELECT sequence FROM audit_querylogentry WHERE {where}"
    for relation in QueryLogEntry._meta.related_objects:
        table = relation.related_model._meta.db_table
        column = relation.field.column
        execute(f"DELETE FROM {q(table)} WHERE {q(column)} IN ({selected})", params)
    return execute(f"DELETE FROM audit_querylogentry WHERE {where}", params)


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def expected_trigger_names() -> set[str]:
    if connection.vendor == "postgresql":
        return {f"{t}_{s}" for t in APPEND_ONLY_TABLES for s in ("append_only", "no_truncate")}
    return {f"{t}_no_{op}" for t in APPEND_ONLY_TABLES for op in ("update", "delete")}


def trigger_names() -> set[str]:
    if connection.vendor == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0] for row in cursor.fetchall()}


def other_key_head(*, tree_size: int, root_hash: str, claim_our_key: bool) -> dict:
    """A well-formed head signed by someone else's Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    timestamp = "2026-03-05T12:00:00Z"
    message = canonical_json(
        {"tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp}
    )
    return {
        "tree_size": tree_size,
        "root_hash": root_hash,
        "timestamp": timestamp,
        "signature": base64.b64encode(key.sign(message)).decode(),
        "key_id": signing.key_id() if claim_our_key else hashlib.sha256(raw).hexdigest(),
    }


def store_head(head: dict) -> SignedTreeHead:
    return SignedTreeHead.objects.create(**head, published_at=timezone.now())


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(autouse=True, params=["one unit", "units of 4, chunks of 3"])
def units(request, monkeypatch):
    """Run every test twice: the whole log as one unit, and split into units of 4 entries read
    3 rows at a time, so problems fall inside units, at their edges and above them."""
    if request.param != "one unit":
        monkeypatch.setattr(verification, "UNIT_LEVEL", 2)
        monkeypatch.setattr(verification, "CHUNK", 3)
    return request.param


@pytest.fixture(autouse=True)
def _triggers_in_place(db):
    """Every test starts with the append-only triggers in place, whatever the test before did."""
    assert expected_trigger_names() <= trigger_names()


@pytest.fixture
def unlocked(db):
    """Drop the append-only triggers (deliberate DDL) for this test; put them back after."""
    drop_append_only_triggers(connection)
    assert not expected_trigger_names() & trigger_names()
    yield
    create_append_only_triggers(connection)
    assert expected_trigger_names() <= trigger_names()


@pytest.fixture
def log12(integration):
    """12 entries recorded in batches of 5, 3 and 4, with a signed head after each batch."""
    for count in (5, 3, 4):
        record(integration, count)
        assert publish_tree_head() is not None
    assert list(SignedTreeHead.objects.values_list("tree_size", flat=True)) == [5, 8, 12]
    return 12


# --- the triggers and the transaction --------------------------------------------------------


@pytest.mark.django_db
def test_triggers_refuse_raw_edits(log12):
    statements = [
        (f"UPDATE audit_querylogentry SET justification = 'x' WHERE {q('sequence')} = 3", ()),
        ("DELETE FROM audit_querylogentry WHERE sequence = 11", ()),
        (f"UPDATE audit_merklenode SET hash = %s WHERE {q('level')} = 1", ["00" * 32]),
        ("DELETE FROM audit_signedtreehead", ()),
    ]
    for sql, params in statements:
        with pytest.raises(DatabaseError), transaction.atomic():
            execute(sql, params)
    verify_log()


@pytest.mark.django_db
def test_dropping_triggers_is_rolled_back_with_the_transaction(log12):
    with transaction.atomic():
        drop_append_only_triggers(connection)
        assert not expected_trigger_names() & trigger_names()
        assert execute("UPDATE audit_querylogentry SET justification = 'x' WHERE sequence = 3")
        transaction.set_rollback(True)
    assert expected_trigger_names() <= trigger_names()
    assert QueryLogEntry.objects.get(sequence=3).justification != "x"
    with pytest.raises(DatabaseError), transaction.atomic():
        execute("UPDATE audit_querylogentry SET justification = 'x' WHERE sequence = 3")
    verify_log()


# --- honest logs -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_empty_log_verifies():
    result = verify_log()
    assert (result.size, result.root_hash, result.heads_checked) == (0, EMPTY_ROOT.hex(), 0)
    out, _ = run_command("--no-progress")
    assert out == f"OK: 0 entries, root {hashlib.sha256(b'').hexdigest()}\n"


@pytest.mark.django_db
def test_empty_log_with_its_first_head_verifies():
    assert publish_tree_head(force=True).tree_size == 0
    result = verify_log()
    assert (result.size, result.heads_checked) == (0, 1)
    assert run_command("--no-progress")[0] == f"OK: 0 entries, root {EMPTY_ROOT.hex()}\n"


@pytest.mark.django_db
def test_populated_log_verifies(log12, integration):
    record(integration, 3)  # entries after the last head are verified too
    calls: list[int] = []
    result = verify_log(progress=calls.append)
    root = selectors.root_at(15).hex()
    assert (result.size, result.root_hash, result.heads_checked) == (15, root, 3)
    assert sum(calls) == 15

    # The root is the RFC 6962 root of the stored leaf hashes.
    builder = TreeBuilder()
    for digest in QueryLogEntry.objects.order_by("sequence").values_list("leaf_hash", flat=True):
        builder.append(bytes.fromhex(digest))
    assert builder.root().hex() == root

    out, err = run_command()
    assert out == f"OK: 15 entries, root {root}\n"
    assert "Verifying" in err  # the progress bar goes to stderr, not into the summary
    out, err = run_command("--no-progress")
    assert out == f"OK: 15 entries, root {root}\n"
    assert err == ""


@pytest.mark.django_db
def test_log_with_a_perfect_power_of_two_and_a_large_batch_verifies(integration):
    record(integration, 64)
    publish_tree_head()
    record(integration, 137)
    publish_tree_head()
    result = verify_log()
    assert (result.size, result.root_hash) == (201, selectors.root_at(201).hex())
    assert run_command("--no-progress")[0] == f"OK: 201 entries, root {result.root_hash}\n"


# --- (a) an entry's row edited ---------------------------------------------------------------


def _tampered_value(column: str):
    values = {
        "justification": "Routine check, nothing to see.",
        "case_number": "2026-999999",
        "operator_badge": "B9999",
        "supervisor_badge": "B2999",
        "target_fingerprint": "0" * 64,
        "offense_code": "13B",
        "offense_category": "Assault Offenses",
        "on_behalf_of": "Someone else",
        "scope": "national",
        "requesting_agency_code": "FBI",
        "technology_id": "license-plate-reader",
        "query_type": "hotlist-alert",
        "result_count": 9999,
        "client_ref": "forged-ref",
        "salt": "00" * 16,
        "leaf_hash": "ab" * 32,
        "local_date": connection.ops.adapt_datefield_value(date(2025, 1, 1)),
        "occurred_at": connection.ops.adapt_datetimefield_value(
            datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
        ),
        "recorded_at": connection.ops.adapt_datetimefield_value(
            datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
        ),
    }
    return values[column]


EDITABLE_COLUMNS = [
    "justification",
    "case_number",
    "operator_badge",
    "supervisor_badge",
    "target_fingerprint",
    "offense_code",
    "offense_category",
    "on_behalf_of",
    "scope",
    "requesting_agency_code",
    "technology_id",
    "query_type",
    "result_count",
    "client_ref",
    "salt",
    "leaf_hash",
    "local_date",
    "occurred_at",
    "recorded_at",
]


@pytest.mark.django_db
def test_edited_entry_is_named(log12, unlocked):
    """Each recorded column, edited on its own (each edit rolled back before the next)."""
    select = "SELECT {0} FROM audit_querylogentry WHERE sequence = 6"
    update = "UPDATE audit_querylogentry SET {0} = %s WHERE sequence = 6"
    failed = []
    for column in EDITABLE_COLUMNS:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select.format(q(column)))
            before = cursor.fetchone()[0]
            assert execute(update.format(q(column)), [_tampered_value(column)]) == 1
            cursor.execute(select.format(q(column)))
            assert cursor.fetchone()[0] != before, column
            try:
                assert_fails(r"^Entry 6: ")
            except AssertionError as problem:
                failed.append(f"{column}: {problem}")
            transaction.set_rollback(True)
        verify_log()  # the edit is gone again
    assert not failed, failed


@pytest.mark.django_db
def test_first_of_several_edited_entries_is_named(log12, unlocked):
    for sequence in (9, 2, 10):
        execute(
            "UPDATE audit_querylogentry SET justification = %s WHERE sequence = %s",
            ["edited", sequence],
        )
    assert_fails(r"^Entry 2: ")


@pytest.mark.django_db
def edit_scope_and_rehash(client, sequence: int) -> None:
    """Change an entry's public scope; store the leaf hash that matches its new leaf.

    The new leaf is the served one with only `scope` changed (scope is public, so the private
    commitment stays valid); its hash is recomputed here as RFC 6962 prescribes.
    """
    response = client.get("/api/v1/log/entries", {"start": sequence, "end": sequence + 1})
    (served,) = response.json()["entries"]
    scope = "regional" if served["leaf"]["scope"] != "regional" else "national"
    leaf = {**served["leaf"], "scope": scope}
    new_hash = hashlib.sha256(b"\x00" + canonical_json(leaf)).hexdigest()
    execute(
        "UPDATE audit_querylogentry SET scope = %s, leaf_hash = %s WHERE sequence = %s",
        [scope, new_hash, sequence],
    )


@pytest.mark.django_db
def test_edited_entry_with_recomputed_leaf_hash_is_caught_by_the_stored_subtree(
    log12, unlocked, anon_client
):
    edit_scope_and_rehash(anon_client, 5)
    # Leaf 5 sits in the stored subtree L1#2 (entries 4-5).
    assert_fails(r"L1#2 \(entries 4-5\)")


@pytest.mark.django_db
def test_rewritten_history_is_caught_by_the_signed_heads(log12, unlocked, anon_client):
    """Edit entry 6 and rebuild every derived hash consistently: only the heads can tell."""
    edit_scope_and_rehash(anon_client, 6)
    execute("DELETE FROM audit_merklenode")
    tree = TreeBuilder()
    for digest in QueryLogEntry.objects.order_by("sequence").values_list("leaf_hash", flat=True):
        for level, index, node in tree.append(bytes.fromhex(digest)):
            if level:
                MerkleNode.objects.create(level=level, index=index, hash=node.hex())
    LogState.objects.filter(id=1).update(
        frontier=[[level, h.hex()] for level, h in tree.frontier()]
    )
    # Head 5 still matches (entries 0-4 are untouched); head 8 is the first that does not.
    assert_fails(r"^Tree head of size 8 does not match")


# --- (b) a stored subtree hash edited --------------------------------------------------------


@pytest.mark.django_db
def test_edited_subtree_hash_is_named(log12, unlocked):
    update = f"UPDATE audit_merklenode SET hash = %s WHERE {q('level')} = %s AND {q('index')} = %s"
    for level, index, pattern in [
        (1, 3, r"L1#3 \(entries 6-7\).*first bad sequence 6"),
        (2, 1, r"L2#1 \(entries 4-7\).*first bad sequence 4"),
        (3, 0, r"L3#0 \(entries 0-7\).*first bad sequence 0"),
        (1, 5, r"L1#5 \(entries 10-11\).*first bad sequence 10"),
    ]:
        with transaction.atomic():
            assert execute(update, ["cd" * 32, level, index]) == 1
            assert_fails(pattern)
            transaction.set_rollback(True)
    verify_log()


@pytest.mark.django_db
def test_deleted_subtree_hash_is_named(log12, unlocked):
    sql = f"DELETE FROM audit_merklenode WHERE {q('level')} = 2 AND {q('index')} = 0"
    assert execute(sql) == 1
    assert_fails(r"L2#0 \(entries 0-3\)")


@pytest.mark.django_db
def test_extra_subtree_hash_is_found(log12):
    MerkleNode.objects.create(level=1, index=40, hash="ef" * 32)
    assert_fails(r"L1#40")


@pytest.mark.django_db
def test_subtree_above_the_tree_is_found(log12):
    MerkleNode.objects.create(level=9, index=0, hash="ef" * 32)
    assert_fails(r"above the tree")


# --- (c) forged or tampered heads ------------------------------------------------------------


@pytest.mark.django_db
def test_head_signed_by_another_key_is_named(log12):
    store_head(other_key_head(tree_size=10, root_hash="5a" * 32, claim_our_key=False))
    assert_fails(r"^Tree head of size 10 names key [0-9a-f]{16}…, not ours")


@pytest.mark.django_db
def test_head_claiming_our_key_with_a_foreign_signature_is_named(log12):
    store_head(other_key_head(tree_size=10, root_hash="5a" * 32, claim_our_key=True))
    assert_fails(r"^Tree head of size 10: bad signature")


@pytest.mark.django_db
def test_foreign_signature_over_the_true_root_is_still_refused(log12):
    root = selectors.root_at(10).hex()
    store_head(other_key_head(tree_size=10, root_hash=root, claim_our_key=True))
    assert_fails(r"^Tree head of size 10: bad signature")


@pytest.mark.django_db
def test_tampered_signature_is_named(log12, unlocked):
    head = SignedTreeHead.objects.get(tree_size=8)
    raw = bytearray(base64.b64decode(head.signature))
    raw[10] ^= 0x01
    execute(
        "UPDATE audit_signedtreehead SET signature = %s WHERE tree_size = 8",
        [base64.b64encode(bytes(raw)).decode()],
    )
    assert_fails(r"^Tree head of size 8: bad signature")


@pytest.mark.django_db
def test_tampered_head_root_is_named(log12, unlocked):
    execute("UPDATE audit_signedtreehead SET root_hash = %s WHERE tree_size = 5", ["77" * 32])
    assert_fails(r"^Tree head of size 5: bad signature")


@pytest.mark.django_db
def test_validly_signed_head_with_a_wrong_root_is_named(log12):
    """A head signed with our own key (a bug, or a stolen key) must still match the entries."""
    store_head(signing.sign_tree_head(tree_size=10, root_hash=selectors.root_at(9).hex()))
    assert_fails(r"^Tree head of size 10 does not match the log's root")


# --- (d) an entry deleted --------------------------------------------------------------------


@pytest.mark.django_db
def test_deleted_entry_is_named(log12, unlocked):
    assert delete_entries("sequence = 7") == 1
    assert_fails(r"^Sequence 7 is missing")


@pytest.mark.django_db
def test_first_of_several_deleted_entries_is_named(log12, unlocked):
    assert delete_entries("sequence IN (9, 3, 4)") == 3
    assert_fails(r"^Sequence 3 is missing")


@pytest.mark.django_db
def test_deleted_first_entry_is_named(log12, unlocked):
    assert delete_entries("sequence = 0") == 1
    assert_fails(r"^Sequence 0 is missing")


@pytest.mark.django_db
def test_deleted_last_entry_is_found(log12, unlocked):
    assert delete_entries("sequence = 11") == 1
    assert_fails(r"12 entries but 11 are stored")


# --- (e) a database restored from an old backup ----------------------------------------------


@pytest.mark.django_db
def test_head_beyond_the_log_reports_lost_entries(integration, unlocked):
    """Restore the log as it was at 8 entries, while head 12 (already public) survives."""
    record(integration, 8)
    publish_tree_head()
    backup = LogState.objects.values("size", "frontier").get(id=1)
    record(integration, 4)
    publish_tree_head()

    assert delete_entries("sequence >= 8") == 4
    for level, index in MerkleNode.objects.values_list("level", "index"):
        if (index + 1) << level > 8:
            sql = f"DELETE FROM audit_merklenode WHERE {q('level')} = %s AND {q('index')} = %s"
            execute(sql, [level, index])
    LogState.objects.filter(id=1).update(**backup)

    message = assert_fails(r"^Tree head of size 12 was published, but the log holds only 8 ")
    assert "entries were lost" in message


@pytest.mark.django_db
def test_forged_head_beyond_the_log_is_refused(log12):
    """A far-future head with a foreign signature is a forgery, whatever size it claims."""
    store_head(other_key_head(tree_size=1000, root_hash="11" * 32, claim_our_key=True))
    assert_fails(r"^Tree head of size 1000")


# --- (f) the log state edited ----------------------------------------------------------------


@pytest.mark.django_db
def test_edited_frontier_is_found(log12):
    state = LogState.objects.get(id=1)
    frontier = [list(pair) for pair in state.frontier]
    assert [level for level, _ in frontier] == [3, 2]  # 12 = 8 + 4
    frontier[1][1] = "99" * 32
    LogState.objects.filter(id=1).update(frontier=frontier)
    assert_fails(r"frontier does not match")


@pytest.mark.django_db
def test_frontier_of_another_shape_is_found(log12):
    LogState.objects.filter(id=1).update(frontier=[[3, selectors.root_at(8).hex()]])
    assert_fails(r"frontier does not match")


@pytest.mark.django_db
def test_edited_size_is_found(log12):
    LogState.objects.filter(id=1).update(size=13)
    assert_fails(r"13 entries but 12 are stored")


# --- worker processes ------------------------------------------------------------------------


def _tamper_committed(*statements: tuple[str, list]) -> None:
    """Committed raw edits past the triggers (a transactional test: workers must see them)."""
    drop_append_only_triggers(connection)
    try:
        for sql, params in statements:
            assert execute(sql, params) == 1
    finally:
        create_append_only_triggers(connection)


@pytest.mark.django_db(transaction=True)
def test_worker_processes_check_the_units_and_name_the_lowest_problem(
    log_db, integration, monkeypatch
):
    """Units of 4 entries in 2 worker processes, each with its own database connection."""
    monkeypatch.setattr(verification, "UNIT_LEVEL", 2)
    monkeypatch.setattr(verification, "CHUNK", 3)
    for count in (5, 20, 11):
        record(integration, count)
        publish_tree_head()
    assert not connection.in_atomic_block and verification._can_fork()

    pids = []
    original = verification._unit_results

    def spy(tasks, workers):
        for result in original(tasks, workers):
            pids.append(result.pid)
            yield result

    monkeypatch.setattr(verification, "_unit_results", spy)
    in_workers = verify_log(workers=2)
    assert len(pids) == 9 and os.getpid() not in pids  # 36 entries: 9 units, none checked here
    pids.clear()
    in_process = verify_log(workers=1)
    assert set(pids) == {os.getpid()}
    assert in_workers == in_process
    assert (in_workers.size, in_workers.root_hash) == (36, selectors.root_at(36).hex())

    # Problems in several units: the lowest is named, whichever worker finishes first.
    update = "UPDATE audit_querylogentry SET justification = %s WHERE sequence = %s"
    _tamper_committed((update, ["edited", 30]), (update, ["edited", 13]))
    for workers in (2, 1):
        with pytest.raises(LogVerificationError, match=r"^Entry 13: "):
            verify_log(workers=workers)
    node = f"UPDATE audit_merklenode SET hash = %s WHERE {q('level')} = %s AND {q('index')} = %s"
    _tamper_committed((node, ["cd" * 32, 1, 2]))
    for workers in (2, 1):
        with pytest.raises(LogVerificationError, match=r"L1#2 \(entries 4-5\)"):
            verify_log(workers=workers)


# --- (g) the resolved links edited -----------------------------------------------------------


@pytest.fixture
def linked_log(integration, home_agency):
    """12 entries whose operator, supervisor and agency codes all resolve to stored rows."""
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office")
    for badge in ("B1000", "B1001", "B1002", "B1003", "B2001", "B2999"):
        OperatorFactory(badge_number=badge, agency=home_agency)
    record(integration, 12)
    publish_tree_head()
    assert QueryLogEntry.objects.filter(operator__isnull=False).count() == 12
    assert QueryLogEntry.objects.filter(supervisor__isnull=False).count() == 6
    assert QueryLogEntry.objects.filter(requesting_agency__isnull=False).count() == 12
    verify_log()


@pytest.mark.django_db
def test_edited_links_are_named(linked_log, unlocked):
    """A link pointing at another person or agency than the committed code; lowest entry named."""
    other_operator = Operator.objects.get(badge_number="B2999").pk
    jcso = Agency.objects.get(code="JCSO").pk
    bpd = Agency.objects.get(code="BPD").pk
    cases = [
        ("operator_id", [(9, other_operator), (3, other_operator)], r"^Entry 3: its operator link"),
        ("supervisor_id", [(10, other_operator)], r"^Entry 10: its supervisor link"),
        ("requesting_agency_id", [(7, bpd), (4, jcso)], r"^Entry 4: its requesting agency link"),
    ]
    for column, edits, pattern in cases:
        with transaction.atomic():
            for sequence, value in edits:
                sql = f"UPDATE audit_querylogentry SET {q(column)} = %s WHERE sequence = %s"
                assert execute(sql, [value, sequence]) == 1
            message = assert_fails(pattern)
            assert message.endswith(
                "does not match the committed "
                + {
                    "operator_id": "operator badge.",
                    "supervisor_id": "supervisor badge.",
                    "requesting_agency_id": "requesting agency code.",
                }[column]
            )
            transaction.set_rollback(True)
    verify_log()
    # Both a bad operator link and a bad agency link: the operator's is named, as before.
    execute(
        f"UPDATE audit_querylogentry SET {q('requesting_agency_id')} = %s WHERE sequence = 1",
        [jcso],
    )
    execute(
        f"UPDATE audit_querylogentry SET {q('operator_id')} = %s WHERE sequence = 11",
        [other_operator],
    )
    assert_fails(r"^Entry 11: its operator link")


@pytest.mark.django_db
def test_an_edited_target_prefix_is_named(integration, unlocked):
    """The target prefix is derived from the committed fingerprint: one changed (or removed), which
    would hide the entry from every read by target, is named; the lowest entry first."""
    record(integration, 12)
    publish_tree_head()
    verify_log()
    with transaction.atomic():
        execute("UPDATE audit_querylogentry SET target_prefix = NULL WHERE sequence = 9")
        execute(
            "UPDATE audit_querylogentry SET target_prefix = target_prefix + 1 WHERE sequence = 4"
        )
        message = assert_fails(r"^Entry 4: its target prefix does not match")
        assert message.endswith("committed target fingerprint, so reads by target would miss it.")
        transaction.set_rollback(True)
    with transaction.atomic():
        execute("UPDATE audit_querylogentry SET target_prefix = NULL WHERE sequence = 9")
        assert_fails(r"^Entry 9: its target prefix")
        transaction.set_rollback(True)
    verify_log()


# --- (f) a live log, appended to while it is checked -----------------------------------------


def appending(integration, count: int, also=None):
    """A progress callback that appends `count` entries (then runs `also`) the first time."""
    calls = []

    def progress(done: int) -> None:
        if not calls:
            record(integration, count)
            if also is not None:
                also()
        calls.append(done)

    return progress


@pytest.mark.django_db
def test_entries_and_subtrees_appended_while_the_log_is_checked_are_not_extra(log12, integration):
    # 12 + 9: new subtrees at every level up to L4, above the checked tree's height (L3).
    result = verify_log(progress=appending(integration, 9))
    assert result.size == 12  # what was checked; the next run checks the rest
    assert MerkleNode.objects.filter(level=4).exists()
    assert verify_log().size == 21


@pytest.mark.django_db
def test_an_entry_stored_beyond_the_state_is_found_while_the_log_grows(log12, integration):
    def stray():
        # A copy of entry 0 far past the log's end, as SQL outside the service could store it.
        columns = [f.column for f in QueryLogEntry._meta.concrete_fields if f.column != "sequence"]
        names = ", ".join(q(c) for c in columns)
        values = ", ".join("NULL" if c == "client_ref" else q(c) for c in columns)
        execute(
            f"INSERT INTO audit_querylogentry (sequence, {names}) "
            f"SELECT 40, {values} FROM audit_querylogentry WHERE sequence = 0"
        )

    with pytest.raises(LogVerificationError, match=r"^The log state says 15 entries but 16"):
        verify_log(progress=appending(integration, 3, also=stray))
