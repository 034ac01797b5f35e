"""verify_log's C leaf hashing (audit/native) held to the Python path and to json.dumps (issue 4).

The C library reads the stored rows itself (an SQLite file, or its own libpq connection) and
writes each entry's commitment and leaf in C. These tests give it every value shape the Python
path is tested with, stored as Django's SQLite backend stores them or sent by PostgreSQL, and
require the same leaf hashes as the json.dumps reference; values the Python path would refuse
must make the entry fail, never pass; and on a committed log verify_log must name the same
tampered entry with it as without it.

The library is built by `make native` (every make target that runs code builds it). Without it
these tests are skipped, except under CI, where .ci/run installs the compiler and they fail.
"""

import ctypes
import ctypes.util
import hashlib
import logging
import os
import sqlite3
import tempfile
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import leaves, native, selectors, services, verification
from audit.models import Agency, Operator, QueryLogEntry
from audit.verification import LogVerificationError, verify_log
from tests.audit.test_leaves import TRICKY, reference_leaf, text
from tests.audit.test_verify_log import (  # noqa: F401 (linked_log: a fixture)
    EDITABLE_COLUMNS,
    _tamper_committed,
    _tampered_value,
    linked_log,
    q,
    record,
)


@pytest.fixture(scope="module")
def lib():
    built = native.library()
    if built is None:
        if os.environ.get("CI"):
            pytest.fail("audit/native/_leafhash.so is not built: .ci/run builds it (make native)")
        pytest.skip("audit/native is not built (make native)")
    return built


# --- a stand-alone SQLite file with the entry columns -----------------------------------------

_TABLE_COLUMNS = {  # ROW_FIELDS name -> (column, declared type as in the migration)
    "sequence": ("sequence", "bigint"),
    "recorded_at": ("recorded_at", "datetime"),
    "occurred_at": ("occurred_at", "datetime"),
    "local_date": ("local_date", "date"),
    "technology": ("technology_id", "varchar(50)"),
    "query_type": ("query_type", "varchar(40)"),
    "integration_id": ("integration_id", "varchar(150)"),
    "agency": ("requesting_agency_code", "varchar(32)"),
    "on_behalf_of": ("on_behalf_of", "varchar(200)"),
    "operator_badge": ("operator_badge", "varchar(32)"),
    "supervisor_badge": ("supervisor_badge", "varchar(32)"),
    "target_fingerprint": ("target_fingerprint", "varchar(64)"),
    "offense_code": ("offense_code", "varchar(8)"),
    "offense_category": ("offense_category", "varchar(64)"),
    "justification": ("justification", "text"),
    "case_number": ("case_number", "varchar(64)"),
    "scope": ("scope", "varchar(16)"),
    "result_count": ("result_count", "integer unsigned"),
    "client_ref": ("client_ref", "varchar(128)"),
    "salt": ("salt", "varchar(32)"),
}
SQL = verification._sql("sqlite", lambda name: f'"{name}"')
PYTHON_SQL = SQL["entries"].replace("%s", "?")


def django_text(moment: datetime) -> str:
    """A time as Django's SQLite backend stores it: naive UTC, microseconds only when non-zero."""
    return str(moment.astimezone(UTC).replace(tzinfo=None))


def stored_row(f: dict, leaf_hash: str) -> dict:
    row = {column: f[name] for name, (column, _) in _TABLE_COLUMNS.items()}
    row.update(
        recorded_at=django_text(f["recorded_at"]),
        occurred_at=django_text(f["occurred_at"]),
        salt=f["salt"].hex(),
        leaf_hash=leaf_hash,
    )
    return row


def expected_hash(f: dict) -> bytes:
    """The leaf hash of json.dumps of the leaf (test_leaves.reference_leaf)."""
    committed = {**f, "recorded_at": leaves.iso_utc(f["recorded_at"]),
                 "occurred_at": leaves.iso_utc(f["occurred_at"])}  # fmt: skip
    return hashlib.sha256(b"\x00" + reference_leaf(committed)).digest()


