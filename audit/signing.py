"""The log's Ed25519 signing key (kept in a file outside the database) and tree-head signatures."""

import base64
import hashlib
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from audit.merkle import canonical_json

ALGORITHM = "Ed25519"


def _load_or_create(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
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
