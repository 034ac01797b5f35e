"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 and cosignature/v1 signatures.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``— <key name> <base64(4-byte key ID || signature)>``. Two signature types are understood:
0x01, Ed25519 over the note text, and 0x04, the timestamped Ed25519 cosignature of
c2sp.org/tlog-cosignature over ``cosignature/v1\\ntime <t>\\n`` followed by the text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_SIGNATURES",
    "NoteError",
    "OpenedNote",
    "Signature",
    "Signer",
    "UnverifiedNote",
    "Verifier",
    "cosignature_message",
    "cosignature_verifier",
    "format_note",
    "format_signature_line",
    "key_id",
    "open_note",
    "parse_note",
    "parse_signature_lines",
    "parse_vkey",
]

#: Signature type byte of a plain Ed25519 note signature.
ED25519 = 0x01
#: Signature type byte of a timestamped Ed25519 cosignature (cosignature/v1).
COSIGNATURE_V1 = 0x04

#: Signature lines read from one note at most (the spec asks verifiers to accept at least 16;
#: golang.org/x/mod's note.Open stops at 100).
MAX_SIGNATURES = 100

_EM_DASH = "\u2014"
_SIG_PREFIX = _EM_DASH + " "
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_COSIG_SIZE = 8 + _ED25519_SIG_SIZE
_MAX_TIMESTAMP = 2**63 - 1


class NoteError(ValueError):
    """A note, signature line or verifier key is malformed, or a known key's signature fails."""


class UnverifiedNote(NoteError):
    """The note is well formed but carries no signature by any of the keys given."""


def key_id(name: str, key_type: int, public_key: bytes) -> int:
    """The 32-bit key ID: the first 4 bytes of SHA-256(name || 0x0A || type || public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _check_name(name: str) -> None:
    # Key names are non-empty and contain no Unicode space and no '+' (the vkey separator).
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"invalid key name {name!r}")
    _check_characters(name, "key name")


def _check_characters(text: str, what: str) -> None:
    for ch in text:
        if ch != "\n" and (ch < " " or ch == "\x7f"):
            raise NoteError(f"{what} contains the control character {ch!r}")


def cosignature_message(text: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signature covers for a note text and a timestamp."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Signature:
    """One signature line: the key name, its key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    @property
    def timestamp(self) -> int | None:
        """The cosignature/v1 timestamp when the payload has a cosignature's length."""
        if len(self.signature) != _COSIG_SIZE:
            return None
        return struct.unpack(">Q", self.signature[:8])[0]

    def line(self) -> str:
        """The signature line, with its final newline."""
        return format_signature_line(self.name, self.key_id, self.signature)


def format_signature_line(name: str, key_id: int, signature: bytes) -> str:
    """``— <name> <base64(key ID || signature)>\\n``."""
    payload = base64.b64encode(struct.pack(">I", key_id) + signature).decode()
    return f"{_SIG_PREFIX}{name} {payload}\n"


