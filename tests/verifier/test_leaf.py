"""The fast leaf and commitment encoders against the plain `json.dumps` definition (issue 4).

A leaf is UTF-8 of `json.dumps(leaf, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`; `audit.leaves` writes those bytes without json.dumps, for speed, once per
entry (`leaf_bytes`, `commitment_bytes`, on the write path) and for many stored rows at once
(`leaf_hashes_of_rows`, in verify_log). These property tests hold all of them to the plain
definition for every value shape we store, including non-ASCII, quotes, backslashes, control
characters, empty strings and None.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sightline_verifier import leaf as leaves

from audit.log import services
from audit.log.db import drop_append_only_triggers
from audit.log.parsing import QueryInput
from audit.transparency.verification import LogVerificationError, verify_log

TRICKY = ["", '"', "\\", '\\"', "\x00", "\x01", "\x1f", "\x7f", "\b\f\n\r\t", "\u2028\u2029",
          "é", "Ωmega", "😀", "\ufeff", "</script>", '{"a":1}', " both ends "]  # fmt: skip

# Any text (Hypothesis leaves out lone surrogates, which no database column can hold), mixed
# with the characters JSON escapes or that ensure_ascii would change.
text = st.one_of(
    st.sampled_from(TRICKY), st.text(max_size=40), st.text('"\\\x00\x1fé😀 a', max_size=12)
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
).map(leaves.iso_utc)


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def reference_leaf(f: dict) -> bytes:
    """The leaf exactly as issue 4 defines it, with json.dumps."""
    private = {
        "case_number": f["case_number"],
        "client_ref": f["client_ref"],
        "integration": f["integration_id"],
        "justification": f["justification"],
        "occurred_at": f["occurred_at"],
        "offense_code": f["offense_code"],
        "on_behalf_of": f["on_behalf_of"],
        "operator": f["operator_badge"],
        "recorded_at": f["recorded_at"],
        "result_count": f["result_count"],
        "supervisor": f["supervisor_badge"],
        "target_fingerprint": f["target_fingerprint"],
    }
    leaf = {
        "v": 1,
        "sequence": f["sequence"],
        "date": f["local_date"],
        "technology": f["technology"],
        "query_type": f["query_type"],
        "agency": f["agency"],
        "on_behalf_of_present": f["on_behalf_of"] != "",
        "offense_category": f["offense_category"],
        "case_number_present": f["case_number"] != "",
        "supervisor_present": f["supervisor_badge"] != "",
        "scope": f["scope"],
        "private_commitment": hashlib.sha256(f["salt"] + canonical(private)).hexdigest(),
    }
    return canonical(leaf)


fields = st.fixed_dictionaries(
    {
        "sequence": st.integers(min_value=0, max_value=2**62),
        "recorded_at": moments,
        "occurred_at": moments,
        "local_date": st.dates().map(lambda d: d.isoformat()),
        "technology": text,
        "query_type": text,
        "integration_id": text,
        "agency": text,
        "on_behalf_of": text,
        "operator_badge": text,
        "supervisor_badge": text,
        "target_fingerprint": text,
        "offense_code": text,
        "offense_category": text,
        "justification": text,
        "case_number": text,
        "scope": text,
        "result_count": st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)),
        "client_ref": st.one_of(st.none(), text),
        "salt": st.binary(min_size=16, max_size=16),
    }
)


def fast_leaf(f: dict) -> bytes:
    return leaves.leaf_bytes(
        sequence=f["sequence"],
        local_date=f["local_date"],
        technology=f["technology"],
        query_type=f["query_type"],
        agency=f["agency"],
        on_behalf_of=f["on_behalf_of"],
        offense_category=f["offense_category"],
        case_number=f["case_number"],
        supervisor_badge=f["supervisor_badge"],
        scope=f["scope"],
        salt=f["salt"],
        private=leaves.commitment_bytes(
            recorded_at=f["recorded_at"],
            occurred_at=f["occurred_at"],
            integration_id=f["integration_id"],
            operator_badge=f["operator_badge"],
            supervisor_badge=f["supervisor_badge"],
            on_behalf_of=f["on_behalf_of"],
            target_fingerprint=f["target_fingerprint"],
            offense_code=f["offense_code"],
            justification=f["justification"],
            case_number=f["case_number"],
            result_count=f["result_count"],
            client_ref=f["client_ref"],
        ),
    )


def as_row(f: dict) -> tuple:
    return tuple(f["salt"].hex() if name == "salt" else f[name] for name in leaves.ROW_FIELDS)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


@given(fields)
@settings(max_examples=400, deadline=None)
def test_leaf_bytes_equal_json_dumps(f):
    assert fast_leaf(f) == reference_leaf(f)


@given(st.lists(fields, min_size=1, max_size=8), st.data())
@settings(max_examples=200, deadline=None)
def test_leaf_hashes_of_rows_equal_json_dumps(rows, data):
    # Repeat some values across rows: leaf_hashes_of_rows escapes repeated values once.
    for f in rows[1:]:
        if data.draw(st.booleans()):
            for name in ("technology", "agency", "operator_badge", "offense_category", "scope"):
                f[name] = rows[0][name]
    expected = [leaf_hash(reference_leaf(f)) for f in rows]
    assert leaves.leaf_hashes_of_rows(as_row(f) for f in rows) == expected


def test_tricky_values_one_by_one():
    """Each tricky string in every string field, so none can hide behind another."""
    base = {
        "sequence": 7, "recorded_at": "2026-03-04T05:06:07.000008+00:00",
        "occurred_at": "2026-03-04T05:06:07.000000+00:00", "local_date": "2026-03-03",
        "technology": "face-recognition", "query_type": "photo-probe", "integration_id": "k.1",
        "agency": "BPD", "on_behalf_of": "", "operator_badge": "B1", "supervisor_badge": "",
        "target_fingerprint": "ab" * 32, "offense_code": "09A",
        "offense_category": "Homicide Offenses", "justification": "x", "case_number": "",
        "scope": "local", "result_count": None, "client_ref": None, "salt": bytes(16),
    }  # fmt: skip
    names = [name for name, value in base.items() if isinstance(value, str) or name == "client_ref"]
    checked = 0
    for name in names:
        for value in TRICKY:
            f = {**base, name: value}
            if name in ("recorded_at", "occurred_at", "local_date") and value == "":
                continue
            assert fast_leaf(f) == reference_leaf(f), (name, value)
            assert leaves.leaf_hashes_of_rows([as_row(f)]) == [leaf_hash(reference_leaf(f))]
            checked += 1
    assert checked > 250


def test_escapes_are_those_of_json_dumps():
    """Spot checks that the reference itself escapes as intended (not ASCII-only, no spaces)."""
    f = {**dict.fromkeys(leaves.ROW_FIELDS, ""), "sequence": 1, "local_date": "2026-01-01",
         "result_count": None, "client_ref": None, "salt": bytes(16),
         "justification": 'é"\\\n\x01😀'}  # fmt: skip
    private = leaves.commitment_bytes(
        **{k: f[k] for k in ("recorded_at", "occurred_at", "integration_id", "operator_badge",
                             "supervisor_badge", "on_behalf_of", "target_fingerprint",
                             "offense_code", "justification", "case_number", "result_count",
                             "client_ref")}
    )  # fmt: skip
    assert '"justification":"é\\"\\\\\\n\\u0001😀"'.encode() in private
    assert b'"client_ref":null' in private and b'"result_count":null' in private
    assert b" " not in private


# --- through the database --------------------------------------------------------------------


def _stored_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; everything else is stored as given."""
    return value.replace("\x00", "") if connection.vendor == "postgresql" else value


