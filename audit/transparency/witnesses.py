"""Independent witnesses (C2SP tlog-witness): submitting checkpoints, keeping cosignatures.

After each new tree head the log posts its checkpoint to every active witness with a
consistency proof from the size the witness last cosigned; a witness that has checked the
proof answers with a cosignature/v1 line, which is verified and stored (append-only). A witness
that is down or refuses never blocks ingest: submission runs after the head is committed, in
the background, its outcome is kept on the Witness row for administrators, and
``manage.py witness_checkpoints`` retries. (Not to be confused with the *witness file*, the copy
of the latest head kept beside the signing key, see ``signing.read_witness``.)
"""

import base64
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone
from sightline_verifier.note import NoteError, parse_signature_lines

from audit.models import Cosignature, SignedTreeHead, Witness
from audit.transparency import checkpoints
from audit.transparency.selectors import consistency_proof, latest_tree_head

logger = logging.getLogger(__name__)

USER_AGENT = "Sightline (C2SP tlog-witness client)"
#: A witness's answer is a few signature lines; anything longer is not one.
MAX_ANSWER_BYTES = 64 * 1024
#: Attempts per submission: the first, then one more with the size a 409 names.
ATTEMPTS = 2


class WitnessProblem(Exception):
    """A witness could not be reached, refused the checkpoint, or answered nonsense."""


@dataclass(frozen=True)
class Submission:
    """The outcome of submitting one checkpoint to one witness."""

    witness: Witness
    tree_size: int
    cosignature: Cosignature | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """The add-checkpoint request: ``old <size>``, the proof lines, a blank line, the note."""
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode() + "\n" for h in proof)]
    return ("".join(lines) + "\n" + note).encode()


def _post(url: str, body: bytes) -> tuple[int, str, bytes]:
    """POST to the witness; (status, content type, body) for any HTTP answer."""
    if not url.lower().startswith(("https://", "http://")):
        raise WitnessProblem("has a URL that is not http(s)")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        url.rstrip("/") + "/add-checkpoint",
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.SIGHTLINE_WITNESS_TIMEOUT
        ) as response:
            return (
                response.status,
                response.headers.get_content_type(),
                response.read(MAX_ANSWER_BYTES),
            )
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, answer.headers.get_content_type(), answer.read(MAX_ANSWER_BYTES)
    except (urllib.error.URLError, OSError, ValueError) as problem:
        reason = getattr(problem, "reason", problem)
        raise WitnessProblem(f"unreachable: {reason}") from None


def _size_of_conflict(body: bytes, limit: int) -> int:
    """The size a 409 answer says the witness last cosigned (``<size>\\n``)."""
    text = body.decode("ascii", "replace").strip()
    if not text.isdigit() or (len(text) > 1 and text.startswith("0")):
        raise WitnessProblem(f"answered 409 without a size ({text[:40]!r})")
    size = int(text)
    if size > limit:
        raise WitnessProblem(
            f"has cosigned size {size}, larger than this checkpoint ({limit}): this log never "
            "signed such a checkpoint as far as this database knows. Investigate."
        )
    return size


_REFUSALS = {
    400: "refused the request as malformed (400)",
    403: "does not trust this log's key (403): give it the log's verifier key",
    404: "does not know this log's origin (404): register the log with the witness",
    422: (
        "refused the consistency proof (422): it holds another history of this log or a "
        "different root for a size. Investigate before anything else"
    ),
}


def _cosignature_from(witness: Witness, head: SignedTreeHead, answer: bytes) -> str:
    """The witness's own cosignature line from a 200 answer, verified over the checkpoint."""
    try:
        signatures = parse_signature_lines(answer)
    except NoteError as problem:
        raise WitnessProblem(f"answered 200 without signature lines ({problem})") from None
    body = checkpoints.checkpoint_of(head).body
    for signature in signatures:
        line = signature.line()
        if checkpoints.cosignature_verifies(witness, body, line):
            return line.rstrip("\n")
    raise WitnessProblem("answered without a valid cosignature by its key")