def write_database(directory: str, rows: list[dict], operators=(), agencies=()) -> str:
    """An SQLite file with the entries (and the operators and agencies their links point at)."""
    path = os.path.join(directory, "entries.sqlite3")
    columns = [*(f'"{column}" {kind}' for column, kind in _TABLE_COLUMNS.values())]
    links = "leaf_hash text, operator_id bigint, supervisor_id bigint, requesting_agency_id bigint"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = wal")
        db.execute(f"CREATE TABLE audit_querylogentry ({', '.join(columns)}, {links})")
        db.execute("CREATE TABLE audit_operator (id integer PRIMARY KEY, badge_number text)")
        db.execute("CREATE TABLE audit_agency (id integer PRIMARY KEY, code text)")
        db.executemany("INSERT INTO audit_operator VALUES (?, ?)", operators)
        db.executemany("INSERT INTO audit_agency VALUES (?, ?)", agencies)
        for row in rows:
            names = ", ".join(f'"{name}"' for name in row)
            marks = ", ".join("?" for _ in row)
            db.execute(
                f"INSERT INTO audit_querylogentry ({names}) VALUES ({marks})",
                list(row.values()),
            )
    return path


def plain(result: tuple) -> tuple:
    """A library result with its sequences as a list (the library gives a memoryview)."""
    return (list(result[0]), *result[1:])


def subtree_levels(digests: list[bytes]) -> list[list[bytes]]:
    """Level 1 (pairs of leaves), level 2, ... while two nodes remain, with plain hashlib."""
    levels, below = [], digests
    while len(below) >= 2:
        below = [hashlib.sha256(b"\x01" + below[i] + below[i + 1]).digest()
                 for i in range(0, len(below) - 1, 2)]  # fmt: skip
        levels.append(below)
    return levels


def python_result(rows: list[tuple]) -> tuple:
    """What the C library must give for these rows of the Python path's SELECT."""
    digests = leaves.leaf_hashes_of_rows(row[:-1] for row in rows)
    mismatch = next((i for i, (d, row) in enumerate(zip(digests, rows, strict=True))
                     if d.hex() != row[-1]), None)  # fmt: skip
    return [row[0] for row in rows], digests, mismatch, subtree_levels(digests), [None] * 3


def both_paths(path: str, start: int, end: int, lib) -> tuple[tuple, tuple]:
    """(sequences, digests, first mismatch, subtree levels) from the C library and from the
    Python path."""
    with sqlite3.connect(path) as db:
        rows = db.execute(PYTHON_SQL, [start, end]).fetchall()
    c = native.leaf_hashes(lib, path, SQL["native_entries"], start, end)
    return plain(c), python_result(rows)


TEXT_FIELDS = ("technology", "query_type", "integration_id", "agency", "on_behalf_of",
               "operator_badge", "supervisor_badge", "target_fingerprint", "offense_code",
               "offense_category", "justification", "case_number", "scope")  # fmt: skip


def entry(**values) -> dict:
    """One entry's fields (a time as a datetime, the salt as bytes); `values` override."""
    return {
        "sequence": 0,
        "recorded_at": datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=UTC),
        "occurred_at": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        "local_date": "2026-03-03",
        **dict.fromkeys(TEXT_FIELDS, "x"),
        "result_count": 7,
        "client_ref": None,
        "salt": bytes(range(16)),
        **values,
    }


moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)
fields = st.fixed_dictionaries(
    {
        "recorded_at": moments,
        "occurred_at": moments,
        "local_date": st.dates().map(lambda d: d.isoformat()),
        **dict.fromkeys(TEXT_FIELDS, text),
        "result_count": st.one_of(st.none(), st.integers(min_value=0, max_value=2**62)),
        "client_ref": st.one_of(st.none(), text),
        "salt": st.binary(min_size=16, max_size=16),
    }
)


# --- the same bytes as json.dumps -------------------------------------------------------------


@given(rows=st.lists(fields, min_size=1, max_size=6), honest=st.lists(st.booleans(), min_size=6))
@settings(max_examples=150, deadline=None)
def test_c_leaf_hashes_equal_json_dumps_and_the_python_path(lib, rows, honest):
    entries = [{**f, "sequence": 40 + n} for n, f in enumerate(rows)]
    stored = [
        stored_row(f, expected_hash(f).hex() if honest[n] else "ab" * 32)
        for n, f in enumerate(entries)
    ]
    with tempfile.TemporaryDirectory() as directory:
        c, python = both_paths(write_database(directory, stored), 40, 40 + len(entries), lib)
    assert c[1] == [expected_hash(f) for f in entries]
    assert c == python
    assert c[0] == [40 + n for n in range(len(entries))]
    first_dishonest = next((n for n in range(len(entries)) if not honest[n]), None)
    assert c[2] == first_dishonest