@pytest.mark.django_db
@given(
    justification=text,
    case_number=text,
    on_behalf_of=text,
    client_ref=st.one_of(st.none(), text.filter(bool)),
    microsecond=st.sampled_from([0, 1, 999999]),
)
@example(
    justification='"\\\x00\n', case_number="", on_behalf_of="é😀", client_ref=None, microsecond=0
)
@example(  # every control character, DEL, a line separator, quotes, backslashes, non-ASCII
    justification="".join(map(chr, range(1, 32))) + '\x7f\u2028"\\/é😀',
    case_number='"\\',
    on_behalf_of="\t\u00e9",
    client_ref="\x1f",
    microsecond=999999,
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_recorded_entries_verify_whatever_their_text(
    integration, justification, case_number, on_behalf_of, client_ref, microsecond
):
    """Written by the write path, read back from the database, recomputed by verify_log."""
    moment = datetime(2026, 1, 1, 5, 6, 7, microsecond, tzinfo=UTC)
    queries = [
        QueryInput(
            technology="face-recognition",
            query_type="photo-probe",
            occurred_at=moment + timedelta(minutes=n),
            operator="B1001",
            target_fingerprint="ab" * 32,
            offense_code="09A",
            justification=_stored_text(justification),
            case_number=_stored_text(case_number)[:64],
            supervisor="",
            requesting_agency="BPD",
            on_behalf_of=_stored_text(on_behalf_of)[:200],
            scope="local",
            result_count=None if n else 3,
            client_ref=None if client_ref is None else f"{_stored_text(client_ref)[:100]}-{n}",
        )
        for n in range(2)
    ]
    with transaction.atomic():
        services.record_queries(integration=integration, queries=queries)
        assert verify_log().size == 2
        # And an edit of that text is still caught (the check can fail).
        drop_append_only_triggers(connection)  # rolled back with the transaction
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_querylogentry SET justification = %s WHERE sequence = 1",
                [_stored_text(justification) + "!"],
            )
        with pytest.raises(LogVerificationError, match=r"^Entry 1: "):
            verify_log()
        transaction.set_rollback(True)
