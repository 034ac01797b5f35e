"""The transparency log's state: stored subtree hashes, the log's frontier and signed heads."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