@dataclass(frozen=True)
class Verifier:
    """A public key able to check signatures of one type under one key name."""

    name: str
    key_type: int
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.key_type not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"unsupported signature type 0x{self.key_type:02x}")
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise NoteError("an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id(self.name, self.key_type, self.public_key))

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(type || key)>``."""
        encoded = base64.b64encode(bytes([self.key_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, text: str, signature: bytes) -> bool:
        """True when ``signature`` (the bytes after the key ID) signs ``text`` under this key."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        if self.key_type == ED25519:
            if len(signature) != _ED25519_SIG_SIZE:
                return False
            message = text.encode()
        else:
            if len(signature) != _COSIG_SIZE:
                return False
            timestamp = struct.unpack(">Q", signature[:8])[0]
            if timestamp > _MAX_TIMESTAMP:
                return False
            message = cosignature_message(text, timestamp)
            signature = signature[8:]
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """Read a verifier key string; its key ID must be the one its name and key give."""
    # Split at the first two '+' only: base64 itself may contain '+'.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hex key ID>+<base64 key>")
    name, hex_id, encoded = parts
    if len(hex_id) != 8 or hex_id.lower() != hex_id or not _is_hex(hex_id):
        raise NoteError(f"the key ID {hex_id!r} is not 8 lowercase hex digits")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as problem:
        raise NoteError(f"the key is not base64: {problem}") from None
    if not raw:
        raise NoteError("the key is empty")
    verifier = Verifier(name=name, key_type=raw[0], public_key=raw[1:])
    if verifier.key_id != int(hex_id, 16):
        raise NoteError(f"the key ID {hex_id} does not match the key name and key")
    return verifier


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdef" for ch in text)


def cosignature_verifier(verifier: Verifier | str) -> Verifier:
    """The cosignature/v1 (0x04) verifier of a witness key.

    A witness key published as a plain Ed25519 (0x01) vkey stands for the same Ed25519 key used
    for cosignatures, with its key ID recomputed for type 0x04, as transparency-dev/formats does.
    """
    if isinstance(verifier, str):
        verifier = parse_vkey(verifier)
    if verifier.key_type == COSIGNATURE_V1:
        return verifier
    return Verifier(name=verifier.name, key_type=COSIGNATURE_V1, public_key=verifier.public_key)


class Signer:
    """An Ed25519 private key that signs notes (type 0x01) or cosigns them (type 0x04)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def verifier(self, key_type: int = ED25519) -> Verifier:
        return Verifier(name=self.name, key_type=key_type, public_key=self.public_key)

    @property
    def vkey(self) -> str:
        """The note verifier key (type 0x01)."""
        return self.verifier(ED25519).vkey

    @property
    def cosignature_vkey(self) -> str:
        """The cosignature/v1 verifier key (type 0x04) of the same key."""
        return self.verifier(COSIGNATURE_V1).vkey

    def sign(self, text: str) -> Signature:
        """An Ed25519 (0x01) signature of a note text."""
        _check_text(text)
        return Signature(
            name=self.name,
            key_id=key_id(self.name, ED25519, self.public_key),
            signature=self._key.sign(text.encode()),
        )

    def cosign(self, text: str, timestamp: int) -> Signature:
        """A cosignature/v1 (0x04) of a note text as of ``timestamp`` (POSIX seconds)."""
        _check_text(text)
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise NoteError("a cosignature timestamp is between 0 and 2**63-1")
        signed = self._key.sign(cosignature_message(text, timestamp))
        return Signature(
            name=self.name,
            key_id=key_id(self.name, COSIGNATURE_V1, self.public_key),
            signature=struct.pack(">Q", timestamp) + signed,
        )


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note text ends with a newline")
    _check_characters(text, "note text")


def format_note(text: str, signatures: Iterable[Signature]) -> str:
    """The note: its text, a blank line, then one line per signature (at least one)."""
    _check_text(text)
    lines = "".join(sig.line() for sig in signatures)
    if not lines:
        raise NoteError("a note carries at least one signature")
    return f"{text}\n{lines}"


@dataclass(frozen=True)
class ParsedNote:
    """A note split into its text and its signature lines, nothing verified yet."""

    text: str
    signatures: tuple[Signature, ...]


def _as_text(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("a note is UTF-8 text") from None
    return data


def parse_signature_lines(block: bytes | str) -> tuple[Signature, ...]:
    """Read ``— <name> <base64>\\n`` lines (e.g. a witness's answer); at least one."""
    block = _as_text(block)
    if not block.endswith("\n"):
        raise NoteError("signature lines end with a newline")
    _check_characters(block, "signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    return tuple(_parse_signature_line(line) for line in lines)


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"not a signature line: {line[:60]!r}")
    name, space, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not space:
        raise NoteError(f"not a signature line: {line[:60]!r}")
    _check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise NoteError(f"the signature of {name} is not base64") from None
    if len(raw) < 5:
        raise NoteError(f"the signature of {name} is too short")
    return Signature(name=name, key_id=struct.unpack(">I", raw[:4])[0], signature=raw[4:])


def parse_note(data: bytes | str) -> ParsedNote:
    """Split a note at its last blank line into text and signatures, checking the format."""
    note = _as_text(data)
    _check_characters(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("a note has a blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    return ParsedNote(text=text, signatures=parse_signature_lines(block))


@dataclass(frozen=True)
class OpenedNote:
    """A note whose text is signed by at least one of the keys it was opened with."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]

    def verified_by(self, verifier: Verifier) -> Signature | None:
        for sig in self.verified:
            if sig.name == verifier.name and sig.key_id == verifier.key_id:
                return sig
        return None


def open_note(data: bytes | str, verifiers: Iterable[Verifier]) -> OpenedNote:
    """Check a note's signatures against the known keys, as the signed-note spec requires.

    A signature whose (name, key ID) matches no known key is ignored (kept in ``unverified``);
    one that matches a known key and fails rejects the whole note (NoteError); a note with no
    signature by a known key raises UnverifiedNote.
    """
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
            continue
        if not verifier.verify(note.text, sig.signature):
            raise NoteError(f"the signature of {sig.name} ({sig.key_id:08x}) does not verify")
        if sig not in verified:
            verified.append(sig)
    if not verified:
        raise UnverifiedNote("the note carries no signature by a known key")
    return OpenedNote(text=note.text, verified=tuple(verified), unverified=tuple(unverified))