def test_c_leaf_hashes_with_each_tricky_value_in_each_field(lib):
    base = entry()
    entries = []
    for name in (*TEXT_FIELDS, "client_ref"):
        entries += [{**base, name: tricky} for tricky in TRICKY]
    entries = [{**f, "sequence": n} for n, f in enumerate(entries)]
    assert len(entries) > 200
    with tempfile.TemporaryDirectory() as directory:
        path = write_database(directory, [stored_row(f, expected_hash(f).hex()) for f in entries])
        c, python = both_paths(path, 0, len(entries), lib)
    assert c == python
    assert c[1] == [expected_hash(f) for f in entries] and c[2] is None


# Whole seconds (stored without a fraction), fractions that lose trailing zeros in PostgreSQL's
# text (.5, .00012), one microsecond, and the first and last days.
INSTANTS = [
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 6, 30, 12, 0, 0, 500000, tzinfo=UTC),
    datetime(2026, 6, 30, 12, 0, 0, 120, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


def entries_at_instants() -> list[dict]:
    base = entry(client_ref="r", result_count=None, **dict.fromkeys(TEXT_FIELDS, ""))
    return [
        {**base, "sequence": n, "recorded_at": a, "occurred_at": b}
        for n, (a, b) in enumerate((a, b) for a in INSTANTS for b in INSTANTS)
    ]


def test_stored_times_convert_like_the_sql_of_the_python_path(lib):
    entries = entries_at_instants()
    with tempfile.TemporaryDirectory() as directory:
        path = write_database(directory, [stored_row(f, expected_hash(f).hex()) for f in entries])
        c, python = both_paths(path, 0, len(entries), lib)
    assert c == python and c[2] is None


# --- stricter, never laxer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("justification", None),  # NULL where the column is NOT NULL
        ("justification", b"\x00binary"),  # a BLOB in a text column
        ("result_count", "many"),  # text in the integer column
        ("result_count", 2.5),  # a real in the integer column
        ("salt", "not hex at all!!"),
        ("salt", "abc"),  # an odd number of hex digits
        ("recorded_at", None),
        ("recorded_at", "x" * 40),  # longer than any stored time
    ],
)
def test_values_the_python_path_would_not_accept_fail_the_entry(lib, column, value):
    """Such an entry gets no leaf hash at all (32 zero bytes) and is reported as not matching."""
    f = entry(sequence=5, salt=bytes(16))
    honest = stored_row(f, expected_hash(f).hex())
    with tempfile.TemporaryDirectory() as directory:
        path = write_database(directory, [honest, {**honest, "sequence": 6, column: value}])
        sequences, digests, mismatch, _, _ = plain(
            native.leaf_hashes(lib, path, SQL["native_entries"], 0, 9)
        )
    assert sequences == [5, 6]
    assert digests == [expected_hash(f), bytes(32)]
    assert mismatch == 1


def test_links_are_checked_in_the_same_pass(lib):
    """Each link's first entry pointing at another badge or code than the committed one; an
    empty link (NULL) never counts, and a link to the committed value is fine."""
    f = entry(operator_badge="B1", supervisor_badge="B2", agency="BPD")
    rows = [stored_row({**f, "sequence": n}, "00" * 32) for n in range(6)]
    links = {  # sequence: (operator_id, supervisor_id, requesting_agency_id)
        0: (1, 2, 10), 1: (None, None, None), 2: (2, 2, 10), 3: (2, 1, 11), 4: (1, 1, 11),
        5: (1, 2, 10),
    }  # fmt: skip
    for row in rows:
        row["operator_id"], row["supervisor_id"], row["requesting_agency_id"] = links[
            row["sequence"]
        ]
    with tempfile.TemporaryDirectory() as directory:
        path = write_database(directory, rows, [(1, "B1"), (2, "B2")], [(10, "BPD"), (11, "JCSO")])
        bad = native.leaf_hashes(lib, path, SQL["native_entries"], 0, 6)[4]
        assert bad == [2, 3, 3]
        assert native.leaf_hashes(lib, path, SQL["native_entries"], 4, 6)[4] == [None, 4, 4]
        assert native.leaf_hashes(lib, path, SQL["native_entries"], 5, 6)[4] == [None] * 3


