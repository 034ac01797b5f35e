"""The not-logged-by-rtcc flag: entries recorded from a vendor's export because the center's
own software never logged the search. Registered with the flags package's flag sources, so it
is computed when entries are recorded and again whenever they are re-flagged.

A later reconcile may match the row to an entry the center did log (a wider tolerance, a new
alias, an entry posted late): the entry recorded from the row then loses the flag, since the
center logged the search after all; reconcile re-flags those entries (and the reverse).
"""

from audit.flags.rules import NOT_LOGGED_BY_RTCC, register_flag_source


def not_logged_by_rtcc(entries: list) -> dict[int, list[str]]:
    """{sequence: [not-logged-by-rtcc]} for the entries recorded through an import source."""
    from audit.imports.selectors import import_integrations  # models are loaded by now
    from audit.models import QueryLogEntry

    integrations = set(import_integrations())
    if not integrations or not entries:
        return {}
    if all(hasattr(entry, "integration_id") for entry in entries):
        flagged = [e.sequence for e in entries if e.integration_id in integrations]
    else:  # entries just recorded, described without their integration: read it back
        wanted = {entry.sequence for entry in entries}
        # A range of the primary key, in Python the rest: a filter on the integration would let
        # SQLite walk that integration's index, every entry an import ever recorded.
        flagged = [
            sequence
            for sequence, integration in QueryLogEntry.objects.order_by()
            .filter(sequence__range=(min(wanted), max(wanted)))
            .values_list("sequence", "integration_id")
            .iterator(chunk_size=5000)
            if integration in integrations and sequence in wanted
        ]
    if flagged:
        flagged = set(flagged) - matched_recordings(min(flagged), max(flagged))
    return {sequence: [NOT_LOGGED_BY_RTCC] for sequence in flagged}


def matched_recordings(first: int, last: int) -> set[int]:
    """The entries first..last recorded from a vendor row that is now matched to another entry.

    A range of the recordings' entry index: entries just recorded have no recording yet (it
    is written after them), so for a fresh batch this reads nothing.
    """
    from audit.imports.models import RowRecording

    return set(
        RowRecording.objects.order_by()
        .filter(entry_id__gte=first, entry_id__lte=last, row__match__isnull=False)
        .values_list("entry_id", flat=True)
    )


register_flag_source(not_logged_by_rtcc)
