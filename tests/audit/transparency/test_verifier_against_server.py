"""Tests for the independent public verifier, run against the real log API and a live server."""

import base64
import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rest_framework.test import APIClient
from sightline_verifier import cli as verifier
from sightline_verifier import client as http_client
from sightline_verifier import merkle
from sightline_verifier.checkpoint import Checkpoint, sign_checkpoint
from sightline_verifier.client import Source, parse_json
from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.jsonapi import verify
from sightline_verifier.note import Signer

from audit.log.parsing import QueryInput, fingerprint_target
from audit.log.services import record_queries
from audit.transparency import selectors, signing
from audit.transparency.services import publish_tree_head

REPO = Path(__file__).resolve().parents[3]
ENTRIES = "/api/v1/log/entries"
TREE_HEAD = "/api/v1/log/tree-head"
PUBLIC_KEY = "/api/v1/log/public-key"
CONSISTENCY = "/api/v1/log/proof/consistency"

QUERY_TYPES = {
    "face-recognition": "photo-probe",
    "license-plate-reader": "plate-search",
    "nibin": "casing-correlation",
}
# 2026-01-01 03:00 UTC is still 2025-12-31 in Chicago: the leaf's date is the local date.
NEW_YEAR = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
SMALL_LOG = ["face-recognition"] * 3 + ["license-plate-reader"] * 3 + ["nibin"]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def make_query(
    n: int,
    technology: str = "face-recognition",
    *,
    occurred_at: datetime | None = None,
    case_number: str = "BPD-2026-000123",
    supervisor: str = "B2001",
    on_behalf_of: str = "",
) -> QueryInput:
    target = "ABC1234" if technology == "license-plate-reader" else f"{n:064x}"
    return QueryInput(
        technology=technology,
        query_type=QUERY_TYPES[technology],
        occurred_at=occurred_at or NEW_YEAR + timedelta(days=1, minutes=n),
        operator="B1001",
        target_fingerprint=fingerprint_target(technology, target),
        offense_code="09A",
        justification="Identify the suspect seen on camera at the scene of a homicide.",
        case_number=case_number,
        supervisor=supervisor,
        requesting_agency="BPD",
        on_behalf_of=on_behalf_of,
        scope="local",
        result_count=3,
        client_ref=None,
    )


def record(integration, technologies: list[str], **kwargs) -> None:
    queries = [make_query(n, tech, **kwargs) for n, tech in enumerate(technologies)]
    record_queries(integration=integration, queries=queries)


def publish() -> dict[str, Any]:
    """Publish a head for the log as it is now and return it as the API serves it."""
    publish_tree_head(force=True)
    return selectors.tree_head_document(selectors.latest_tree_head())


Tamper = Callable[[str, Any], Any]


class DjangoLogClient(Source):
    """The verifier's client, answered in-process by the real Django app; can tamper.

    It answers 404 under /tlog/, as a Sightline older than the C2SP tiles did, so the command
    line falls back to the JSON API these tests exercise.
    """

    def __init__(self, tamper: Tamper | None = None) -> None:
        self.api = APIClient()
        self.tamper = tamper
        self.paths: list[str] = []

    def get_bytes(self, path: str) -> bytes:
        self.paths.append(path)
        raise FetchError(f"HTTP 404 for {path}", status=404)

    def get_json(self, path: str) -> Any:
        self.paths.append(path)
        response = self.api.get(path)
        if response.status_code != 200:
            raise FetchError(
                f"HTTP {response.status_code} for {path}: {response.content[:200]!r}",
                status=response.status_code,
            )
        document = response.json()
        return self.tamper(path, document) if self.tamper else document


def on(prefix: str, change: Callable[[Any], Any]) -> Tamper:
    """A tamper function applying ``change`` to documents whose path starts with ``prefix``."""

    def tamper(path: str, document: Any) -> Any:
        if path.startswith(prefix):
            result = change(document)
            return document if result is None else result
        return document

    return tamper


def rehash(entry: dict) -> None:
    """Make an entry's leaf_hash match its (altered) leaf, as a careful forger would."""
    entry["leaf_hash"] = merkle.leaf_hash(merkle.canonical_json(entry["leaf"])).hex()


def sign_with(key: Ed25519PrivateKey, head: dict, **changes) -> dict:
    """A copy of ``head`` with ``changes``, re-signed by ``key`` (key_id left as it was)."""
    forged = {**head, **changes}
    message = merkle.canonical_json({k: forged[k] for k in ("tree_size", "root_hash", "timestamp")})
    forged["signature"] = base64.b64encode(key.sign(message)).decode()
    return forged


def key_document(key: Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(raw).decode(),
        "key_id": hashlib.sha256(raw).hexdigest(),
    }


