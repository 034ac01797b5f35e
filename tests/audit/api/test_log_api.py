"""The public, verifiable log API (anonymous, read-only) and the /log/ page.

Everything a member of the public can fetch is checked the way an outside verifier would check
it: signatures with `cryptography`, leaf hashes and roots recomputed here from the served
leaves, and proofs with the RFC 9162 verifiers of `audit.merkle`.
"""

import base64
import hashlib
import re
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from sightline_verifier.merkle import canonical_json, verify_consistency, verify_inclusion

from audit.log.parsing import QueryInput, fingerprint_target
from audit.log.services import RecordedQuery, record_queries
from audit.models import LogState, MerkleNode, QueryLogEntry, SignedTreeHead
from audit.transparency import selectors, signing
from audit.transparency.services import publish_tree_head

API = "/api/v1/log"
LEAF_KEYS = {
    "v",
    "sequence",
    "date",
    "technology",
    "query_type",
    "agency",
    "on_behalf_of_present",
    "offense_category",
    "case_number_present",
    "supervisor_present",
    "scope",
    "private_commitment",
}
HEAD_KEYS = {"tree_size", "root_hash", "timestamp", "signature", "key_id"}
HEX64 = re.compile(r"[0-9a-f]{64}")


# --- helpers ---------------------------------------------------------------------------------


def make_query(**overrides) -> QueryInput:
    values = {
        "technology": "face-recognition",
        "query_type": "photo-probe",
        "occurred_at": datetime(2026, 3, 5, 15, 0, tzinfo=UTC),
        "operator": "B1001",
        "target_fingerprint": "",
        "offense_code": "09A",
        "justification": "Homicide investigation, probe from the store camera.",
        "case_number": "2026-000123",
        "supervisor": "B2001",
        "requesting_agency": "BPD",
        "on_behalf_of": "",
        "scope": "local",
        "result_count": 3,
        "client_ref": None,
    }
    values.update(overrides)
    return QueryInput(**values)


def record(integration, count: int = 1, **overrides) -> list[RecordedQuery]:
    return record_queries(
        integration=integration, queries=[make_query(**overrides) for _ in range(count)]
    )


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash, straight from the RFC text (independent of audit.merkle)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def get_json(client, path: str, **params):
    response = client.get(path, params)
    assert response.status_code == 200, (path, params, response.content)
    return response.json()


def served_public_key(client) -> Ed25519PublicKey:
    doc = get_json(client, f"{API}/public-key")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(doc["public_key"]))