def test_a_missing_stored_leaf_hash_is_a_mismatch(lib):
    f = entry(result_count=None, salt=b"", **dict.fromkeys(TEXT_FIELDS, ""))
    rows = [stored_row(f, expected_hash(f).hex()), stored_row(f, None)]
    rows[1]["sequence"] = 1
    with tempfile.TemporaryDirectory() as directory:
        path = write_database(directory, rows)
        _, digests, mismatch, _, _ = native.leaf_hashes(lib, path, SQL["native_entries"], 0, 2)
    assert digests[0] == expected_hash(f) and mismatch == 1


def test_errors_are_reported_not_swallowed(lib, tmp_path):
    with pytest.raises(native.NativeError, match="unable to open"):
        native.leaf_hashes(lib, str(tmp_path / "missing.sqlite3"), SQL["native_entries"], 0, 9)
    path = write_database(str(tmp_path), [])
    with pytest.raises(native.NativeError, match="no such column"):
        native.leaf_hashes(lib, path, "SELECT missing FROM audit_querylogentry", 0, 9)
    with pytest.raises(native.NativeError, match="expected 24 columns, not 1"):
        native.leaf_hashes(lib, path, "SELECT sequence FROM audit_querylogentry", 0, 9)
    assert plain(native.leaf_hashes(lib, path, SQL["native_entries"], 0, 9)) == (
        [],
        [],
        None,
        [],
        [None] * 3,
    )


def test_a_library_of_another_version_or_another_sqlite_is_not_used(lib, monkeypatch):
    assert native._shares_sqlite_with_python(lib)
    crypto = ctypes.CDLL(ctypes.util.find_library("crypto"))
    assert not native._shares_sqlite_with_python(crypto)  # no SQLite in it at all
    assert native._load(Path("/nonexistent/_leafhash.so")) is None
    monkeypatch.setattr(native, "VERSION", native.VERSION + 1)
    assert native._load(native.LIBRARY) is None
    monkeypatch.setenv("SIGHTLINE_NATIVE", "0")
    assert native.library() is None


# --- verify_log with the library, on a committed log ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_verify_log_names_the_same_tampered_entry_with_and_without_c(
    lib, log_db, integration, monkeypatch
):
    """On SQLite and on PostgreSQL: every column of an entry edited in turn (committed)."""
    for count in (5, 3, 4):
        record(integration, count)
        services.publish_tree_head()
    assert verification.hashes_leaves_in_c()
    calls = []
    original = native._run

    def counted(*args):
        calls.append(args[3:5])
        return original(*args)

    monkeypatch.setattr(native, "_run", counted)
    with_c = verify_log(workers=1)
    assert calls == [(0, 12)]  # the whole log went through the library
    monkeypatch.setenv("SIGHTLINE_NATIVE", "0")
    assert verify_log(workers=1) == with_c and len(calls) == 1
    monkeypatch.delenv("SIGHTLINE_NATIVE")

    select = f"SELECT {{0}} FROM {q('audit_querylogentry')} WHERE sequence = 6"
    update = f"UPDATE {q('audit_querylogentry')} SET {{0}} = %s WHERE sequence = 6"
    for column in EDITABLE_COLUMNS:
        with connection.cursor() as cursor:
            cursor.execute(select.format(q(column)))
            original_value = cursor.fetchone()[0]
        _tamper_committed((update.format(q(column)), [_tampered_value(column)]))
        try:
            for setting in ("1", "0"):
                monkeypatch.setenv("SIGHTLINE_NATIVE", setting)
                with pytest.raises(LogVerificationError, match=r"^Entry 6: "):
                    verify_log(workers=1)
        finally:
            _tamper_committed((update.format(q(column)), [original_value]))
    monkeypatch.setenv("SIGHTLINE_NATIVE", "1")
    assert verify_log(workers=1) == with_c
    assert len(calls) == len(EDITABLE_COLUMNS) + 2


