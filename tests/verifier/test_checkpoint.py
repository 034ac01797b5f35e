"""Checkpoints: the C2SP example's shape, strict parsing, signing and opening, tampering."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sightline_verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    add_signatures,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from sightline_verifier.note import NoteError, Signer, UnverifiedNote, parse_note

# c2sp.org/tlog-checkpoint, the example checkpoint (verbatim).
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ROOT = bytes(range(32))
ORIGIN = "sightline.example/sightline"


def log_signer(seed: int = 1) -> Signer:
    return Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def test_the_spec_example_has_the_shape_of_a_checkpoint():
    parsed = parse_note(SPEC_CHECKPOINT)
    checkpoint = parse_checkpoint(parsed.text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert base64.b64encode(checkpoint.root_hash).decode() == (
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    )
    assert checkpoint.body == parsed.text
    (sig,) = parsed.signatures
    assert (sig.name, len(sig.signature)) == ("example.com/behind-the-sofa", 64)


def test_the_spec_example_does_not_open_with_another_logs_key():
    with pytest.raises(UnverifiedNote):
        open_checkpoint(SPEC_CHECKPOINT, [log_signer().verifier()])


def test_body_format():
    checkpoint = Checkpoint(ORIGIN, 5, ROOT)
    assert checkpoint.body == f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}\n"
    with_ext = Checkpoint(ORIGIN, 0, ROOT, ("ext one",))
    assert with_ext.body.endswith("\next one\n")
    assert parse_checkpoint(with_ext.body) == with_ext


def test_sign_and_open_round_trip():
    signer = log_signer()
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    note = sign_checkpoint(checkpoint, signer)
    opened_checkpoint, opened = open_checkpoint(note, [signer.verifier()], origin=ORIGIN)
    assert opened_checkpoint == checkpoint
    assert opened.verified[0].name == ORIGIN


def test_another_origin_is_refused_when_one_is_expected():
    signer = log_signer()
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), signer)
    with pytest.raises(CheckpointError, match=r"not 'other\.example/log'"):
        open_checkpoint(note, [signer.verifier()], origin="other.example/log")


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n1234\n", "\n1235\n"), ("AAECAw", "AAECAx"), (ORIGIN + "\n", ORIGIN + "x\n")],
)
def test_tampered_checkpoints_are_rejected(old, new):
    signer = log_signer()
    note = sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), signer)
    assert old in note
    with pytest.raises(NoteError):
        open_checkpoint(note.replace(old, new, 1), [signer.verifier()], origin=ORIGIN)


def test_cosignatures_can_be_appended_and_still_open():
    signer = log_signer()
    witness = Signer("witness.example/w", Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32))
    checkpoint = Checkpoint(ORIGIN, 7, ROOT)
    note = add_signatures(
        sign_checkpoint(checkpoint, signer), [witness.cosign(checkpoint.body, 1700000000)]
    )
    _, opened = open_checkpoint(note, [signer.verifier(), witness.verifier(0x04)])
    assert len(opened.verified) == 2


R = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n01\n{R}\n", "canonical decimal"),
        (f"{ORIGIN}\n+1\n{R}\n", "canonical decimal"),
        (f"{ORIGIN}\n 1\n{R}\n", "canonical decimal"),
        (f"{ORIGIN}\n\u0661\n{R}\n", "canonical decimal"),
        (f"{ORIGIN}\n{2**63}\n{R}\n", "too large"),
        (f"{ORIGIN}\n1\n{R[:-4]}\n", "32 bytes"),
        (f"{ORIGIN}\n1\n{base64.b64encode(bytes(33)).decode()}\n", "32 bytes"),
        (f"{ORIGIN}\n1\n{R[:-2]}\n", "not base64"),
        (f"{ORIGIN}\n1\n", "an origin, a size and a root"),
        (f"{ORIGIN}\n1\n{R}", "ends with a newline"),
        (f"\n1\n{R}\n", "origin line is empty"),
        (f"{ORIGIN}\n1\n{R}\n\next\n", "no empty lines"),
    ],
)
def test_malformed_bodies_are_refused(body, message):
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(body)


def test_size_zero_is_canonical():
    assert parse_checkpoint(f"{ORIGIN}\n0\n{R}\n").size == 0


def test_a_checkpoint_refuses_bad_values():
    with pytest.raises(CheckpointError, match="32 bytes"):
        Checkpoint(ORIGIN, 1, bytes(31))
    with pytest.raises(CheckpointError, match="non-negative"):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError, match="origin"):
        Checkpoint("", 1, ROOT)