def env_without_django() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env_without_django(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def standalone_install(directory: Path) -> Path:
    """The verifier package as `pip install ./verifier` puts it, alone in a directory."""
    source = directory / "source"
    shutil.copytree(REPO / "verifier", source, ignore=shutil.ignore_patterns("*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(directory), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return directory


@pytest.fixture
def small_log(integration) -> dict[str, Any]:
    """Seven entries of three technologies and their published head."""
    record(integration, SMALL_LOG)
    return publish()


@pytest.fixture
def two_heads(integration) -> tuple[dict[str, Any], dict[str, Any]]:
    """A head of 5 entries, then a head of 9 after 4 more were recorded."""
    record(integration, ["face-recognition"] * 5)
    first = publish()
    record(integration, ["nibin"] * 4)
    return first, publish()


# --------------------------------------------------------------------------
# The real log verifies
# --------------------------------------------------------------------------


def test_verifies_the_real_log_and_matches_its_signed_head(small_log):
    lines: list[str] = []

    result = verify(DjangoLogClient(), progress=lines.append)

    assert result.tree_size == 7 == small_log["tree_size"]
    assert result.root_hash == small_log["root_hash"] == selectors.root_at(7).hex()
    assert result.head == small_log
    assert result.key_id == signing.key_id()
    assert result.previous_size is None
    assert any(line.startswith("Root: recomputed from 7 leaves") for line in lines)


def test_counts_are_recomputed_from_the_leaves(integration):
    record(integration, ["face-recognition"] * 2, occurred_at=NEW_YEAR)  # 2025-12-31 locally
    record(integration, ["face-recognition"], case_number="", supervisor="")
    record(integration, ["license-plate-reader"] * 3, on_behalf_of="JCSO")
    publish()

    counts = verify(DjangoLogClient()).counts

    assert counts.total == 6
    assert counts.by_technology == {"face-recognition": 3, "license-plate-reader": 3}
    assert counts.by_year == {
        ("2025", "face-recognition"): 2,
        ("2026", "face-recognition"): 1,
        ("2026", "license-plate-reader"): 3,
    }
    assert counts.by_agency == {("BPD", "face-recognition"): 3, ("BPD", "license-plate-reader"): 3}
    assert counts.without_case_number == {"face-recognition": 1}
    assert counts.without_supervisor == {"face-recognition": 1}
    assert counts.on_behalf_of_another == {"license-plate-reader": 3}


def test_counts_can_be_limited_to_a_period(integration):
    record(integration, ["face-recognition"] * 2, occurred_at=NEW_YEAR)  # 2025-12-31 locally
    record(integration, ["nibin"] * 3)  # 2026-01-01 locally
    publish()

    counts = verify(DjangoLogClient(), since=date(2026, 1, 1), until=date(2026, 12, 31)).counts

    assert counts.total == 3
    assert counts.by_technology == {"nibin": 3}


def test_more_than_one_page_of_entries_is_fetched_in_pages_of_1000(integration):
    record(integration, ["license-plate-reader"] * 1000)
    record(integration, ["nibin"] * 5)
    head = publish()
    client = DjangoLogClient()

    result = verify(client)

    assert result.tree_size == 1005
    assert result.root_hash == head["root_hash"]
    assert result.counts.by_technology == {"license-plate-reader": 1000, "nibin": 5}
    assert [p for p in client.paths if p.startswith(ENTRIES)] == [
        f"{ENTRIES}?start=0&end=1000",
        f"{ENTRIES}?start=1000&end=1005",
    ]


def test_an_empty_log_verifies_with_the_empty_root(db):
    publish()
    client = DjangoLogClient()

    result = verify(client)

    assert result.tree_size == 0
    assert result.root_hash == merkle.EMPTY_ROOT.hex()
    assert not [p for p in client.paths if p.startswith(ENTRIES)]


# --------------------------------------------------------------------------
# Tampered entries
# --------------------------------------------------------------------------


def _change_technology(doc):
    doc["entries"][3]["leaf"]["technology"] = "nibin"


def _swap_leaf_hash(doc):
    doc["entries"][2]["leaf_hash"] = doc["entries"][5]["leaf_hash"]


def _rewrite_leaf_and_hash(doc):
    entry = doc["entries"][4]
    entry["leaf"]["offense_category"] = "Weapon Law Violations"
    rehash(entry)


def _drop_entry(doc):
    del doc["entries"][4]


def _drop_last_entry(doc):
    del doc["entries"][-1]


def _swap_entries(doc):
    entries = doc["entries"]
    entries[1], entries[2] = entries[2], entries[1]


def _renumber_leaf(doc):
    doc["entries"][2]["leaf"]["sequence"] = 3
    rehash(doc["entries"][2])


def _add_private_field(doc):
    doc["entries"][0]["leaf"]["operator"] = "B1001"
    rehash(doc["entries"][0])


def _time_instead_of_date(doc):
    doc["entries"][6]["leaf"]["date"] = "2026-01-02T14:05:00"
    rehash(doc["entries"][6])


def _add_entry(doc):
    doc["entries"].append(dict(doc["entries"][-1]))


def _not_a_list(doc):
    return {"entries": {"0": doc["entries"][0]}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_change_technology, r"^sequence 3: the leaf does not match its leaf_hash"),
        (_swap_leaf_hash, r"^sequence 2: the leaf does not match its leaf_hash"),
        (_rewrite_leaf_and_hash, r"^root: the root recomputed from the 7 leaves is [0-9a-f]{64}"),
        (_drop_entry, r"^sequence 4: expected this sequence next but the log sent 5"),
        (_drop_last_entry, r"^sequence 6: missing; the log sent 6 of the 7 entries 0 to 6"),
        (_swap_entries, r"^sequence 1: expected this sequence next but the log sent 2"),
        (_renumber_leaf, r"^sequence 2: the leaf says it is sequence 3"),
        (_add_private_field, r"^sequence 0: the leaf has fields .* not allow: operator"),
        (_time_instead_of_date, r"^sequence 6: leaf date '2026-01-02T14:05:00' is not a YYYY"),
        (_add_entry, r"^entries 0 to 6: the log sent more entries than asked for"),
        (_not_a_list, r"^entries 0 to 6: the answer is not in the published format"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] or None,
)
def test_tampered_entries_fail_naming_what_failed(small_log, change, message):
    with pytest.raises(VerificationFailed, match=message):
        verify(DjangoLogClient(on(ENTRIES, change)))


def test_a_log_that_refuses_entries_its_head_covers_fails(small_log):
    def refuse(path, document):
        if path.startswith(ENTRIES):
            raise FetchError("HTTP 400", status=400)
        return document

    with pytest.raises(VerificationFailed, match=r"^entries 0 to 6: the log refused to serve it"):
        verify(DjangoLogClient(refuse))


def test_network_errors_are_not_verdicts(small_log):
    def unreachable(path, document):
        if path.startswith(ENTRIES):
            raise FetchError("could not fetch: connection reset")
        return document

    with pytest.raises(FetchError, match="connection reset"):
        verify(DjangoLogClient(unreachable))


# --------------------------------------------------------------------------
# Tampered heads and keys
# --------------------------------------------------------------------------


def test_a_forged_signature_fails(small_log):
    forger = Ed25519PrivateKey.generate()
    client = DjangoLogClient(on(TREE_HEAD, lambda head: sign_with(forger, head)))

    with pytest.raises(VerificationFailed, match=r"^tree head: signature is not valid for size 7"):
        verify(client)


@pytest.mark.parametrize(
    "changes",
    [{"root_hash": "ab" * 32}, {"tree_size": 6}, {"timestamp": "2099-01-01T00:00:00Z"}],
    ids=["root", "size", "timestamp"],
)
def test_a_signed_field_changed_after_signing_fails(small_log, changes):
    client = DjangoLogClient(on(TREE_HEAD, lambda head: {**head, **changes}))

    with pytest.raises(VerificationFailed, match=r"^tree head: signature is not valid"):
        verify(client)


def test_a_wrong_key_id_fails(small_log):
    client = DjangoLogClient(on(PUBLIC_KEY, lambda doc: {**doc, "key_id": "00" * 32}))

    with pytest.raises(VerificationFailed, match=r"^public key: the published key id '0000"):
        verify(client)


def test_a_head_signed_by_another_key_id_fails(small_log):
    client = DjangoLogClient(on(TREE_HEAD, lambda head: {**head, "key_id": "11" * 32}))

    with pytest.raises(VerificationFailed, match=r"^tree head: signed by key '1111"):
        verify(client)


def test_a_malformed_head_fails_rather_than_crashing(small_log):
    client = DjangoLogClient(on(TREE_HEAD, lambda head: {**head, "root_hash": None}))

    with pytest.raises(VerificationFailed, match=r"^tree head: root_hash is not 64 lowercase hex"):
        verify(client)


def _substitute_everything(forger: Ed25519PrivateKey) -> Tamper:
    """A server that swaps in its own key and re-signs a rewritten log with it."""

    def tamper(path, document):
        if path.startswith(PUBLIC_KEY):
            return key_document(forger)
        if path.startswith(TREE_HEAD):
            return sign_with(forger, document, key_id=key_document(forger)["key_id"])
        return document

    return tamper


def test_a_substituted_key_is_caught_by_a_pinned_key_id(small_log):
    client = DjangoLogClient(_substitute_everything(Ed25519PrivateKey.generate()))

    with pytest.raises(VerificationFailed, match=r"^public key: the log's key id is [0-9a-f]{64}"):
        verify(client, expected_key_id=signing.key_id())


def test_a_substituted_key_is_caught_by_a_saved_head(small_log):
    client = DjangoLogClient(_substitute_everything(Ed25519PrivateKey.generate()))

    with pytest.raises(VerificationFailed, match=r"^previous head: signed by key"):
        verify(client, previous=small_log)


# --------------------------------------------------------------------------
# Consistency with a previously saved head
# --------------------------------------------------------------------------


def test_a_saved_earlier_head_is_proved_consistent(two_heads):
    first, second = two_heads
    lines: list[str] = []
    client = DjangoLogClient()

    result = verify(client, previous=first, progress=lines.append)

    assert (result.previous_size, result.tree_size) == (5, 9)
    assert result.root_hash == second["root_hash"]
    assert f"{CONSISTENCY}?first=5&second=9" in client.paths
    assert "Consistency: the log of 9 entries extends your saved head of 5 entries." in lines


def test_the_same_head_saved_earlier_is_consistent(two_heads):
    _, second = two_heads
    client = DjangoLogClient()

    assert verify(client, previous=second).previous_size == 9
    assert not [p for p in client.paths if p.startswith(CONSISTENCY)]


def test_a_saved_head_of_the_empty_log_is_consistent(small_log):
    empty = signing.sign_tree_head(tree_size=0, root_hash=merkle.EMPTY_ROOT.hex())

    assert verify(DjangoLogClient(), previous=empty).previous_size == 0


def test_a_saved_head_re_signed_by_another_key_fails(two_heads):
    first, _ = two_heads
    forged = sign_with(Ed25519PrivateKey.generate(), first, root_hash="cd" * 32)

    with pytest.raises(VerificationFailed, match=r"^previous head: signature is not valid"):
        verify(DjangoLogClient(), previous=forged)


def test_a_saved_head_with_an_edited_root_fails(two_heads):
    first, _ = two_heads

    with pytest.raises(VerificationFailed, match=r"^previous head: signature is not valid"):
        verify(DjangoLogClient(), previous={**first, "root_hash": "cd" * 32})


def _flip_first_hash(doc):
    proof = doc["consistency"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_flip_first_hash, r"^consistency: the proof does not show that the log of 9 entries"),
        (lambda doc: {**doc, "consistency": []}, r"^consistency: the proof does not show"),
        (lambda doc: {**doc, "first": 4}, r"^consistency: asked for a proof from 5 to 9"),
        (lambda doc: {"proof": doc["consistency"]}, r"^consistency: the proof is not in the"),
    ],
    ids=["altered-hash", "empty", "wrong-sizes", "malformed"],
)
def test_an_altered_consistency_proof_fails(two_heads, change, message):
    first, _ = two_heads

    with pytest.raises(VerificationFailed, match=message):
        verify(DjangoLogClient(on(CONSISTENCY, change)), previous=first)


