"""Published tree heads as C2SP checkpoints: the log's origin, note signer and verifier key.

A checkpoint is the signed note ``<origin>\\n<size>\\n<base64 root>\\n`` under the key name
``SIGHTLINE_LOG_ORIGIN``, signed with the same Ed25519 key as the JSON tree heads. Ed25519
signatures are deterministic (RFC 8032), so the checkpoint of a head is the same bytes every time
it is produced: it is derived from the stored head rather than stored a second time, and the
JSON head and the checkpoint of a size can never disagree.
"""

import logging

from django.conf import settings
from sightline_verifier.checkpoint import Checkpoint, sign_checkpoint
from sightline_verifier.note import NoteError, Signer, cosignature_verifier, parse_signature_lines

from audit.models import Cosignature, SignedTreeHead, Witness
from audit.transparency import signing

logger = logging.getLogger(__name__)


def log_origin() -> str:
    """The log's origin line and key name (``SIGHTLINE_LOG_ORIGIN``)."""
    return settings.SIGHTLINE_LOG_ORIGIN


def log_signer() -> Signer:
    return Signer(log_origin(), signing.private_key())


def verifier_key() -> str:
    """The log's C2SP verifier key: ``<origin>+<key ID>+<base64(0x01 || public key)>``."""
    return log_signer().vkey


def checkpoint_of(head: SignedTreeHead) -> Checkpoint:
    return Checkpoint(
        origin=log_origin(), size=head.tree_size, root_hash=bytes.fromhex(head.root_hash)
    )


def checkpoint_note(head: SignedTreeHead) -> str:
    """The head as a checkpoint signed by the log (no cosignatures)."""
    return sign_checkpoint(checkpoint_of(head), log_signer())


def cosignature_lines(head: SignedTreeHead) -> list[str]:
    """The cosignature lines held for the head's size that verify over its checkpoint.

    Each was verified when it arrived; checking again costs little and guarantees that a line
    which no longer fits (the origin setting or a witness's key changed since) is never served,
    as a known key's failing signature would make clients reject the whole checkpoint.
    """
    body = checkpoint_of(head).body
    lines = []
    for cosig in Cosignature.objects.filter(tree_size=head.tree_size).select_related("witness"):
        if cosignature_verifies(cosig.witness, body, cosig.signature + "\n"):
            lines.append(cosig.signature + "\n")
        else:
            logger.warning("Not serving %s: it does not verify over the checkpoint", cosig)
    return lines


def cosignature_verifies(witness: Witness, body: str, line: str) -> bool:
    """True when ``line`` is one signature line by the witness's key that signs ``body``."""
    try:
        verifier = cosignature_verifier(witness.vkey)
        (signature,) = parse_signature_lines(line)
    except (NoteError, ValueError):
        return False
    return (
        signature.name == verifier.name
        and signature.key_id == verifier.key_id
        and verifier.verify(body, signature.signature)
    )


def cosigned_checkpoint(head: SignedTreeHead) -> str:
    """The head's checkpoint with every cosignature held for its size appended."""
    # A note ends with its last signature line's newline: further lines simply follow.
    return checkpoint_note(head) + "".join(cosignature_lines(head))
