"""A small C2SP tlog-witness in a thread, for the submission tests (the real one ships in the
verifier package and has its own end-to-end tests)."""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sightline_verifier import merkle
from sightline_verifier.checkpoint import open_checkpoint
from sightline_verifier.note import NoteError, Signer, parse_vkey


class FakeWitness:
    """Keeps the last checkpoint it cosigned and checks consistency before cosigning."""

    def __init__(self, log_vkey: str, *, name: str = "witness.example/clerk", seed: int = 5):
        self.log = parse_vkey(log_vkey)
        self.signer = Signer(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))
        self.size = 0
        self.root = merkle.EMPTY_ROOT
        self.requests: list[bytes] = []
        self.answer_with: tuple[int, bytes] | None = None  # force an answer
        self.time = 1_780_000_000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}/witness"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def add_checkpoint(self, body: bytes) -> tuple[int, str, bytes]:
        self.requests.append(body)
        if self.answer_with is not None:
            return self.answer_with[0], "text/plain", self.answer_with[1]
        text = body.decode()
        head, _, note = text.partition("\n\n")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            return 400, "text/plain", b"no old line\n"
        old = int(lines[0][4:])
        proof = [base64.b64decode(line) for line in lines[1:]]
        try:
            checkpoint, _ = open_checkpoint(note, [self.log])
        except NoteError:
            return 403, "text/plain", b"no trusted signature\n"
        if checkpoint.origin != self.log.name:
            return 404, "text/plain", b"unknown log\n"
        if old > checkpoint.size:
            return 400, "text/plain", b"old is larger than the checkpoint\n"
        if old != self.size:
            return 409, "text/x.tlog.size", f"{self.size}\n".encode()
        if not merkle.verify_consistency(
            old, checkpoint.size, self.root, checkpoint.root_hash, proof
        ):
            return 422, "text/plain", b"consistency proof does not verify\n"
        self.size, self.root = checkpoint.size, checkpoint.root_hash
        return 200, "text/plain", self.signer.cosign(checkpoint.body, self.time).line().encode()

    def _handler(self):
        witness = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if self.path != "/witness/add-checkpoint":
                    status, kind, answer = 404, "text/plain", b"not found\n"
                else:
                    status, kind, answer = witness.add_checkpoint(body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        return Handler
