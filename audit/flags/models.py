"""Policy findings on entries (derived data, recomputable from the entry and the policy)."""

from django.db import models
from django.db.models import Lookup

from audit.log.models import QueryLogEntry


class FlagMask(models.PositiveIntegerField):
    """A set of flags as bits: bit i is the i-th name of `rules.ALL_FLAGS`."""


@FlagMask.register_lookup
class HasFlag(Lookup):
    """`mask__has=bit`: the mask has that bit set (`rules.bit_of(name)` gives a flag's bit)."""

    lookup_name = "has"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"({lhs} & {rhs}) <> 0", [*lhs_params, *rhs_params]


class EntryFlags(models.Model):
    """The policy findings on one entry: derived data, recomputed by reflag, never part of the log.

    One row per flagged entry (an entry without findings has none), each finding a bit of
    `mask`: recording a batch then writes one row per entry rather than one per finding (about
    four), which was a seventh of the cost of a large import. `rules.names_of` reads a mask.
    """

    entry = models.OneToOneField(
        QueryLogEntry, primary_key=True, on_delete=models.PROTECT, related_name="flags"
    )
    mask = FlagMask()

    class Meta:
        ordering = ["entry_id"]
        verbose_name_plural = "entry flags"

    def __str__(self) -> str:
        return f"flags {self.mask:#x} on #{self.entry_id}"
