"""`sightline-witness`: a small C2SP witness (c2sp.org/tlog-witness) anyone can run.

It cosigns a log's checkpoints, one log per configured verifier key, and never two histories
of the same log: per origin it remembers the last checkpoint it cosigned, and cosigns a newer
one only with a consistency proof from that size. Standard library HTTP server and
`cryptography`; the state is one JSON file replaced atomically.

    sightline-witness keygen witness.example.org/clerk --key clerk.key   # prints the vkey
    sightline-witness serve --key clerk.key --log '<log vkey>' --state state.json \\
        --listen 127.0.0.1:7380

The log POSTs ``<prefix>/add-checkpoint`` with ``old <size>``, the proof lines, a blank line
and the checkpoint note. Answers: 200 with a cosignature/v1 signature line; 400 malformed (or
old > size); 403 not signed by the log's key; 404 unknown origin; 409 ``old`` is not the size
last cosigned (body ``<size>\\n``, ``text/x.tlog.size``); 422 bad proof or a fork.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import http.server
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sightline_verifier import merkle
from sightline_verifier.checkpoint import CheckpointError, open_checkpoint, parse_checkpoint
from sightline_verifier.note import NoteError, Signer, Verifier, key_id, parse_note, parse_vkey

__all__ = ["Witness", "WitnessAnswer", "load_signer", "main", "run", "write_signer"]

MAX_BODY = 64 * 1024
MAX_PROOF = 63
SIZE_TYPE = "text/x.tlog.size"
_PRIVATE = "PRIVATE+KEY+"


# --- keys ----------------------------------------------------------------------------------------


def write_signer(name: str, path: Path) -> Signer:
    """Create a key for witness ``name`` and write it to ``path`` (mode 0600, never replaced).

    The file holds ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``, the form of
    golang.org/x/mod's note signer keys.
    """
    private = Ed25519PrivateKey.generate()
    signer = Signer(name, private)
    encoded = base64.b64encode(b"\x01" + private.private_bytes_raw()).decode()
    text = f"{_PRIVATE}{name}+{key_id(name, 0x01, signer.public_key):08x}+{encoded}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
    return signer


def load_signer(path: Path) -> Signer:
    """The witness key in ``path`` (ValueError if it is not a key written by keygen)."""
    text = path.read_text(encoding="ascii").strip()
    if not text.startswith(_PRIVATE):
        raise ValueError(f"{path} is not a PRIVATE+KEY file")
    name, hex_id, encoded = text[len(_PRIVATE) :].split("+", 2)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError(f"{path}: the key is not base64") from None
    if len(raw) != 33 or raw[0] != 0x01:
        raise ValueError(f"{path}: not an Ed25519 key")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if f"{key_id(name, 0x01, signer.public_key):08x}" != hex_id:
        raise ValueError(f"{path}: the key ID does not match the name and key")
    return signer


# --- the witness -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessAnswer:
    """An HTTP answer: status, content type and body."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, message: str) -> WitnessAnswer:
    return WitnessAnswer(status, (message.rstrip("\n") + "\n").encode())