@pytest.mark.django_db(transaction=True)
def test_the_command_says_where_the_leaves_are_hashed(lib, log_db, integration, monkeypatch):
    record(integration, 3)
    services.publish_tree_head()
    for setting, where in (("1", "in C (audit/native)"), ("0", "in Python")):
        monkeypatch.setenv("SIGHTLINE_NATIVE", setting)
        out, err = StringIO(), StringIO()
        call_command("verify_log", "--no-progress", verbosity=2, stdout=out, stderr=err)
        assert err.getvalue() == f"Leaf hashing: {where}\n"
        assert out.getvalue().startswith("OK: 3 entries, root ")
    call_command("verify_log", "--no-progress", stdout=out, stderr=(err := StringIO()))
    assert err.getvalue() == ""  # not at the default verbosity


@pytest.mark.django_db(transaction=True)
def test_what_the_library_cannot_read_is_checked_in_python(
    lib, log_db, integration, monkeypatch, caplog
):
    """A chunk the library fails on (or, on PostgreSQL, a connection it cannot open) is read by
    the Python path instead, with a warning: same result, never a crash or a gap."""
    record(integration, 12)
    services.publish_tree_head()
    expected = verify_log(workers=1)

    def failing(*args):
        raise native.NativeError("disk I/O error")

    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, "audit.verification"):
        patch.setattr(native, "_run", failing)
        assert verify_log(workers=1) == expected
    assert "could not read entries 0-11 (disk I/O error); checking them in Python" in caplog.text
    if connection.vendor == "postgresql":
        caplog.clear()
        with monkeypatch.context() as patch, caplog.at_level(logging.WARNING):
            patch.setattr(native, "PostgresConnection", failing)
            assert verify_log(workers=1) == expected
        assert "could not connect (disk I/O error); checking in Python" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_verify_log_names_the_same_bad_link_with_and_without_c(
    lib,
    log_db,
    linked_log,  # noqa: F811 (the fixture imported above)
    monkeypatch,
):
    """A link pointing at another person or agency than the committed code (committed edits)."""
    other_operator = Operator.objects.get(badge_number="B2999").pk
    jcso = Agency.objects.get(code="JCSO").pk
    update = "UPDATE audit_querylogentry SET {0} = %s WHERE sequence = %s"
    cases = [
        ("operator_id", [(9, other_operator), (3, other_operator)], r"^Entry 3: its operator link"),
        ("supervisor_id", [(10, other_operator)], r"^Entry 10: its supervisor link"),
        ("requesting_agency_id", [(7, jcso), (4, jcso)], r"^Entry 4: its requesting agency link"),
    ]
    for column, edits, pattern in cases:
        before = dict(QueryLogEntry.objects.values_list("sequence", column.removesuffix("_id")))
        _tamper_committed(*((update.format(q(column)), [value, n]) for n, value in edits))
        try:
            for setting in ("1", "0"):
                monkeypatch.setenv("SIGHTLINE_NATIVE", setting)
                assert verification.hashes_leaves_in_c() == (setting == "1")
                with pytest.raises(LogVerificationError, match=pattern):
                    verify_log(workers=1)
        finally:
            _tamper_committed(*((update.format(q(column)), [before[n], n]) for n, _ in edits))
        verify_log(workers=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("unit_level", "chunk"), [(15, 8192), (3, 4), (3, 2), (2, 3)])