def _exchange(witness: Witness, head: SignedTreeHead) -> str:
    """Submit until the witness cosigns; its cosignature line (WitnessProblem otherwise)."""
    note = checkpoints.checkpoint_note(head)
    old = witness.cosigned_size if witness.cosigned_size <= head.tree_size else 0
    for _ in range(ATTEMPTS):
        proof = [bytes.fromhex(h) for h in consistency_proof(old, head.tree_size)] if old else []
        status, _type, answer = _post(witness.url, add_checkpoint_body(old, proof, note))
        if status == 200:
            return _cosignature_from(witness, head, answer)
        if status == 409:
            old = _size_of_conflict(answer, head.tree_size)
            continue
        reason = _REFUSALS.get(status, f"answered {status}")
        detail = answer[:200].decode("utf-8", "replace").strip()
        raise WitnessProblem(f"{reason}{': ' + detail if detail else ''}")
    raise WitnessProblem(f"kept answering 409 (its size changed while submitting; last {old})")


def submit_checkpoint(*, witness: Witness, head: SignedTreeHead) -> Submission:
    """Submit the head's checkpoint to one witness and store the cosignature it returns.

    Never raises for a witness's failure: the problem is logged, kept on the witness row (for
    the admin) and returned.
    """
    now = timezone.now()
    try:
        line = _exchange(witness, head)
    except WitnessProblem as problem:
        message = f"Witness {witness.name} ({witness.url}) {problem}."
        logger.error("Checkpoint of size %s not cosigned. %s", head.tree_size, message)
        Witness.objects.filter(pk=witness.pk).update(last_attempt_at=now, last_error=message)
        return Submission(witness=witness, tree_size=head.tree_size, problem=message)
    try:
        with transaction.atomic():
            cosignature = Cosignature.objects.create(
                witness=witness, tree_size=head.tree_size, signature=line, received_at=now
            )
    except IntegrityError:
        # Cosigned twice (two submissions crossed): the first line kept is as good.
        cosignature = Cosignature.objects.get(witness=witness, tree_size=head.tree_size)
    Witness.objects.filter(pk=witness.pk, cosigned_size__lt=head.tree_size).update(
        cosigned_size=head.tree_size
    )
    Witness.objects.filter(pk=witness.pk).update(
        last_attempt_at=now, last_success_at=now, last_error=""
    )
    return Submission(witness=witness, tree_size=head.tree_size, cosignature=cosignature)


#: The fields that say how a witness is doing (shown read-only in the admin).
STATUS_FIELDS = ["cosigned_size", "last_attempt_at", "last_success_at", "last_error"]


def status_of(witness: Witness) -> str:
    """One line for administrators: is this witness cosigning?"""
    if not witness.active:
        return "inactive"
    if witness.last_attempt_at is None:
        return "not contacted yet"
    if witness.last_error:
        return f"FAILING since {witness.last_success_at or 'always'}: {witness.last_error}"
    return f"cosigning (size {witness.cosigned_size})"


def pending_witnesses(head: SignedTreeHead) -> list[Witness]:
    """Active witnesses without a cosignature of this head that could still give one."""
    done = Cosignature.objects.filter(tree_size=head.tree_size).values("witness_id")
    return list(
        Witness.objects.filter(active=True, cosigned_size__lte=head.tree_size).exclude(pk__in=done)
    )


def submit_latest_checkpoint() -> list[Submission]:
    """Submit the latest checkpoint to every active witness that has not cosigned it yet."""
    head = latest_tree_head()
    if head is None:
        return []
    return [submit_checkpoint(witness=w, head=head) for w in pending_witnesses(head)]


def _submit_in_thread() -> None:
    try:
        submit_latest_checkpoint()
    except Exception:
        logger.exception("Submitting the checkpoint to the witnesses failed")
    finally:
        # This thread's own database connection.
        close_old_connections()
        connection.close()


def _in_background(work) -> None:
    threading.Thread(target=work, name="sightline-witnesses", daemon=True).start()


def submit_after_publish() -> None:
    """On commit of a new head: submit it to the witnesses in the background, if there are any.

    Witnesses answer over the network, seconds at worst: the request that published the head
    (often an ingest request) must not wait for them.
    """
    if Witness.objects.filter(active=True).exists():
        _in_background(_submit_in_thread)
