"""C2SP checkpoints (c2sp.org/tlog-checkpoint): a log's origin, size and root as a signed note."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from sightline_verifier.merkle import HASH_SIZE
from sightline_verifier.note import (
    NoteError,
    OpenedNote,
    Signature,
    Signer,
    Verifier,
    format_note,
    open_note,
)

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "add_signatures",
    "open_checkpoint",
    "parse_checkpoint",
    "sign_checkpoint",
]


class CheckpointError(NoteError):
    """A checkpoint body is malformed (or its note does not open, see NoteError)."""


@dataclass(frozen=True)
class Checkpoint:
    """The statement a checkpoint makes: the tree of ``origin`` has ``size`` leaves and ``root``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("the origin is one non-empty line")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise CheckpointError("the tree size is a non-negative integer")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"the root hash is {HASH_SIZE} bytes")
        for line in self.extensions:
            if not line or "\n" in line:
                raise CheckpointError("an extension is one non-empty line")

    @property
    def body(self) -> str:
        """The note text: origin, size, base64 root, extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])


def _decimal(text: str) -> int:
    # Canonical decimal only: no sign, no spaces, no leading zeros ("0" itself is fine).
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise CheckpointError(f"the tree size {text[:30]!r} is not a canonical decimal")
    size = int(text)
    if size >= 2**63:
        raise CheckpointError("the tree size is too large")
    return size


def parse_checkpoint(body: str) -> Checkpoint:
    """Read a checkpoint's note text strictly (canonical size, 32-byte base64 root)."""
    if not body.endswith("\n"):
        raise CheckpointError("a checkpoint body ends with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a size and a root hash line")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise CheckpointError("the origin line is empty")
    size = _decimal(size_line)
    try:
        root = base64.b64decode(root_line, validate=True)
    except binascii.Error:
        raise CheckpointError("the root hash is not base64") from None
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_line:
        raise CheckpointError(f"the root hash is not {HASH_SIZE} bytes in canonical base64")
    if any(not line for line in extensions):
        raise CheckpointError("a checkpoint has no empty lines")
    return Checkpoint(origin=origin, size=size, root_hash=root, extensions=tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note, signed by ``signer`` (whose name should be the origin)."""
    return format_note(checkpoint.body, [signer.sign(checkpoint.body)])


def add_signatures(note: str, signatures: Iterable[Signature]) -> str:
    """The note with further signature lines (e.g. witness cosignatures) appended."""
    if not note.endswith("\n"):
        raise NoteError("a note ends with a newline")
    return note + "".join(sig.line() for sig in signatures)


def open_checkpoint(
    note: bytes | str, verifiers: Iterable[Verifier], *, origin: str | None = None
) -> tuple[Checkpoint, OpenedNote]:
    """Open a checkpoint note with the given keys and read its body.

    ``origin``, when given, must be the checkpoint's origin line (a client knows which log it
    asked for). Raises NoteError (or its subclasses) when the note does not open.
    """
    opened = open_note(note, verifiers)
    checkpoint = parse_checkpoint(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is for {checkpoint.origin!r}, not {origin!r}")
    return checkpoint, opened