def head_signature_valid(head: dict, public_key: Ed25519PublicKey) -> bool:
    message = canonical_json(
        {
            "tree_size": head["tree_size"],
            "root_hash": head["root_hash"],
            "timestamp": head["timestamp"],
        }
    )
    try:
        public_key.verify(base64.b64decode(head["signature"], validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def assert_error(response, status: int, field: str, fragment: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert field in body, body
    assert any(fragment in message for message in body[field]), body


def counts() -> tuple:
    state = LogState.objects.get(id=1)
    return (
        QueryLogEntry.objects.count(),
        MerkleNode.objects.count(),
        SignedTreeHead.objects.count(),
        state.size,
        state.frontier,
    )


# --- public key ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_public_key_document(anon_client):
    response = anon_client.get(f"{API}/public-key")
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    doc = response.json()
    assert set(doc) == {"algorithm", "public_key", "key_id", "verifier_key"}
    assert doc["algorithm"] == "Ed25519"
    raw = base64.b64decode(doc["public_key"], validate=True)
    assert len(raw) == 32
    assert doc["key_id"] == hashlib.sha256(raw).hexdigest()
    expected = (
        signing.private_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert raw == expected


def _private_key_forms() -> list[str]:
    key = signing.private_key()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = settings.SIGHTLINE_SIGNING_KEY_FILE.read_text()
    pem_body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert len(pem_body) > 40
    return [
        "PRIVATE KEY",
        pem_body,
        pem_body[:40],
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        raw.hex(),
    ]


@pytest.mark.django_db
def test_private_key_never_appears_in_any_response(anon_client, integration):
    record(integration, count=5)
    publish_tree_head(force=True)
    bodies = [
        anon_client.get(path).content.decode()
        for path in [
            f"{API}/public-key",
            f"{API}/tree-head",
            f"{API}/tree-head?tree_size=5",
            f"{API}/entries?start=0&end=5",
            f"{API}/proof/inclusion?leaf_index=2&tree_size=5",
            f"{API}/proof/consistency?first=3&second=5",
            "/log/",
        ]
    ]
    assert all(bodies)
    for form in _private_key_forms():
        for body in bodies:
            assert form not in body


# --- tree head -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tree_head_is_404_before_any_head_is_published(anon_client, integration):
    response = anon_client.get(f"{API}/tree-head")
    assert response.status_code == 404
    assert "No tree head" in response.json()["detail"]
    record(integration, count=3)  # entries alone publish nothing (no commit in this test)
    assert anon_client.get(f"{API}/tree-head").status_code == 404


@pytest.mark.django_db
def test_tree_head_of_empty_log_when_forced(anon_client):
    head = publish_tree_head(force=True)
    assert head is not None
    doc = get_json(anon_client, f"{API}/tree-head")
    assert doc["tree_size"] == 0
    assert doc["root_hash"] == hashlib.sha256(b"").hexdigest()
    assert head_signature_valid(doc, served_public_key(anon_client))


@pytest.mark.django_db
def test_latest_tree_head_is_signed_and_matches_the_leaves(anon_client, integration):
    record(integration, count=6)
    publish_tree_head(force=True)
    response = anon_client.get(f"{API}/tree-head")
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    head = response.json()
    assert set(head) == HEAD_KEYS
    assert head["tree_size"] == 6
    assert HEX64.fullmatch(head["root_hash"])
    timestamp = datetime.fromisoformat(head["timestamp"])
    assert timestamp.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - timestamp).total_seconds()) < 120

    key_doc = get_json(anon_client, f"{API}/public-key")
    assert head["key_id"] == key_doc["key_id"]
    public_key = served_public_key(anon_client)
    assert head_signature_valid(head, public_key)
    # The signature covers exactly the three fields: change any one and it no longer verifies.
    assert not head_signature_valid({**head, "tree_size": 7}, public_key)
    assert not head_signature_valid({**head, "root_hash": "00" * 32}, public_key)
    assert not head_signature_valid({**head, "timestamp": "2020-01-01T00:00:00Z"}, public_key)

    entries = get_json(anon_client, f"{API}/entries", start=0, end=6)["entries"]
    root = mth([bytes.fromhex(e["leaf_hash"]) for e in entries])
    assert head["root_hash"] == root.hex() == selectors.root_at(6).hex()


@pytest.mark.django_db
def test_earlier_tree_heads_stay_available_by_size(anon_client, integration):
    record(integration, count=3)
    first = publish_tree_head(force=True)
    record(integration, count=4)
    second = publish_tree_head()
    assert (first.tree_size, second.tree_size) == (3, 7)

    latest = get_json(anon_client, f"{API}/tree-head")
    assert latest["tree_size"] == 7
    assert latest["root_hash"] == second.root_hash
    earlier = get_json(anon_client, f"{API}/tree-head", tree_size=3)
    assert earlier == {
        "tree_size": 3,
        "root_hash": first.root_hash,
        "timestamp": first.timestamp,
        "signature": first.signature,
        "key_id": first.key_id,
    }
    assert earlier["root_hash"] == selectors.root_at(3).hex() != latest["root_hash"]
    assert head_signature_valid(earlier, served_public_key(anon_client))

    missing = anon_client.get(f"{API}/tree-head", {"tree_size": 5})
    assert missing.status_code == 404
    assert "5" in missing.json()["detail"]
    assert anon_client.get(f"{API}/tree-head", {"tree_size": 8}).status_code == 404


@pytest.mark.django_db
def test_tree_head_rejects_a_malformed_size(anon_client, integration):
    record(integration, count=2)
    publish_tree_head()
    for value, fragment in [("abc", "whole number"), ("1.5", "whole number"), ("0x10", "whole")]:
        response = anon_client.get(f"{API}/tree-head", {"tree_size": value})
        assert_error(response, 400, "tree_size", fragment)
    assert_error(anon_client.get(f"{API}/tree-head?tree_size=-1"), 400, "tree_size", "at least 0")


@pytest.mark.django_db
def test_tree_head_size_too_large_for_the_database_is_not_a_server_error(anon_client):
    response = anon_client.get(f"{API}/tree-head", {"tree_size": str(10**30)})
    assert response.status_code in (400, 404), response.status_code


# --- entries ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_entries_serve_exactly_the_public_leaf(anon_client, integration):
    record(integration, count=1)  # 0: defaults, offense 09A, case and supervisor present
    record(  # 1: the local (Chicago) date of a late-evening query is the previous UTC day
        integration,
        occurred_at=datetime(2026, 3, 5, 3, 30, tzinfo=UTC),
        offense_code="",
        case_number="",
        supervisor="",
        on_behalf_of="Jefferson County Sheriff",
        requesting_agency="JCSO",
        technology="license-plate-reader",
        query_type="plate-search",
        scope="regional",
    )
    response = anon_client.get(f"{API}/entries", {"start": 0, "end": 2})
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"entries"}
    first, second = body["entries"]
    for sequence, item in enumerate(body["entries"]):
        assert set(item) == {"sequence", "leaf", "leaf_hash"}
        assert item["sequence"] == item["leaf"]["sequence"] == sequence
        assert set(item["leaf"]) == LEAF_KEYS
        assert item["leaf"]["v"] == 1
        assert HEX64.fullmatch(item["leaf"]["private_commitment"])
        recomputed = hashlib.sha256(b"\x00" + canonical_json(item["leaf"])).hexdigest()
        assert item["leaf_hash"] == recomputed
        assert QueryLogEntry.objects.get(sequence=sequence).leaf_hash == recomputed

    assert {k: v for k, v in first["leaf"].items() if k != "private_commitment"} == {
        "v": 1,
        "sequence": 0,
        "date": "2026-03-05",
        "technology": "face-recognition",
        "query_type": "photo-probe",
        "agency": "BPD",
        "on_behalf_of_present": False,
        "offense_category": "Homicide Offenses",
        "case_number_present": True,
        "supervisor_present": True,
        "scope": "local",
    }
    assert {k: v for k, v in second["leaf"].items() if k != "private_commitment"} == {
        "v": 1,
        "sequence": 1,
        "date": "2026-03-04",
        "technology": "license-plate-reader",
        "query_type": "plate-search",
        "agency": "JCSO",
        "on_behalf_of_present": True,
        "offense_category": "unspecified",
        "case_number_present": False,
        "supervisor_present": False,
        "scope": "regional",
    }


@pytest.mark.django_db
def test_leaves_and_commitments_are_canonical_json_even_for_awkward_text(anon_client, integration):
    """Quotes, backslashes, non-ASCII and control characters: the served leaf hashes to its
    stored hash under canonical JSON, and the commitment is SHA-256(salt || canonical JSON of the
    private fields) of the stored row."""
    awkward = 'He said "stop" \\ naïve — 東京 😀\n\t\u2028\x1f\x7f end'
    record(
        integration,
        requesting_agency='ÉLAN"\\Ω/<b>',
        justification=awkward,
        case_number='C-\u00e9"1',
        on_behalf_of=awkward[:40],
        operator="B\u00e91",
        target_fingerprint="f" * 64,
        client_ref='ref "é"',
        result_count=None,
    )
    (served,) = get_json(anon_client, f"{API}/entries", start=0, end=1)["entries"]
    leaf = served["leaf"]
    assert leaf["agency"] == 'ÉLAN"\\Ω/<b>'
    stored = QueryLogEntry.objects.get(sequence=0)
    assert served["leaf_hash"] == stored.leaf_hash
    assert stored.leaf_hash == hashlib.sha256(b"\x00" + canonical_json(leaf)).hexdigest()

    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")

    private = {
        "recorded_at": iso(stored.recorded_at),
        "occurred_at": iso(stored.occurred_at),
        "integration": stored.integration_id,
        "operator": stored.operator_badge,
        "supervisor": stored.supervisor_badge,
        "on_behalf_of": stored.on_behalf_of,
        "target_fingerprint": stored.target_fingerprint,
        "offense_code": stored.offense_code,
        "justification": stored.justification,
        "case_number": stored.case_number,
        "result_count": stored.result_count,
        "client_ref": stored.client_ref,
    }
    assert stored.justification == awkward
    salt = bytes.fromhex(stored.salt)
    assert len(salt) == 16
    commitment = hashlib.sha256(salt + canonical_json(private)).hexdigest()
    assert leaf["private_commitment"] == commitment


@pytest.mark.django_db
def test_identical_queries_get_different_commitments(anon_client, integration):
    record(integration, count=2)
    first, second = get_json(anon_client, f"{API}/entries", start=0, end=2)["entries"]
    assert first["leaf"]["private_commitment"] != second["leaf"]["private_commitment"]


@pytest.mark.django_db
def test_entries_beyond_the_end_of_the_log_are_an_empty_page(anon_client, integration):
    record(integration, count=3)
    assert [
        e["sequence"] for e in get_json(anon_client, f"{API}/entries", start=1, end=10)["entries"]
    ] == [1, 2]
    assert get_json(anon_client, f"{API}/entries", start=50, end=60) == {"entries": []}


@pytest.mark.django_db
def test_entries_never_show_private_data(api_client, anon_client, integration):
    """Seed entries through the ingest API with unique markers; none may come back publicly."""
    markers = {
        "operator": "OPMARK7731",
        "supervisor": "SUPMARK5519",
        "case_number": "CASEMARK-88412",
        "justification": "JUSTMARK: robbery suspect seen on camera 4 near the market",
        "target": "TGTMARK-PROBE-DIGEST-3f9a",
        "on_behalf_of": "ONBEHALFMARK County Sheriff",
        "client_ref": "REFMARK-000017",
    }
    payload = {
        "technology": "face-recognition",
        "query_type": "photo-probe",
        "occurred_at": "2026-03-05T03:30:00Z",
        "offense_code": "120",
        "scope": "national",
        "result_count": 4,
        **markers,
    }
    response = api_client.post("/api/v1/queries/", payload, format="json")
    assert response.status_code == 201, response.content
    second = {**payload, "client_ref": "REFMARK-000018", "operator": "OPMARK7732"}
    assert api_client.post("/api/v1/queries/", second, format="json").status_code == 201
    publish_tree_head()

    private = [
        *markers.values(),
        "OPMARK7732",
        "REFMARK-000018",
        fingerprint_target("face-recognition", markers["target"]),
        integration.pk,
        *QueryLogEntry.objects.values_list("salt", flat=True),
    ]
    bodies = [
        anon_client.get(f"{API}/entries", {"start": 0, "end": 2}).content.decode(),
        anon_client.get(f"{API}/tree-head").content.decode(),
        anon_client.get(f"{API}/proof/inclusion?leaf_index=0&tree_size=2").content.decode(),
        anon_client.get("/log/").content.decode(),
    ]
    for body in bodies:
        for value in private:
            assert value not in body
            assert value.lower() not in body.lower()
    entries_body = bodies[0]
    assert "MARK" not in entries_body
    # Dates only: no clock time of the query anywhere in the public leaves.
    assert not re.search(r"\d{2}:\d{2}", entries_body)
    leaves = [e["leaf"] for e in anon_client.get(f"{API}/entries?start=0&end=2").json()["entries"]]
    assert [leaf["date"] for leaf in leaves] == ["2026-03-04", "2026-03-04"]
    assert all(leaf["on_behalf_of_present"] and leaf["case_number_present"] for leaf in leaves)
    assert [leaf["offense_category"] for leaf in leaves] == ["Robbery"] * 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"end": "5"}, "start", "required"),
        ({"start": "0"}, "end", "required"),
        ({"start": "", "end": "5"}, "start", "required"),
        ({"start": "3", "end": "3"}, "end", "greater than start"),
        ({"start": "5", "end": "2"}, "end", "greater than start"),
        ({"start": "abc", "end": "5"}, "start", "whole number"),
        ({"start": "0", "end": "1.5"}, "end", "whole number"),
        ({"start": "-1", "end": "5"}, "start", "at least 0"),
        ({"start": "0", "end": "-5"}, "end", "at least 0"),
        ({"start": "0", "end": "1001"}, "end", "1000"),
        ({"start": "10", "end": "2000"}, "end", "1000"),
    ],
)
def test_entries_reject_a_bad_range_with_a_clear_message(anon_client, params, field, fragment):
    assert_error(anon_client.get(f"{API}/entries", params), 400, field, fragment)


