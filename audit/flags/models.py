"""Policy findings on entries (derived data, recomputable from the entry and the policy)."""

from django.db import models

from audit.log.models import QueryLogEntry


class QueryFlag(models.Model):
    """A policy finding on an entry: derived data, recomputed by reflag, never part of the log."""

    # The one_flag_per_kind index, which starts with the entry, serves the reads by entry.
    entry = models.ForeignKey(
        QueryLogEntry, on_delete=models.PROTECT, related_name="flags", db_index=False
    )
    flag = models.CharField(max_length=40)

    class Meta:
        ordering = ["entry_id", "flag"]
        constraints = [models.UniqueConstraint(fields=["entry", "flag"], name="one_flag_per_kind")]
        indexes = [models.Index(fields=["flag", "entry"], name="flag_entry")]

    def __str__(self) -> str:
        return f"{self.flag} on #{self.entry_id}"