def test_a_real_signed_head_that_the_current_log_does_not_extend_fails(two_heads):
    """A head the log really signed, for a different history (a fork), cannot be proved."""
    fork_root = merkle.root_from_leaf_hashes([merkle.leaf_hash(b"%d" % i) for i in range(5)])
    forked = signing.sign_tree_head(tree_size=5, root_hash=fork_root.hex())

    with pytest.raises(VerificationFailed, match=r"^consistency: the proof does not show"):
        verify(DjangoLogClient(), previous=forked)


def test_two_roots_signed_for_the_same_size_fail(two_heads):
    forked = signing.sign_tree_head(tree_size=9, root_hash="ef" * 32)

    with pytest.raises(VerificationFailed, match=r"^consistency: two different roots .* size 9"):
        verify(DjangoLogClient(), previous=forked)


def test_a_log_that_shrank_fails(two_heads):
    """The log shows an older, smaller head than one already saved: a rollback."""
    first, second = two_heads
    client = DjangoLogClient(on(TREE_HEAD, lambda head: first))

    with pytest.raises(VerificationFailed, match=r"^consistency: the log shrank: .* 9 .* only 5"):
        verify(client, previous=second)


def test_a_log_that_refuses_a_consistency_proof_fails(two_heads):
    first, _ = two_heads

    def refuse(path, document):
        if path.startswith(CONSISTENCY):
            raise FetchError("HTTP 400", status=400)
        return document

    with pytest.raises(VerificationFailed, match=r"^consistency proof: the log refused"):
        verify(DjangoLogClient(refuse), previous=first)