class Witness:
    """The witness's logic, without HTTP: ``add_checkpoint(body)`` gives the answer.

    ``logs`` are the logs' verifier keys; a log's origin is its key's name. ``state`` is the
    JSON file of the last cosigned checkpoint per origin. Check-and-persist is atomic: one
    lock around reading the state, checking, writing the new state (temporary file, fsync,
    rename) and signing.
    """

    def __init__(self, signer: Signer, logs: Sequence[Verifier], state: Path) -> None:
        self.signer = signer
        self.logs = {log.name: log for log in logs}
        self.state_path = state
        self._lock = threading.Lock()
        self.state: dict[str, dict[str, Any]] = {}
        if state.exists():
            loaded = json.loads(state.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError(f"{state} is not a witness state file")
            self.state = loaded

    @property
    def vkey(self) -> str:
        """The cosignature/v1 verifier key clients name to require this witness."""
        return self.signer.cosignature_vkey

    def size_of(self, origin: str) -> int:
        return int(self.state.get(origin, {}).get("size", 0))

    def latest(self, origin_hash: str) -> str | None:
        """The last cosigned checkpoint (with the cosignature) of the log whose SHA-256 of the
        origin is ``origin_hash`` (lowercase hex), as the spec's monitoring path serves it."""
        for origin, entry in self.state.items():
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                return entry.get("checkpoint")
        return None

    def add_checkpoint(self, body: bytes) -> WitnessAnswer:
        """Answer one add-checkpoint request."""
        try:
            old, proof, note = _parse_request(body)
            parsed = parse_note(note)
            checkpoint = parse_checkpoint(parsed.text)
        except (ValueError, NoteError) as error:
            return _text(400, f"malformed request: {error}")
        log = self.logs.get(checkpoint.origin)
        if log is None:
            return _text(404, f"unknown log {checkpoint.origin!r}")
        try:
            open_checkpoint(note, [log], origin=checkpoint.origin)
        except CheckpointError as error:
            return _text(400, f"malformed checkpoint: {error}")
        except NoteError as error:
            return _text(403, f"the checkpoint is not signed by the log's key: {error}")
        if old > checkpoint.size:
            return _text(400, f"old size {old} is larger than the checkpoint's {checkpoint.size}")
        with self._lock:
            known = self.state.get(checkpoint.origin, {})
            size = int(known.get("size", 0))
            root = base64.b64decode(known["root"]) if known else merkle.EMPTY_ROOT
            if old != size:
                return WitnessAnswer(409, f"{size}\n".encode(), SIZE_TYPE)
            if checkpoint.size == 0 and checkpoint.root_hash != merkle.EMPTY_ROOT:
                return _text(422, "a checkpoint of size 0 must have the empty tree's root")
            if old == 0 and proof:
                return _text(422, "a proof from size 0 must be empty")
            if old == checkpoint.size:
                if proof or checkpoint.root_hash != root:
                    return _text(422, f"another root for size {old}: a fork, not cosigned")
            elif old > 0 and not merkle.verify_consistency(
                old, checkpoint.size, root, checkpoint.root_hash, proof
            ):
                return _text(422, f"the proof does not show consistency from size {old}")
            cosignature = self.signer.cosign(parsed.text, int(time.time()))
            self._persist(
                checkpoint.origin,
                {
                    "size": checkpoint.size,
                    "root": base64.b64encode(checkpoint.root_hash).decode(),
                    "checkpoint": note.decode("utf-8") + cosignature.line(),
                },
            )
        return WitnessAnswer(200, cosignature.line().encode())

    def _persist(self, origin: str, entry: dict[str, Any]) -> None:
        state = {**self.state, origin: entry}
        directory = self.state_path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.state_path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.state = state


def _parse_request(body: bytes) -> tuple[int, list[bytes], bytes]:
    """(old size, proof hashes, checkpoint note) of an add-checkpoint body (ValueError)."""
    head, blank, note = body.partition(b"\n\n")
    if not blank:
        raise ValueError("no blank line before the checkpoint")
    lines = head.decode("ascii").split("\n")
    first = lines[0]
    if not first.startswith("old "):
        raise ValueError("the first line is not 'old <size>'")
    text = first[4:]
    if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise ValueError("the old size is not a decimal")
    if len(lines) - 1 > MAX_PROOF:
        raise ValueError(f"more than {MAX_PROOF} proof hashes")
    proof = []
    for line in lines[1:]:
        digest = base64.b64decode(line, validate=True)
        if len(digest) != merkle.HASH_SIZE:
            raise ValueError("a proof hash is not 32 bytes")
        proof.append(digest)
    return int(text), proof, note


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "sightline-witness"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are written apart: send each at once
    witness: Witness  # set on the subclass made by serve()

    def _answer(self, answer: WitnessAnswer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def do_POST(self) -> None:
        if self.path.rstrip("/").rsplit("/", 1)[-1] != "add-checkpoint":
            self._answer(_text(404, "not found"))
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._answer(_text(411, "Content-Length required"))
            return
        if not 0 <= length <= MAX_BODY:
            self._answer(_text(413, f"at most {MAX_BODY} bytes"))
            return
        self._answer(self.witness.add_checkpoint(self.rfile.read(length)))

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        latest = self.witness.latest(parts[-2]) if len(parts) >= 2 else None
        if parts[-1] == "checkpoint" and latest is not None:
            self._answer(WitnessAnswer(200, latest.encode()))
        else:
            self._answer(_text(404, "not found"))

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(witness: Witness, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``witness`` bound to host:port (port 0: a free one)."""
    handler = type("WitnessHandler", (_Handler,), {"witness": witness})
    return http.server.ThreadingHTTPServer((host, port), handler)


# --- command line --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sightline-witness",
        description="A C2SP tlog-witness: cosigns a log's checkpoints, refusing forks.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="create a witness key and print its vkey")
    keygen.add_argument("name", help="the witness's name, e.g. witness.example.org/clerk")
    keygen.add_argument("--key", type=Path, required=True, help="where to write the key")
    vkey = commands.add_parser("vkey", help="print the vkey of a key file")
    vkey.add_argument("--key", type=Path, required=True)
    run_ = commands.add_parser("serve", help="answer add-checkpoint requests")
    run_.add_argument("--key", type=Path, required=True, help="the witness key file")
    run_.add_argument(
        "--log", action="append", required=True, metavar="VKEY", help="a log's verifier key"
    )
    run_.add_argument("--state", type=Path, required=True, help="the state file (JSON)")
    run_.add_argument("--listen", default="127.0.0.1:7380", metavar="HOST:PORT")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            signer = write_signer(args.name, args.key)
            print(signer.cosignature_vkey)
            return 0
        signer = load_signer(args.key)
        if args.command == "vkey":
            print(signer.cosignature_vkey)
            return 0
        logs = [parse_vkey(v) for v in args.log]
        witness = Witness(signer, logs, args.state)
        host, _, port = args.listen.rpartition(":")
        server = serve(witness, host or "127.0.0.1", int(port))
    except FileExistsError as error:
        # keygen never replaces a key: a witness that lost its key cannot vouch for its past.
        print(
            f"ERROR: {error.filename} already exists; keygen never replaces a key.", file=sys.stderr
        )
        return 2
    except (OSError, ValueError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    bound_host, bound_port = server.server_address[:2]
    print(f"witness {witness.vkey}", flush=True)
    print(f"listening on http://{bound_host}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def run() -> None:
    """Entry point of the `sightline-witness` command."""
    sys.exit(main())


if __name__ == "__main__":
    run()
