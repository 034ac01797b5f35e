"""Writes of policy flags: flagging new entries and re-flagging under today's policies."""

from collections.abc import Callable
from datetime import date

from django.db import transaction

from audit.flags import rules as flags
from audit.log import signals
from audit.log.bulk import insert_rows
from audit.models import EntryFlags, QueryLogEntry


def flag_new_entries(entries: list, *, newest: bool = False) -> dict[int, list[str]]:
    """Compute and store the flags of entries that have none stored; returns them by sequence.
    `newest`: they are the log's last, its append lock held (see `flags_for_entries`)."""
    found = flags.flags_for_entries(entries, newest=newest)
    mask_of = flags.mask_of
    # One row per flagged entry, in one statement.
    insert_rows(
        EntryFlags,
        _FIELDS,
        [(sequence, mask_of(names)) for sequence, names in found.items() if names],
    )
    return found


_FIELDS = [EntryFlags._meta.get_field("entry"), EntryFlags._meta.get_field("mask")]


def reflag(*, start: date, end: date, progress: Callable[[int], None] = lambda n: None) -> int:
    """Recompute the flags of every entry dated start..end (local dates) under today's policies.

    Works in chunks, each in its own transaction, so the log stays writable meanwhile.
    Returns the number of entries re-flagged.
    """
    sequences = QueryLogEntry.objects.filter(local_date__range=(start, end)).order_by("sequence")
    done = 0
    last = -1
    while True:
        chunk = list(sequences.filter(sequence__gt=last).values_list("sequence", flat=True)[:1000])
        if not chunk:
            return done
        with transaction.atomic():
            reflag_entries(chunk)
        done += len(chunk)
        last = chunk[-1]
        progress(len(chunk))


def reflag_entries(sequences: list[int]) -> None:
    """Recompute the flags of these entries (at most a thousand or so: one IN list) and move
    the rollups from their old flags to their new ones, in the caller's transaction."""
    if not sequences:
        return
    before = flags.stored_flags(sequences)
    EntryFlags.objects.filter(entry_id__in=sequences).delete()
    entries = list(QueryLogEntry.objects.filter(sequence__in=sequences))
    after = flag_new_entries(entries)
    signals.flags_replaced.send(sender=EntryFlags, entries=entries, before=before, after=after)
