"""The transparency log's state: stored subtree hashes, the log's frontier, signed heads, and
the witnesses that cosign its checkpoints with their cosignatures."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from sightline_verifier.note import NoteError, parse_vkey

from audit.log.models import AppendOnlyModel


class MerkleNode(AppendOnlyModel):
    """Hash of a perfect, aligned subtree of 2**level leaves starting at leaf index*2**level.

    Level 0 is the entries' own leaf_hash and is not repeated here; every node above is written
    once, in the transaction that completes it, so any root or proof needs O(log n) reads.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="one_node_per_position")
        ]

    def __str__(self) -> str:
        return f"node L{self.level}#{self.index}"


class LogState(models.Model):
    """The log's single state row: its size and the frontier of the tree.

    Writers lock this row (or, on SQLite, the database) for the whole append transaction, so
    sequences are gapless and the tree never forks. It is derived state: verify_log checks it.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    frontier = models.JSONField(default=list, help_text=_("[[level, hex], ...] left to right."))

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="single_log_state")]

    def __str__(self) -> str:
        return f"log of {self.size} entries"


class SignedTreeHead(AppendOnlyModel):
    """A published, Ed25519-signed tree head. Append-only: the history of what was promised."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    timestamp = models.CharField(max_length=40, help_text=_("ISO 8601 UTC, exactly as signed."))
    signature = models.CharField(max_length=100, help_text=_("Base64 Ed25519 signature."))
    key_id = models.CharField(max_length=64)
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["tree_size"]
        get_latest_by = "tree_size"

    def __str__(self) -> str:
        return f"tree head of size {self.tree_size}"


def validate_vkey(value: str) -> None:
    try:
        parse_vkey(value)
    except NoteError as problem:
        raise ValidationError(
            _("Not a verifier key: %(problem)s."), params={"problem": problem}
        ) from None


class Witness(models.Model):
    """An independent witness (C2SP tlog-witness) that cosigns this log's checkpoints.

    Configuration, plus the outcome of the last submission so administrators see at a glance
    which witness is behind or refusing; the cosignatures themselves are append-only rows.
    """

    name = models.CharField(max_length=100, unique=True, help_text=_("Who runs it."))
    url = models.URLField(
        help_text=_(
            "Submission prefix: checkpoints are posted to this URL followed by /add-checkpoint."
        )
    )
    vkey = models.CharField(
        max_length=300,
        validators=[validate_vkey],
        help_text=_(
            "The witness's verifier key: its name, key id and base64 key joined by plus signs."
        ),
    )
    active = models.BooleanField(default=True)
    cosigned_size = models.BigIntegerField(
        default=0, help_text=_("The largest tree size this witness is known to have cosigned.")
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "witnesses"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Cosignature(AppendOnlyModel):
    """A witness's cosignature of the checkpoint of one tree size: its note signature line."""

    witness = models.ForeignKey(Witness, on_delete=models.PROTECT, related_name="cosignatures")
    tree_size = models.BigIntegerField()
    signature = models.CharField(
        max_length=600,
        help_text=_("The signature line (an em dash, the witness's name, base64), as returned."),
    )
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["witness", "tree_size"], name="one_cosignature_per_witness_and_size"
            )
        ]
        ordering = ["tree_size", "witness_id"]

    def __str__(self) -> str:
        return f"cosignature of size {self.tree_size} by {self.witness}"