@pytest.mark.django_db
def test_entries_accept_exactly_1000_per_call(anon_client, integration):
    record(integration, count=3)
    assert len(get_json(anon_client, f"{API}/entries", start=0, end=1000)["entries"]) == 3


@pytest.mark.django_db
def test_entries_range_too_large_for_the_database_is_not_a_server_error(anon_client):
    start = 10**20
    response = anon_client.get(f"{API}/entries", {"start": start, "end": start + 5})
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        assert response.json() == {"entries": []}


# --- proofs ----------------------------------------------------------------------------------

PROOF_LOG_SIZE = 37
# Every pair is checked for the sizes around each power-of-two boundary (where the RFC 6962 split
# changes) and for the largest size; for the other sizes, the first, middle and last index. (All
# ~1,400 pairs take too long for the suite; test_merkle.py checks the pure functions for every
# pair up to size 64.)
FULL_SIZES = frozenset({1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 37})


def sampled(n: int, first: int = 0) -> list[int]:
    if n in FULL_SIZES:
        return list(range(first, n))
    return sorted({first, n // 2, n - 1})


@pytest.fixture
def grown_log(integration, anon_client):
    """37 entries recorded one at a time, with a head published after each; returns
    (leaf hashes as served by /entries, {size: head as served by /tree-head})."""
    for n in range(1, PROOF_LOG_SIZE + 1):
        record(integration, count=1, case_number=f"2026-{n:06d}", result_count=n)
        head = publish_tree_head()
        assert head is not None and head.tree_size == n
    entries = get_json(anon_client, f"{API}/entries", start=0, end=PROOF_LOG_SIZE)["entries"]
    leaf_hashes = [bytes.fromhex(e["leaf_hash"]) for e in entries]
    heads = {
        n: get_json(anon_client, f"{API}/tree-head", tree_size=n)
        for n in range(1, PROOF_LOG_SIZE + 1)
    }
    # Every published head is signed and is the RFC 6962 root of the served leaves.
    public_key = served_public_key(anon_client)
    for n, head in heads.items():
        assert head["tree_size"] == n
        assert head["root_hash"] == mth(leaf_hashes[:n]).hex(), n
        assert head_signature_valid(head, public_key), n
    assert get_json(anon_client, f"{API}/tree-head") == heads[PROOF_LOG_SIZE]
    return leaf_hashes, heads


@pytest.mark.django_db
def test_proofs_verify_against_the_published_heads(anon_client, grown_log):
    leaf_hashes, heads = grown_log
    roots = {n: bytes.fromhex(head["root_hash"]) for n, head in heads.items()}
    inclusion_checked = consistency_checked = 0
    for n in range(1, PROOF_LOG_SIZE + 1):
        for i in sampled(n):
            response = anon_client.get(f"{API}/proof/inclusion", {"leaf_index": i, "tree_size": n})
            assert response.status_code == 200, (i, n, response.content)
            body = response.json()
            assert set(body) == {"leaf_index", "tree_size", "audit_path"}
            assert (body["leaf_index"], body["tree_size"]) == (i, n)
            path = [bytes.fromhex(h) for h in body["audit_path"]]
            assert verify_inclusion(i, n, leaf_hashes[i], path, roots[n]), ("inclusion", i, n)
            if n > 1:  # the path is bound to this leaf: another leaf's hash does not verify
                other = leaf_hashes[(i + 1) % n]
                assert not verify_inclusion(i, n, other, path, roots[n]), ("inclusion", i, n)
            inclusion_checked += 1

        for m in sampled(n + 1, first=1):
            response = anon_client.get(f"{API}/proof/consistency", {"first": m, "second": n})
            assert response.status_code == 200, (m, n, response.content)
            body = response.json()
            assert set(body) == {"first", "second", "consistency"}
            assert (body["first"], body["second"]) == (m, n)
            proof = [bytes.fromhex(h) for h in body["consistency"]]
            assert verify_consistency(m, n, roots[m], roots[n], proof), ("consistency", m, n)
            if m < n:
                assert proof, (m, n)
                assert not verify_consistency(m, n, bytes(32), roots[n], proof), (m, n)
            consistency_checked += 1
    assert inclusion_checked > 250
    assert consistency_checked > 250


@pytest.mark.django_db
def test_proofs_are_served_up_to_the_latest_head_even_between_heads(anon_client, integration):
    """Only sizes with a published head can be checked, but any size up to it is served."""
    record(integration, count=9)
    publish_tree_head()
    head = get_json(anon_client, f"{API}/tree-head")
    leaves = get_json(anon_client, f"{API}/entries", start=0, end=9)["entries"]
    leaf_hashes = [bytes.fromhex(e["leaf_hash"]) for e in leaves]
    # Size 6 was never published, but a verifier holding the leaves can check it.
    body = get_json(anon_client, f"{API}/proof/inclusion", leaf_index=4, tree_size=6)
    path = [bytes.fromhex(h) for h in body["audit_path"]]
    assert verify_inclusion(4, 6, leaf_hashes[4], path, mth(leaf_hashes[:6]))
    body = get_json(anon_client, f"{API}/proof/consistency", first=6, second=9)
    proof = [bytes.fromhex(h) for h in body["consistency"]]
    root9 = bytes.fromhex(head["root_hash"])
    assert verify_consistency(6, 9, mth(leaf_hashes[:6]), root9, proof)


@pytest.mark.django_db
def test_proofs_are_not_served_beyond_the_latest_published_head(anon_client, integration):
    record(integration, count=5)
    publish_tree_head()
    record(integration, count=3)  # 8 entries, but the latest head covers 5
    assert_error(
        anon_client.get(f"{API}/proof/inclusion", {"leaf_index": 1, "tree_size": 6}),
        400,
        "tree_size",
        "latest published tree head (5)",
    )
    assert_error(
        anon_client.get(f"{API}/proof/consistency", {"first": 2, "second": 8}),
        400,
        "second",
        "latest published tree head (5)",
    )


@pytest.mark.django_db
def test_no_proofs_before_any_head(anon_client, integration):
    record(integration, count=3)
    response = anon_client.get(f"{API}/proof/inclusion", {"leaf_index": 0, "tree_size": 1})
    assert_error(response, 400, "tree_size", "(0)")
    response = anon_client.get(f"{API}/proof/consistency", {"first": 1, "second": 2})
    assert_error(response, 400, "second", "(0)")


@pytest.mark.django_db
def test_proofs_reject_bad_parameters_saying_why(anon_client, integration):
    record(integration, count=5)
    publish_tree_head()
    inclusion = [
        ({"leaf_index": "4", "tree_size": "4"}, "leaf_index", "less than tree_size"),
        ({"leaf_index": "7", "tree_size": "4"}, "leaf_index", "less than tree_size"),
        ({"leaf_index": "0", "tree_size": "0"}, "tree_size", "at least 1"),
        ({"leaf_index": "-1", "tree_size": "4"}, "leaf_index", "at least 0"),
        ({"leaf_index": "0", "tree_size": "6"}, "tree_size", "latest published"),
        ({"leaf_index": "x", "tree_size": "4"}, "leaf_index", "whole number"),
        ({"leaf_index": "1", "tree_size": "four"}, "tree_size", "whole number"),
        ({"leaf_index": "1"}, "tree_size", "required"),
        ({"tree_size": "4"}, "leaf_index", "required"),
        ({"leaf_index": "1", "tree_size": str(10**30)}, "tree_size", "latest published"),
    ]
    for params, field, fragment in inclusion:
        assert_error(anon_client.get(f"{API}/proof/inclusion", params), 400, field, fragment)
    consistency = [
        ({"first": "4", "second": "3"}, "first", "not be greater than second"),
        ({"first": "0", "second": "3"}, "first", "at least 1"),
        ({"first": "1", "second": "0"}, "second", "at least 1"),
        ({"first": "-2", "second": "3"}, "first", "at least 1"),
        ({"first": "2", "second": "6"}, "second", "latest published"),
        ({"first": "1.0", "second": "3"}, "first", "whole number"),
        ({"first": "1", "second": "3x"}, "second", "whole number"),
        ({"second": "3"}, "first", "required"),
        ({"first": "1"}, "second", "required"),
    ]
    for params, field, fragment in consistency:
        assert_error(anon_client.get(f"{API}/proof/consistency", params), 400, field, fragment)


# --- read-only, cacheable --------------------------------------------------------------------


@pytest.mark.django_db
def test_every_public_endpoint_is_cacheable_on_success(anon_client, integration):
    record(integration, count=4)
    publish_tree_head()
    for path in [
        f"{API}/public-key",
        f"{API}/tree-head",
        f"{API}/tree-head?tree_size=4",
        f"{API}/entries?start=0&end=4",
        f"{API}/proof/inclusion?leaf_index=1&tree_size=4",
        f"{API}/proof/consistency?first=2&second=4",
    ]:
        response = anon_client.get(path)
        assert response.status_code == 200, path
        directives = [d.strip() for d in response["Cache-Control"].split(",")]
        assert "public" in directives, (path, directives)
        assert "private" not in directives and "no-store" not in directives, path


@pytest.mark.django_db
def test_public_log_endpoints_are_read_only(anon_client, api_client, integration):
    record(integration, count=3)
    publish_tree_head()
    before = counts()
    payload = {"tree_size": 99, "root_hash": "00" * 32, "sequence": 0, "leaf": {"v": 1}}
    for path in [
        "public-key",
        "tree-head",
        "entries?start=0&end=3",
        "proof/inclusion?leaf_index=0&tree_size=3",
        "proof/consistency?first=1&second=3",
    ]:
        for method in ("post", "put", "patch", "delete"):
            for client in (anon_client, api_client):
                response = getattr(client, method)(f"{API}/{path}", payload, format="json")
                assert response.status_code in (403, 405), (path, method, response.status_code)
    assert counts() == before


# --- cost: O(log n) reads --------------------------------------------------------------------


@pytest.mark.django_db
def test_proofs_and_heads_cost_a_constant_number_of_queries(
    anon_client, integration, django_assert_max_num_queries
):
    size = 1025
    record(integration, count=size)
    leaf_hashes = [
        bytes.fromhex(h)
        for h in QueryLogEntry.objects.order_by("sequence").values_list("leaf_hash", flat=True)
    ]

    with CaptureQueriesContext(connection) as publishing:
        head = publish_tree_head()
    assert head.tree_size == size
    assert head.root_hash == mth(leaf_hashes).hex()
    statements = [q["sql"] for q in publishing.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 5, statements

    def restricted(captured) -> None:
        """Reads of the log's tables pick rows by key: never a scan of the whole log."""
        for query in captured:
            sql = query["sql"]
            if "audit_querylogentry" in sql or "audit_merklenode" in sql:
                assert "WHERE" in sql, sql

    with django_assert_max_num_queries(5) as captured:
        body = get_json(anon_client, f"{API}/proof/inclusion", leaf_index=517, tree_size=size)
    restricted(captured)
    path = [bytes.fromhex(h) for h in body["audit_path"]]
    assert len(path) == 11
    assert verify_inclusion(517, size, leaf_hashes[517], path, bytes.fromhex(head.root_hash))

    with django_assert_max_num_queries(5) as captured:
        body = get_json(anon_client, f"{API}/proof/consistency", first=700, second=size)
    restricted(captured)
    proof = [bytes.fromhex(h) for h in body["consistency"]]
    old_root, new_root = mth(leaf_hashes[:700]), bytes.fromhex(head.root_hash)
    assert verify_consistency(700, size, old_root, new_root, proof)

    with django_assert_max_num_queries(5) as captured:
        assert get_json(anon_client, f"{API}/tree-head")["root_hash"] == head.root_hash
    restricted(captured)

    with django_assert_max_num_queries(2) as captured:
        root = selectors.root_at(1000)
    restricted(captured)
    assert root == mth(leaf_hashes[:1000])

    # The number does not grow with the tree: the same bound for small and large sizes.
    for index, tree_size in [(0, 2), (1, 3), (0, size), (size - 1, size), (511, 1000)]:
        with django_assert_max_num_queries(5) as captured:
            get_json(anon_client, f"{API}/proof/inclusion", leaf_index=index, tree_size=tree_size)
        restricted(captured)


# --- the /log/ page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_log_page_before_any_head(anon_client):
    response = anon_client.get("/log/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No tree head has been published yet" in html
    assert signing.public_key_document()["public_key"] in html


@pytest.mark.django_db
def test_log_page_shows_the_latest_head_and_the_public_key(anon_client, integration):
    record(integration, count=4)
    publish_tree_head()
    record(integration, count=3)
    latest = publish_tree_head()
    response = anon_client.get("/log/")
    assert response.status_code == 200
    html = response.content.decode()
    key = get_json(anon_client, f"{API}/public-key")
    assert latest.root_hash in html
    assert selectors.root_at(4).hex() not in html  # the older head is not shown as latest
    assert latest.signature in html
    assert key["public_key"] in html
    assert key["key_id"] in html
    assert "No tree head has been published yet" not in html
