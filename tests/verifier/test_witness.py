"""The witness as a real process on a loopback port, fed a checkpoint chain built here."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sightline_verifier import merkle
from sightline_verifier.checkpoint import Checkpoint, add_signatures, sign_checkpoint
from sightline_verifier.note import COSIGNATURE_V1, Signer, open_note, parse_signature_lines
from sightline_verifier.note import parse_vkey as read_vkey
from sightline_verifier.witness import load_signer

from tests.verifier.logs import ORIGIN, TestLog, leaf

WITNESS_NAME = "witness.test/clerk"


def witness_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sightline_verifier.witness", *args]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class RunningWitness:
    url: str
    vkey: str
    process: subprocess.Popen

    def post(self, body: bytes, path: str = "/add-checkpoint") -> tuple[int, str, bytes]:
        parts = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            conn.close()

    def add(self, log: TestLog, old: int, size: int | None = None, proof=None, note=None):
        size = log.size if size is None else size
        if proof is None:
            proof = merkle.consistency_proof(old, size, log.subtree_hash) if old else []
        return self.post(request(old, proof, note or log.checkpoint(size)))


def request(old: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def start(tmp: Path, log_vkey: str, key: Path) -> RunningWitness:
    process = subprocess.Popen(
        witness_command(
            "serve", "--key", str(key), "--log", log_vkey, "--state", str(tmp / "state.json"),
            "--listen", "127.0.0.1:0",
        ),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment(),
    )  # fmt: skip
    first = process.stdout.readline().split()
    second = process.stdout.readline().split()
    assert first[0] == "witness" and second[:2] == ["listening", "on"], (first, second)
    return RunningWitness(url=second[2], vkey=first[1], process=process)


def stop(witness: RunningWitness) -> None:
    witness.process.terminate()
    witness.process.wait(timeout=30)


@pytest.fixture
def witness_key(tmp_path) -> tuple[Path, str]:
    key = tmp_path / "witness.key"
    done = subprocess.run(
        witness_command("keygen", WITNESS_NAME, "--key", str(key)),
        capture_output=True, text=True, env=environment(), timeout=60, check=True,
    )  # fmt: skip
    return key, done.stdout.strip()


@pytest.fixture
def log() -> TestLog:
    return TestLog(0)


@pytest.fixture
def witness(tmp_path, witness_key, log) -> Iterator[RunningWitness]:
    running = start(tmp_path, log.key.vkey, witness_key[0])
    yield running
    stop(running)


def cosignature_ok(witness: RunningWitness, note: str, body: bytes) -> bool:
    verifier = read_vkey(witness.vkey)
    opened = open_note(add_signatures(note, parse_signature_lines(body)), [verifier])
    return opened.verified_by(verifier) is not None


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def test_keygen_prints_a_cosignature_vkey_and_never_overwrites_a_key(tmp_path, witness_key):
    key, vkey = witness_key
    verifier = read_vkey(vkey)

    assert verifier.name == WITNESS_NAME
    assert verifier.key_type == COSIGNATURE_V1
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert load_signer(key).cosignature_vkey == vkey
    again = subprocess.run(
        witness_command("keygen", WITNESS_NAME, "--key", str(key)),
        capture_output=True, text=True, env=environment(), timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 2
    assert f"ERROR: {key} already exists; keygen never replaces a key." in again.stderr
    assert load_signer(key).cosignature_vkey == vkey
    shown = subprocess.run(
        witness_command("vkey", "--key", str(key)),
        capture_output=True, text=True, env=environment(), timeout=60, check=True,
    )  # fmt: skip
    assert shown.stdout.strip() == vkey


# --------------------------------------------------------------------------
# A chain of checkpoints
# --------------------------------------------------------------------------


def test_the_witness_cosigns_a_growing_log(witness, log):
    sizes = [1, 2, 3, 256, 257, 700, 700, 1500]
    old = 0
    for size in sizes:
        log.grow(size - log.size)
        status, content_type, body = witness.add(log, old)
        assert status == 200, body
        assert content_type.startswith("text/plain")
        assert body.decode().startswith(f"\u2014 {WITNESS_NAME} ")
        assert cosignature_ok(witness, log.checkpoint(), body)
        old = size


def test_a_stale_old_size_gets_409_with_the_witness_size(witness, log):
    log.grow(10)
    assert witness.add(log, 0)[0] == 200
    log.grow(10)

    status, content_type, body = witness.add(log, 5)

    assert (status, content_type, body) == (409, "text/x.tlog.size", b"10\n")
    assert witness.add(log, 0, proof=[])[:3] == (409, "text/x.tlog.size", b"10\n")
    assert witness.add(log, 10)[0] == 200


def test_a_bad_proof_gets_422(witness, log):
    log.grow(100)
    assert witness.add(log, 0)[0] == 200
    log.grow(50)
    proof = merkle.consistency_proof(100, 150, log.subtree_hash)
    proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]

    assert witness.add(log, 100, proof=proof)[0] == 422
    assert witness.add(log, 100, proof=[])[0] == 422
    assert witness.add(log, 100)[0] == 200  # the right proof still works


def test_a_fork_is_refused(witness, log):
    """The log signs another history (entry 50 differs) after the witness cosigned the first."""
    log.grow(100)
    assert witness.add(log, 0)[0] == 200
    fork = TestLog(0, key=log.key)
    fork.grow(150, lambda n: {**leaf(n), "scope": "national"} if n == 50 else leaf(n))

    # Same size, another root; and growth from it with the fork's own (valid) proof.
    assert witness.add(fork, 100, size=100)[0] == 422
    assert witness.add(fork, 100, size=150)[0] == 422
    log.grow(50)
    assert witness.add(log, 100)[0] == 200


def test_the_same_checkpoint_is_cosigned_again(witness, log):
    log.grow(5)
    assert witness.add(log, 0)[0] == 200
    status, _, body = witness.add(log, 5)
    assert status == 200
    assert cosignature_ok(witness, log.checkpoint(), body)


def test_a_proof_from_size_0_is_refused(witness, log):
    log.grow(5)
    assert witness.add(log, 0, proof=[merkle.EMPTY_ROOT])[0] == 422


def test_an_empty_log_is_cosigned_only_with_the_empty_root(witness, log):
    assert witness.add(log, 0, size=0)[0] == 200
    signed_wrong_root = sign_checkpoint(Checkpoint(ORIGIN, 0, merkle.leaf_hash(b"x")), log.key)
    assert witness.add(log, 0, note=signed_wrong_root)[0] == 422


def test_unknown_logs_and_bad_signatures_are_refused(witness, log):
    log.grow(5)
    stranger = TestLog(5, key=Signer("elsewhere.test/log", Ed25519PrivateKey.generate()))
    impostor = TestLog(5, key=Signer(ORIGIN, Ed25519PrivateKey.generate()))

    assert witness.add(stranger, 0)[0] == 404
    assert witness.add(impostor, 0)[0] == 403
    note = log.checkpoint()
    tampered = note.replace("\n5\n", "\n6\n", 1)
    assert witness.add(log, 0, note=tampered)[0] == 403


@pytest.mark.parametrize(
    "body",
    [b"", b"old 0\n", b"old x\n\nnote", b"old 01\n\nnote\n", b"hello\n\nnote\n", b"old 0\n!!\n\n"],
)
def test_malformed_requests_get_400(witness, body):
    assert witness.post(body)[0] == 400


def test_old_larger_than_the_checkpoint_gets_400(witness, log):
    log.grow(5)
    assert witness.add(log, 0)[0] == 200
    assert witness.add(log, 9, size=5, proof=[])[0] == 400


def test_the_state_survives_a_restart_and_is_valid_json(tmp_path, witness_key, witness, log):
    log.grow(40)
    assert witness.add(log, 0)[0] == 200
    stop(witness)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state[ORIGIN]["size"] == 40
    assert state[ORIGIN]["checkpoint"].startswith(log.checkpoint())

    again = start(tmp_path, log.key.vkey, witness_key[0])
    try:
        assert again.add(log, 0)[:3] == (409, "text/x.tlog.size", b"40\n")
        log.grow(2)
        assert again.add(log, 40)[0] == 200
        origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
        parts = urllib.parse.urlsplit(again.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("GET", f"/{origin_hash}/checkpoint")
        latest = conn.getresponse().read().decode()
        conn.close()
        assert latest.startswith(log.checkpoint())
        verifier = read_vkey(again.vkey)
        assert open_note(latest, [verifier]).verified_by(verifier) is not None
    finally:
        stop(again)


def test_the_verifier_requires_the_witness_cosignature(tmp_path, witness, log, capsys):
    from sightline_verifier import cli

    log.grow(300)
    status, _, body = witness.add(log, 0)
    assert status == 200
    mirror = log.write_mirror(tmp_path / "mirror")
    plain = (mirror / "checkpoint").read_text()
    args = ["--mirror", str(mirror), "--log-key", log.key.vkey, "--witness", witness.vkey]

    assert cli.main(args) == cli.EXIT_FAILED
    assert "FAILED: witnesses: 0 of the 1 witnesses you named" in capsys.readouterr().err

    (mirror / "checkpoint").write_text(plain + body.decode())
    assert cli.main(args) == cli.EXIT_OK
    assert "cosigned by 1 of 1" in capsys.readouterr().out