@pytest.mark.parametrize(
    "body",
    [b'{"a": 1, "a": 2}', b'{"a": NaN}', b'{"a": Infinity}', b"\xff"],
    ids=["duplicate-key", "nan", "infinity", "not-utf8"],
)
def test_documents_that_could_be_read_two_ways_are_refused(body):
    with pytest.raises(ValueError):
        parse_json(body)


def test_a_leaf_of_an_unknown_version_fails(small_log):
    def bump(doc):
        doc["entries"][0]["leaf"]["v"] = 2
        rehash(doc["entries"][0])

    with pytest.raises(VerificationFailed, match=r"^sequence 0: leaf version 2 is not known"):
        verify(DjangoLogClient(on(ENTRIES, bump)))


# --------------------------------------------------------------------------
# The command line, in process
# --------------------------------------------------------------------------


def cli(argv: list[str], tamper: Tamper | None = None) -> int:
    return verifier.main(
        ["--url", "https://sightline.example.org", *argv],
        client_factory=lambda url, timeout: DjangoLogClient(tamper),
    )


def test_cli_prints_counts_and_ok_line(small_log, capsys):
    assert cli([]) == verifier.EXIT_OK

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[-1] == f"OK: 7 entries, root {small_log['root_hash']}"
    assert lines[0] == "Entries recomputed from the verified leaves (all dates): 7"
    assert lines[2].split() == ["face-recognition", "3", "0", "0", "0"]
    assert lines[3].split() == ["license-plate-reader", "3", "0", "0", "0"]
    assert lines[4].split() == ["nibin", "1", "0", "0", "0"]
    assert "Verifying the log at https://sightline.example.org" in err
    assert "signature valid" in err