def test_subtree_levels_from_c_give_the_same_tree_across_chunks_and_units(
    lib, log_db, integration, monkeypatch, unit_level, chunk
):
    """The C library's subtree levels, used where chunks start on subtree boundaries (built in
    Python where they do not: chunks of 3), give the same roots and name a changed node."""
    monkeypatch.setattr(verification, "UNIT_LEVEL", unit_level)
    monkeypatch.setattr(verification, "CHUNK", chunk)
    for count in (5, 20, 12):
        record(integration, count)
        services.publish_tree_head()
    results = {}
    for setting in ("1", "0"):
        monkeypatch.setenv("SIGHTLINE_NATIVE", setting)
        assert verification.hashes_leaves_in_c() == (setting == "1")
        results[setting] = (verify_log(workers=1), verify_log(workers=2))
    assert results["1"] == results["0"]
    assert results["1"][0].root_hash == selectors.root_at(37).hex()
    if chunk == 8192:  # one chunk per unit: every subtree level came from the library
        hashed = []
        with monkeypatch.context() as patch:
            patch.setattr(verification, "_sha256", lambda data: hashed.append(data))
            patch.setenv("SIGHTLINE_NATIVE", "1")
            verify_log(workers=1)
        assert hashed == []
    # Stored subtree L2#5 (entries 20-23) changed: named by both, in process and in workers.
    node = f"UPDATE audit_merklenode SET hash = %s WHERE {q('level')} = %s AND {q('index')} = %s"
    _tamper_committed((node, ["ef" * 32, 2, 5]))
    for setting in ("1", "0"):
        monkeypatch.setenv("SIGHTLINE_NATIVE", setting)
        for workers in (1, 2):
            with pytest.raises(LogVerificationError, match=r"L2#5 \(entries 20-23\)"):
                verify_log(workers=workers)


# --- PostgreSQL: the library's own libpq connection -------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"
)
PG_SQL = verification._sql("postgresql", lambda name: f'"{name}"')
_PG_TYPES = {"bigint": "bigint", "datetime": "timestamptz", "date": "date",
             "integer unsigned": "integer"}  # fmt: skip


def pg_literal(value, kind: str) -> str:
    if value is None:
        return f"NULL::{_PG_TYPES.get(kind, 'text')}"
    if kind in ("bigint", "integer unsigned"):
        return str(int(value))
    if kind == "datetime":
        return f"'{value.isoformat()}'::timestamptz"
    if kind == "date":
        return f"'{value}'::date"
    if isinstance(value, bytes):  # the salt, stored as hex
        value = value.hex()
    # Any text (PostgreSQL text holds no NUL), without quoting problems: UTF-8 as hex.
    return f"convert_from(decode('{value.encode().hex()}', 'hex'), 'UTF8')"


def pg_values_sql(sql: str, entries: list[dict], leaf_hashes: list[str]) -> str:
    """`sql` reading `entries` from a VALUES list instead of the table."""
    kinds = [kind for _, kind in _TABLE_COLUMNS.values()]
    rows = [
        "(" + ", ".join([*(pg_literal(f[name], kind) for name, kind in
                           zip(_TABLE_COLUMNS, kinds, strict=True)), f"'{leaf_hash}'"]) + ")"
        for f, leaf_hash in zip(entries, leaf_hashes, strict=True)
    ]  # fmt: skip
    columns = ", ".join([*(f'"{column}"' for column, _ in _TABLE_COLUMNS.values()), "leaf_hash"])
    table = '"audit_querylogentry"'
    if f"FROM {table} e " in sql:  # the library's SELECT, with the links (none here)
        links = "NULL::bigint AS operator_id, NULL::bigint AS supervisor_id, " \
                "NULL::bigint AS requesting_agency_id"  # fmt: skip
        values = f"(SELECT *, {links} FROM (VALUES {', '.join(rows)}) AS v({columns}))"
        return sql.replace(f"FROM {table} e ", f"FROM {values} e ")
    return sql.replace(f"FROM {table}", f"FROM (VALUES {', '.join(rows)}) AS {table}({columns})")


def pg_c(entries: list[dict], leaf_hashes: list[str], lib) -> tuple:
    with native.PostgresConnection(lib, verification._postgres_conninfo(connection)) as own:
        sql = pg_values_sql(PG_SQL["native_entries"], entries, leaf_hashes)
        return plain(own.leaf_hashes(sql, 0, len(entries)))


def pg_both_paths(entries: list[dict], leaf_hashes: list[str], lib) -> tuple[tuple, tuple]:
    end = len(entries)
    with connection.cursor() as cursor:
        cursor.execute(pg_values_sql(PG_SQL["entries"], entries, leaf_hashes), [0, end])
        rows = cursor.fetchall()
    return pg_c(entries, leaf_hashes, lib), python_result(rows)


def without_nul(f: dict) -> dict:
    return {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in f.items()}


