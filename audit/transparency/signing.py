"""The log's Ed25519 signing key (kept in a file outside the database) and tree-head signatures."""

import base64
import fcntl
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from sightline_verifier.merkle import canonical_json

ALGORITHM = "Ed25519"
WITNESS_FIELDS = ("tree_size", "root_hash", "timestamp", "signature", "key_id")


class SigningKeyMissing(RuntimeError):
    """The key file is gone although this log has published heads signed with it."""


class WitnessConflict(RuntimeError):
    """The database does not extend the head in the witness file; no head is signed."""


class WitnessUnreadable(RuntimeError):
    """The witness file exists but does not hold a tree head."""


def _load_or_create(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        witness = witness_path()
        if witness.exists():
            # A new key would sign heads nobody can link to the ones already published.
            raise SigningKeyMissing(
                f"The signing key {path} is missing, but {witness} shows that this log has "
                "published tree heads signed with it. Restore the key file from its backup (or "
                "point SIGHTLINE_SIGNING_KEY_FILE at it); Sightline will not make a new key."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # O_EXCL: two processes starting at once must not each create (and use) a key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key.")
    return key


@cache
def _private_key(path: str) -> Ed25519PrivateKey:
    return _load_or_create(Path(path))


def private_key() -> Ed25519PrivateKey:
    """The deployment's signing key, created on first use."""
    return _private_key(str(settings.SIGHTLINE_SIGNING_KEY_FILE))


def public_key_raw() -> bytes:
    return (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def key_id() -> str:
    """Hex SHA-256 of the raw public key."""
    return hashlib.sha256(public_key_raw()).hexdigest()


def public_key_document() -> dict[str, str]:
    return {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(public_key_raw()).decode(),
        "key_id": key_id(),
    }


def tree_head_message(*, tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """The exact bytes a tree-head signature covers: canonical JSON of the three fields."""
    return canonical_json({"tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp})


def sign_tree_head(*, tree_size: int, root_hash: str) -> dict:
    """A signed head for the given size and root, timestamped now (UTC)."""
    timestamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    message = tree_head_message(tree_size=tree_size, root_hash=root_hash, timestamp=timestamp)
    return {
        "tree_size": tree_size,
        "root_hash": root_hash,
        "timestamp": timestamp,
        "signature": base64.b64encode(private_key().sign(message)).decode(),
        "key_id": key_id(),
    }


def verify_tree_head(head: dict, public_key: bytes) -> bool:
    """True when the head's signature is valid under the given raw public key."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(head["signature"], validate=True),
            tree_head_message(
                tree_size=head["tree_size"],
                root_hash=head["root_hash"],
                timestamp=head["timestamp"],
            ),
        )
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


# --- The witness: the latest published head, kept outside the database -------------------------


def witness_path() -> Path:
    return Path(settings.SIGHTLINE_WITNESS_FILE)


def read_witness() -> dict | None:
    """The head in the witness file, or None when there is no file yet.

    Raises WitnessUnreadable when the file exists but is not a head (the signature is not
    checked here: see verify_tree_head).
    """
    path = witness_path()
    try:
        head = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise WitnessUnreadable(f"The witness file {path} cannot be read: {error}") from None
    if (
        not isinstance(head, dict)
        or not isinstance(head.get("tree_size"), int)
        or isinstance(head.get("tree_size"), bool)
        or not all(isinstance(head.get(key), str) for key in WITNESS_FIELDS[1:])
    ):
        raise WitnessUnreadable(f"The witness file {path} does not hold a signed tree head.")
    return head


def write_witness(head: dict) -> bool:
    """Keep `head` in the witness file unless it already holds a head at least as large.

    The file is replaced atomically (a temporary file in the same directory, fsynced, then
    os.replace) with mode 0600; a lock file serialises concurrent publishers so the witness
    never goes back to a smaller head. Returns whether the file was written.
    """
    path = witness_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {key: head[key] for key in WITNESS_FIELDS}
    lock_fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            current = read_witness()
        except WitnessUnreadable:
            current = None  # replaced by a good head; verify_log reported the bad one
        if current is not None and current["tree_size"] >= document["tree_size"]:
            return False
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(document, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True
    finally:
        os.close(lock_fd)