def test_cli_saves_a_head_then_checks_the_grown_log_against_it(integration, tmp_path, capsys):
    record(integration, ["face-recognition"] * 4)
    first = publish()
    saved = tmp_path / "head.json"
    assert cli(["--save", str(saved)]) == verifier.EXIT_OK
    assert json.loads(saved.read_text()) == first

    record(integration, ["nibin"] * 3)
    second = publish()
    assert cli(["--previous", str(saved), "--save", str(saved)]) == verifier.EXIT_OK

    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"OK: 7 entries, root {second['root_hash']}"
    assert "extends your saved head of 4 entries" in err
    assert json.loads(saved.read_text()) == second


def test_cli_writes_verified_leaves_to_csv(small_log, tmp_path):
    out = tmp_path / "leaves.csv"

    assert cli(["--csv", str(out), "--quiet"]) == verifier.EXIT_OK

    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["sequence"]) for r in rows] == list(range(7))
    assert [r["technology"] for r in rows] == SMALL_LOG
    assert rows[0]["date"] == "2026-01-01"
    assert list(rows[0]) == list(verifier.CSV_COLUMNS)


def test_cli_failure_exits_1_with_a_failed_line_and_leaves_no_csv(small_log, tmp_path, capsys):
    out = tmp_path / "leaves.csv"

    status = cli(["--csv", str(out), "--save", str(tmp_path / "h.json")], on(ENTRIES, _drop_entry))

    assert status == verifier.EXIT_FAILED
    stdout, err = capsys.readouterr()
    assert "OK:" not in stdout
    assert err.splitlines()[-1].startswith("FAILED: sequence 4: expected this sequence next")
    assert list(tmp_path.iterdir()) == []


def test_cli_pinned_key_id_mismatch_fails(small_log, capsys):
    assert cli(["--key-id", "ab" * 32]) == verifier.EXIT_FAILED
    assert "FAILED: public key: the log's key id is" in capsys.readouterr().err


def test_cli_network_error_exits_2(small_log, capsys):
    def unreachable(path, document):
        raise FetchError(f"could not fetch https://sightline.example.org{path}: timed out")

    assert cli([], unreachable) == verifier.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "ERROR: could not fetch https://sightline.example.org/api/v1/log/public-key" in err
    assert "FAILED" not in err


def test_cli_unreadable_previous_head_exits_2(small_log, tmp_path, capsys):
    broken = tmp_path / "head.json"
    broken.write_text("{not json")

    assert cli(["--previous", str(broken)]) == verifier.EXIT_UNAVAILABLE
    assert f"ERROR: cannot read the saved head {broken}" in capsys.readouterr().err


# --------------------------------------------------------------------------
# The verifier stands alone: no Django, two files
# --------------------------------------------------------------------------


def test_help_works_without_django_settings():
    done = run_cli("-m", "sightline_verifier", "--help")

    assert done.returncode == 0, done.stderr
    assert "--previous" in done.stdout
    assert "--save" in done.stdout


