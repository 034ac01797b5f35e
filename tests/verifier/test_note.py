"""Signed notes and cosignatures: the C2SP published examples, our own vectors, refusals."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sightline_verifier import note
from sightline_verifier.note import (
    COSIGNATURE_V1,
    ED25519,
    NoteError,
    Signer,
    UnverifiedNote,
    Verifier,
    cosignature_verifier,
    format_note,
    key_id,
    open_note,
    parse_note,
    parse_signature_lines,
    parse_vkey,
)

# c2sp.org/signed-note, the example verifier key and the note it verifies (verbatim).
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# Our own vector: the key of seed byte 8 repeated, whose base64 holds a '+'.
PLUS_VKEY = "plus.example/log+0002d5a1+AROY9ixtGkV8UbpqS189vS9p/KkyFiGNyJl+QWvRfZPK"


def signer(name: str = "log.example/test", seed: int = 1) -> Signer:
    return Signer(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def test_the_spec_example_key_verifies_the_spec_example_note():
    verifier = parse_vkey(SPEC_VKEY)
    assert (verifier.name, verifier.key_type, f"{verifier.key_id:08x}") == (
        "example.com/foo",
        ED25519,
        "530d903a",
    )
    assert verifier.vkey == SPEC_VKEY
    opened = open_note(SPEC_NOTE, [verifier])
    assert opened.text == "This is an example message.\n"
    assert [s.name for s in opened.verified] == ["example.com/foo"]
    assert opened.unverified == ()


def test_the_spec_example_note_changed_by_one_character_is_rejected():
    with pytest.raises(NoteError, match="does not verify"):
        open_note(SPEC_NOTE.replace("example message", "example massage"), [parse_vkey(SPEC_VKEY)])


def test_key_id_is_the_first_four_bytes_of_the_hash_of_name_newline_type_key():
    key = bytes(range(32))
    digest = hashlib.sha256(b"a.example/x\n\x01" + key).digest()
    assert key_id("a.example/x", ED25519, key) == int.from_bytes(digest[:4], "big")
    assert key_id("a.example/x", COSIGNATURE_V1, key) != key_id("a.example/x", ED25519, key)


def test_vkeys_split_at_the_first_two_plus_signs_only():
    verifier = parse_vkey(PLUS_VKEY)
    assert verifier.name == "plus.example/log"
    assert f"{verifier.key_id:08x}" == "0002d5a1"
    assert verifier.vkey == PLUS_VKEY == signer("plus.example/log", 8).vkey


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("example.com/foo+530d903a", r"<name>\+<hex key ID>\+<base64 key>"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "lowercase hex"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", "not base64"),
        ("example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "type 0x02"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv", "32 bytes"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "invalid key name"),
        ("a b+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "invalid key name"),
    ],
)
def test_malformed_vkeys_are_refused(vkey, message):
    with pytest.raises(NoteError, match=message):
        parse_vkey(vkey)


def test_our_own_vector_is_stable():
    # Ed25519 is deterministic: this key and text always give this note.
    s = signer("sightline.example/log", seed=7)
    text = "sightline.example/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    signed = format_note(text, [s.sign(text)])
    assert s.vkey == parse_vkey(s.vkey).vkey
    assert s.vkey.startswith(f"sightline.example/log+{s.verifier().key_id:08x}+")
    assert base64.b64decode(s.vkey.split("+", 2)[2]) == b"\x01" + s.public_key
    sig = parse_note(signed).signatures[0]
    assert len(sig.signature) == 64
    raw = base64.b64decode(signed.split(" ")[-1])
    assert raw[:4] == struct.pack(">I", s.verifier().key_id)
    assert open_note(signed, [s.verifier()]).text == text


def test_unknown_keys_are_ignored_and_one_known_signature_suffices():
    log, other = signer("log.example/a", 1), signer("other.example/b", 2)
    text = "hello\n"
    signed = format_note(text, [other.sign(text), log.sign(text)])
    opened = open_note(signed, [log.verifier()])
    assert [s.name for s in opened.verified] == ["log.example/a"]
    assert [s.name for s in opened.unverified] == ["other.example/b"]


def test_a_name_match_with_another_key_id_is_ignored_not_checked():
    log = signer("log.example/a", 1)
    impostor = signer("log.example/a", 3)  # same name, another key: another key ID
    text = "hello\n"
    signed = format_note(text, [impostor.sign(text), log.sign(text)])
    assert len(open_note(signed, [log.verifier()]).unverified) == 1


def test_no_known_signature_rejects():
    text = "hello\n"
    with pytest.raises(UnverifiedNote, match="no signature by a known key"):
        open_note(format_note(text, [signer("x.example/a", 2).sign(text)]), [signer().verifier()])


def test_a_known_keys_bad_signature_rejects_even_beside_a_good_one():
    good, also = signer("log.example/a", 1), signer("log.example/b", 2)
    text = "hello\n"
    forged = note.Signature("log.example/b", also.verifier().key_id, bytes(64))
    signed = format_note(text, [good.sign(text), forged])
    with pytest.raises(NoteError, match=r"log.example/b .* does not verify"):
        open_note(signed, [good.verifier(), also.verifier()])


def test_signatures_over_other_text_are_rejected():
    s = signer()
    signed = format_note("one\n", [s.sign("two\n")])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(signed, [s.verifier()])


def test_text_with_blank_lines_splits_at_the_last_blank_line():
    s = signer()
    text = "first\n\nsecond\n"
    opened = open_note(format_note(text, [s.sign(text)]), [s.verifier()])
    assert opened.text == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("no blank line\n\u2014 a AAAAAAA=\n", "blank line"),
        ("text\n\n", "end with a newline"),
        ("text\n\nhello\n", "not a signature line"),
        ("text\n\n\u2014 a AAAAAAA=", "end with a newline"),
        ("text\n\n- a AAAAAAAA\n", "not a signature line"),
        ("text\n\n\u2014 a AAAA\n", "too short"),
        ("text\n\n\u2014 a AAA*AAAA\n", "not base64"),
        ("te\txt\n\n\u2014 a AAAAAAAA\n", "control character"),
        (b"text\xff\n\n\xe2\x80\x94 a AAAAAAAA\n", "UTF-8"),
    ],
)
def test_malformed_notes_are_refused(data, message):
    with pytest.raises(NoteError, match=message):
        parse_note(data)


def test_too_many_signatures_are_refused():
    line = "\u2014 a AAAAAAAA\n"
    assert len(parse_note("t\n\n" + line * note.MAX_SIGNATURES).signatures) == note.MAX_SIGNATURES
    with pytest.raises(NoteError, match="more than"):
        parse_note("t\n\n" + line * (note.MAX_SIGNATURES + 1))


def test_signing_refuses_text_without_final_newline():
    with pytest.raises(NoteError, match="ends with a newline"):
        signer().sign("no newline")


# --- cosignature/v1 ---


def test_the_spec_cosignature_example_decodes_to_its_key_id_and_timestamp():
    # The published line is "— witness.example.com/w1 jWbPPwAAAABkGFDL…" (rest elided there).
    raw = base64.b64decode("jWbPPwAAAABkGFDL")
    assert raw[:4].hex() == "8d66cf3f"
    assert struct.unpack(">Q", raw[4:12])[0] == 1679315147


def test_cosignature_message_is_the_two_header_lines_then_the_body():
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert note.cosignature_message(body, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + body.encode()
    )


def test_a_cosignature_is_72_bytes_and_verifies_with_the_0x04_key():
    witness = signer("witness.example/w1", 5)
    text = "log.example/a\n1\n" + base64.b64encode(bytes(32)).decode() + "\n"
    cosig = witness.cosign(text, 1679315147)
    assert len(cosig.signature) == 72
    assert cosig.timestamp == 1679315147
    assert base64.b64decode(cosig.line().split(" ")[-1])[:4] == struct.pack(
        ">I", key_id("witness.example/w1", COSIGNATURE_V1, witness.public_key)
    )
    log = signer("log.example/a", 1)
    signed = format_note(text, [log.sign(text), cosig])
    opened = open_note(signed, [log.verifier(), parse_vkey(witness.cosignature_vkey)])
    assert len(opened.verified) == 2
    assert opened.verified_by(parse_vkey(witness.cosignature_vkey)).timestamp == 1679315147


def test_a_0x01_witness_key_stands_for_its_cosignature_key():
    witness = signer("witness.example/w1", 5)
    as_cosigner = cosignature_verifier(witness.vkey)
    assert as_cosigner.key_type == COSIGNATURE_V1
    assert as_cosigner.vkey == witness.cosignature_vkey
    assert cosignature_verifier(as_cosigner) is as_cosigner
    text = "t\n"
    signed = format_note(text, [witness.cosign(text, 10)])
    # The plain 0x01 key does not match a cosignature's key ID; the derived key verifies it.
    with pytest.raises(UnverifiedNote):
        open_note(signed, [parse_vkey(witness.vkey)])
    assert open_note(signed, [as_cosigner]).verified[0].timestamp == 10


def test_a_cosignature_with_a_changed_timestamp_is_rejected():
    witness = signer("witness.example/w1", 5)
    text = "t\n"
    cosig = witness.cosign(text, 10)
    moved = note.Signature(cosig.name, cosig.key_id, struct.pack(">Q", 11) + cosig.signature[8:])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(format_note(text, [moved]), [witness.verifier(COSIGNATURE_V1)])


def test_a_cosignature_of_the_wrong_length_is_rejected():
    witness = signer("witness.example/w1", 5)
    text = "t\n"
    short = witness.sign(text)  # 64 bytes under the 0x04 key ID
    forged = note.Signature(short.name, witness.verifier(COSIGNATURE_V1).key_id, short.signature)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(format_note(text, [forged]), [witness.verifier(COSIGNATURE_V1)])


def test_signature_lines_alone_parse_like_a_witness_answer():
    witness = signer("witness.example/w1", 5)
    sigs = parse_signature_lines(witness.cosign("t\n", 3).line())
    assert sigs[0].timestamp == 3
    with pytest.raises(NoteError):
        parse_signature_lines("")


def test_timestamps_beyond_the_limit_are_refused():
    with pytest.raises(NoteError, match="2\\*\\*63"):
        signer().cosign("t\n", 2**63)


def test_verifier_refuses_unsupported_types():
    with pytest.raises(NoteError, match="unsupported"):
        Verifier(name="a", key_type=0x02, public_key=bytes(32))