@postgres_only
@pytest.mark.django_db
@given(rows=st.lists(fields, min_size=1, max_size=5), honest=st.lists(st.booleans(), min_size=5))
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_postgres_c_leaf_hashes_equal_json_dumps_and_the_python_path(lib, rows, honest):
    entries = [without_nul({**f, "sequence": n}) for n, f in enumerate(rows)]
    hashes = [expected_hash(f).hex() if honest[n] else "cd" * 32 for n, f in enumerate(entries)]
    c, python = pg_both_paths(entries, hashes, lib)
    assert c[1] == [expected_hash(f) for f in entries]
    assert c == python
    assert c[2] == next((n for n in range(len(entries)) if not honest[n]), None)


@postgres_only
@pytest.mark.django_db
def test_postgres_c_leaf_hashes_with_each_tricky_value_and_a_null(lib):
    base = entry()
    entries = [
        without_nul({**base, name: tricky, "sequence": 0})
        for name in (*TEXT_FIELDS, "client_ref")
        for tricky in TRICKY
    ]
    entries = [{**f, "sequence": n} for n, f in enumerate(entries)]
    c, python = pg_both_paths(entries, [expected_hash(f).hex() for f in entries], lib)
    assert c == python and c[2] is None
    # NULL where an entry has none: no leaf hash at all, reported as not matching.
    nulled = [base, {**base, "sequence": 1, "justification": None}]
    c = pg_c(nulled, [expected_hash(base).hex()] * 2, lib)
    assert c[1] == [expected_hash(base), bytes(32)] and c[2] == 1


@postgres_only
@pytest.mark.django_db
def test_postgres_times_convert_like_to_char_in_the_python_path(lib):
    entries = entries_at_instants()
    c, python = pg_both_paths(entries, [expected_hash(f).hex() for f in entries], lib)
    assert c == python and c[2] is None


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    ["2026-01-01 00:00:00", "2026-01-01 00:00:00.+00", "2026-01-01T00:00:00+00",
     "2026-01-01 00:00:00.1234567+00", "2026-01-01 00:00:00+01", "26-01-01 00:00:00+00",
     "2026-01-01 00:00:0x+00", "2026-01-01 00:00:00.12a+00"],
)  # fmt: skip
def test_a_postgres_time_of_another_shape_fails_the_entry(lib, text):
    """What a timestamptz in UTC could never look like gets no leaf hash (not a guess)."""
    f = entry()
    sql = pg_values_sql(PG_SQL["native_entries"], [f], [expected_hash(f).hex()])
    sql = sql.replace(f"'{f['recorded_at'].isoformat()}'::timestamptz", f"'{text}'::text", 1)
    with native.PostgresConnection(lib, verification._postgres_conninfo(connection)) as own:
        assert plain(own.leaf_hashes(sql, 0, 1)) == ([0], [bytes(32)], 0, [], [None] * 3)


@postgres_only
@pytest.mark.django_db
def test_postgres_errors_are_reported_not_swallowed(lib):
    with pytest.raises(native.NativeError, match=r"connect|connection"):
        native.PostgresConnection(lib, "host=127.0.0.1 port=1 connect_timeout=2")
    own = native.PostgresConnection(lib, verification._postgres_conninfo(connection))
    with own:
        with pytest.raises(native.NativeError, match="does not exist"):
            own.leaf_hashes("SELECT missing FROM nowhere WHERE $1::int < $2::int", 0, 9)
        with pytest.raises(native.NativeError, match="expected 24 columns, not 1"):
            own.leaf_hashes("SELECT $1::bigint + $2::bigint", 0, 9)
    with pytest.raises(native.NativeError, match="closed"):
        own.leaf_hashes(PG_SQL["native_entries"], 0, 9)


def test_the_libpq_connection_string_or_none_for_an_option_libpq_does_not_know():
    def wrapper(**params):
        return SimpleNamespace(get_connection_params=lambda: params)

    made = verification._postgres_conninfo(
        wrapper(dbname="sightline", host="db.internal", port=5433, user="web", password=None,
                sslmode="verify-full", context=object(), prepare_threshold=None)
    )  # fmt: skip
    assert made == "dbname=sightline host=db.internal port=5433 user=web sslmode=verify-full"
    assert verification._postgres_conninfo(wrapper(dbname="x", server_side_binding=True)) is None