def test_importing_the_verifier_does_not_import_django():
    check = "import sightline_verifier.verify, sys; assert 'django' not in sys.modules"
    done = run_cli("-c", check)

    assert done.returncode == 0, done.stderr


def test_the_installed_package_works_on_its_own(tmp_path):
    standalone_install(tmp_path)
    check = (
        "import sys, sightline_verifier.verify as v; "
        "assert 'django' not in sys.modules and 'audit' not in sys.modules, sorted(sys.modules); "
        "print(v.merkle.__file__)"
    )

    done = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**env_without_django(), "PYTHONPATH": str(tmp_path)}, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == tmp_path / "sightline_verifier" / "merkle.py"
    assert (tmp_path / "bin" / "sightline-verify").exists()
    assert (tmp_path / "bin" / "sightline-witness").exists()


def test_an_unreachable_site_exits_2():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the verifier connects

    done = run_cli("-m", "sightline_verifier", "--url", f"http://127.0.0.1:{port}")

    assert done.returncode == 2
    assert f"ERROR: could not fetch http://127.0.0.1:{port}/api/v1/log/public-key" in done.stderr
    assert "FAILED" not in done.stderr


def test_a_url_that_is_not_http_exits_2():
    done = run_cli("-m", "sightline_verifier", "--url", "file:///etc/passwd")

    assert done.returncode == 2
    assert "is not an http:// or https:// address" in done.stderr


# --------------------------------------------------------------------------
# Over real HTTP against a live server
# --------------------------------------------------------------------------


def test_verifies_a_live_server_then_its_growth_from_a_saved_head(
    log_db, live_server, integration, tmp_path
):
    record(integration, ["face-recognition", "license-plate-reader", "nibin"])
    first = publish()
    saved = tmp_path / "head.json"

    done = run_cli(
        "-m", "sightline_verifier", "--url", live_server.url, "--save", str(saved), "--api", "json"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"OK: 3 entries, root {first['root_hash']}"
    assert json.loads(saved.read_text()) == first
    client = http_client.HttpSource(live_server.url + "/")
    assert client.get_json(TREE_HEAD) == first
    with pytest.raises(FetchError, match=r"answered HTTP 404: .*No tree head of size 999") as error:
        client.get_json(f"{TREE_HEAD}?tree_size=999")
    assert error.value.status == 404

    record(integration, ["nibin"] * 2)
    second = publish()
    assert second["tree_size"] == 5
    done = run_cli(
        "-m",
        "sightline_verifier",
        "--url",
        live_server.url,
        "--previous",
        str(saved),
        "--save",
        str(saved),
        "--api",
        "json",
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"OK: 5 entries, root {second['root_hash']}"
    assert "extends your saved head of 3 entries" in done.stderr
    assert json.loads(saved.read_text()) == second


# --------------------------------------------------------------------------
# C2SP checkpoint and tiles of the real server
# --------------------------------------------------------------------------


class DjangoTileSource(Source):
    """The whole site in-process (tiles, checkpoint, JSON API), as bytes; can tamper."""

    def __init__(self, tamper: Callable[[str, bytes], bytes] | None = None) -> None:
        self.api = APIClient()
        self.tamper = tamper
        self.paths: list[str] = []

    def get_bytes(self, path: str) -> bytes:
        self.paths.append(path)
        response = self.api.get(path)
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code} for {path}", status=response.status_code)
        data = b"".join(response.streaming_content) if response.streaming else response.content
        return self.tamper(path, data) if self.tamper else data


def tiles_cli(argv: list[str], tamper=None) -> int:
    return verifier.main(
        ["--url", "https://sightline.example.org", *argv],
        client_factory=lambda url, timeout: DjangoTileSource(tamper),
    )


def test_a_live_server_verifies_through_its_tiles_then_its_growth(
    log_db, live_server, integration, tmp_path
):
    from audit.transparency import checkpoints

    record(integration, SMALL_LOG)
    first = publish()
    saved = tmp_path / "checkpoint.txt"

    done = run_cli(
        "-m", "sightline_verifier", "--url", live_server.url, "--save", str(saved), "--entry", "3"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        f"OK: 7 entries, root {first['root_hash']} (1 entry proved included; statistics match)"
    )
    assert "Log key: " + checkpoints.verifier_key() in done.stderr
    assert "Statistics: every count at /api/v1/stats/ for size 7 matches the leaves." in done.stderr
    served = http_client.HttpSource(live_server.url).get_bytes("/tlog/checkpoint").decode()
    assert saved.read_text() == served
    root = base64.b64encode(bytes.fromhex(first["root_hash"])).decode()
    assert served.split("\n")[1:3] == ["7", root]

    record(integration, ["license-plate-reader"] * 300)
    second = publish()
    for extra in (["--progress"], ["--quick", "--entry", "306"]):
        done = run_cli(
            "-m", "sightline_verifier", "--url", live_server.url, "--previous", str(saved),
            "--log-key", checkpoints.verifier_key(), *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"307 entries, root {second['root_hash']} (extends your checkpoint of 7" in (
            done.stdout
        )
    # (text mode reads the bar's carriage returns as line ends)
    bar = run_cli("-m", "sightline_verifier", "--url", live_server.url, "--progress").stderr
    assert "Entries [" in bar and "100% 307/307 entries" in bar
    assert "Entries [" not in run_cli("-m", "sightline_verifier", "--url", live_server.url).stderr


def test_published_statistics_the_leaves_do_not_support_fail(small_log, capsys):
    def inflate(path: str, data: bytes) -> bytes:
        if not path.startswith("/api/v1/stats/"):
            return data
        document = json.loads(data)
        document["by_agency"][0]["queries"] += 1
        return json.dumps(document).encode()

    assert tiles_cli([], inflate) == verifier.EXIT_FAILED
    err = capsys.readouterr().err
    assert "FAILED: statistics: the counts published at /api/v1/stats/ are not those" in err
    assert "by_agency face-recognition agency 'BPD': published 4, the leaves give 3" in err


def test_a_changed_entry_bundle_of_the_server_fails(small_log, capsys):
    def rewrite(path: str, data: bytes) -> bytes:
        if "/tile/entries/" in path:
            return data.replace(b'"technology":"nibin"', b'"technology":"nibiN"')
        return data

    assert tiles_cli([], rewrite) == verifier.EXIT_FAILED
    assert "FAILED: sequence 6: its entry hashes to" in capsys.readouterr().err


def test_a_changed_checkpoint_of_the_server_fails(small_log, capsys):
    def grow(path: str, data: bytes) -> bytes:
        return data.replace(b"\n7\n", b"\n8\n", 1) if path == "/tlog/checkpoint" else data

    assert tiles_cli([], grow) == verifier.EXIT_FAILED
    assert "FAILED: checkpoint: the signature of " in capsys.readouterr().err


def test_a_pinned_log_key_catches_a_substituted_key(small_log, capsys):
    forger = Signer("127.0.0.1/sightline", Ed25519PrivateKey.generate())

    assert tiles_cli(["--log-key", forger.vkey]) == verifier.EXIT_FAILED
    assert "FAILED: checkpoint: not signed by the log's key" in capsys.readouterr().err


def test_the_tiles_and_the_json_api_give_the_same_verdict(small_log, capsys):
    assert tiles_cli([]) == verifier.EXIT_OK
    assert tiles_cli(["--api", "json"]) == verifier.EXIT_OK
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("OK:")]
    assert lines == [
        f"OK: 7 entries, root {small_log['root_hash']} (statistics match)",
        f"OK: 7 entries, root {small_log['root_hash']}",
    ]


def test_a_server_without_tiles_is_verified_over_its_json_api(small_log, capsys):
    assert cli([]) == verifier.EXIT_OK
    err = capsys.readouterr().err
    assert "No C2SP tiles here" in err
    assert "verifying over the older JSON API" in err
    assert cli(["--api", "tiles"]) == verifier.EXIT_UNAVAILABLE
    witness = Signer("w.test/x", Ed25519PrivateKey.generate()).cosignature_vkey
    assert cli(["--witness", witness]) == verifier.EXIT_UNAVAILABLE
    assert "no witness cosignature can be checked" in capsys.readouterr().err


# --------------------------------------------------------------------------
# A real sightline-witness process, fed by a real Sightline
# --------------------------------------------------------------------------


def start_witness(tmp_path: Path, log_vkey: str) -> tuple[subprocess.Popen, str, str]:
    """`sightline-witness keygen` then `serve` on a free loopback port: (process, url, vkey)."""
    key = tmp_path / "clerk.key"
    command = [sys.executable, "-m", "sightline_verifier.witness"]
    subprocess.run(
        [*command, "keygen", "witness.test/clerk", "--key", str(key)],
        check=True, capture_output=True, env=env_without_django(), timeout=60,
    )  # fmt: skip
    process = subprocess.Popen(
        [*command, "serve", "--key", str(key), "--log", log_vkey,
         "--state", str(tmp_path / "witness-state.json"), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**env_without_django(), "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    vkey = process.stdout.readline().split()[1]
    url = process.stdout.readline().split()[2]
    return process, url, vkey


@pytest.fixture
def submit_synchronously(monkeypatch):
    """Sightline submits each new checkpoint to its witnesses right away, in this thread."""
    from audit.transparency import witnesses

    monkeypatch.setattr(witnesses, "_in_background", lambda work: work())
    monkeypatch.setattr(witnesses.connection, "close", lambda: None)


def test_a_real_witness_cosigns_what_sightline_submits_and_refuses_a_fork(
    log_db, live_server, integration, tmp_path, submit_synchronously
):
    from audit.models import Cosignature, Witness
    from audit.transparency import checkpoints

    process, url, vkey = start_witness(tmp_path, checkpoints.verifier_key())
    try:
        Witness.objects.create(name="City clerk", url=url, vkey=vkey)
        record(integration, ["face-recognition"] * 5)
        publish()
        assert Witness.objects.get().last_error == ""
        assert Cosignature.objects.filter(tree_size=5).count() == 1
        saved = tmp_path / "checkpoint.txt"
        done = run_cli(
            "-m", "sightline_verifier", "--url", live_server.url, "--witness", vkey,
            "--save", str(saved),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "(cosigned by 1 of 1; statistics match)" in done.stdout.splitlines()[-1]

        record(integration, ["nibin"] * 300)
        second = publish()  # submitted with a consistency proof from size 5
        witness = Witness.objects.get()
        assert (witness.cosigned_size, witness.last_error) == (305, "")
        state = json.loads((tmp_path / "witness-state.json").read_text())
        assert state[checkpoints.log_origin()]["size"] == 305
        done = run_cli(
            "-m", "sightline_verifier", "--url", live_server.url, "--witness", vkey,
            "--previous", str(saved), "--quick",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"root {second['root_hash']} (cosigned by 1 of 1; extends" in done.stdout

        # The same key signs another history of 305 entries: the witness refuses to cosign it.
        fork_leaves = [merkle.leaf_hash(b"fork %d" % i) for i in range(305)]
        fork = Checkpoint(checkpoints.log_origin(), 305, merkle.root_from_leaf_hashes(fork_leaves))
        note = sign_checkpoint(fork, checkpoints.log_signer())
        status = post_witness(url, f"old 305\n\n{note}".encode())
        assert status == 422
        # And the fork grown to 400 entries, with a proof that is valid within the fork.
        grown_leaves = fork_leaves + [merkle.leaf_hash(b"%d" % i) for i in range(95)]
        grown = Checkpoint(
            checkpoints.log_origin(), 400, merkle.root_from_leaf_hashes(grown_leaves)
        )
        proof = merkle.consistency_proof(
            305, 400, lambda a, b: merkle.root_from_leaf_hashes(grown_leaves[a:b])
        )
        body = "old 305\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        note = sign_checkpoint(grown, checkpoints.log_signer())
        assert post_witness(url, f"{body}\n{note}".encode()) == 422
        # An unknown witness key named by the user is not a cosigner.
        other = Signer("witness.test/paper", Ed25519PrivateKey.generate()).cosignature_vkey
        done = run_cli(
            "-m", "sightline_verifier", "--url", live_server.url, "--witness", vkey,
            "--witness", other, "--quick",
        )  # fmt: skip
        assert done.returncode == 1
        assert "FAILED: witnesses: 1 of the 2 witnesses you named cosigned" in done.stderr
    finally:
        process.terminate()
        process.wait(timeout=30)


def post_witness(url: str, body: bytes) -> int:
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/add-checkpoint", body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_the_json_api_shows_a_progress_bar_when_asked(integration, capsys):
    record(integration, ["nibin"] * 1005)
    publish()

    assert cli(["--progress"]) == verifier.EXIT_OK
    err = capsys.readouterr().err
    assert "\rEntries [" in err and "100% 1,005/1,005 entries" in err
    assert "Entries: 1,005 of 1,005 checked." not in err

    assert cli([]) == verifier.EXIT_OK
    err = capsys.readouterr().err
    assert "\rEntries [" not in err
    assert "Entries: 1,005 of 1,005 checked." in err


def test_a_json_head_of_another_tree_than_the_checkpoint_fails(small_log, capsys):
    """The same key signing a different root as the JSON head of the checkpoint's size."""
    other = signing.sign_tree_head(tree_size=7, root_hash="ab" * 32)

    def swap(path: str, data: bytes) -> bytes:
        return json.dumps(other).encode() if path.startswith(f"{TREE_HEAD}?") else data

    assert tiles_cli([]) == verifier.EXIT_OK
    assert "JSON API: its signed head of size 7 has the checkpoint's root." in (
        capsys.readouterr().err
    )
    assert tiles_cli([], swap) == verifier.EXIT_FAILED
    assert "FAILED: JSON tree head: the site's signed JSON head of size 7 has root abab" in (
        capsys.readouterr().err
    )
