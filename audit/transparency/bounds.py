"""The log's bounds during `verify_log`: nothing may be stored beyond the entries checked,
except what the live log appended while they were checked."""

from django.db.models import Max

from audit.models import LogState, MerkleNode, QueryLogEntry


def stored_beyond(size: int) -> str | None:
    """What lies beyond the `size` entries that `verify_log` checked, other than entries and
    subtrees appended meanwhile: a problem to report, or None.

    The log may grow while it is checked. An append commits its entries and subtrees together
    with the state that counts them, so whatever was stored when the last ones were read is
    within the state as it is when read after them; only what lies beyond that was stored
    outside the log's writes.
    """
    last = QueryLogEntry.objects.aggregate(last=Max("sequence"))["last"]
    top_stored = MerkleNode.objects.aggregate(top=Max("level"))["top"] or 0
    last_nodes = {
        level: MerkleNode.objects.filter(level=level).aggregate(last=Max("index"))["last"]
        for level in range(1, top_stored + 1)
    }

    def beyond(checked: int) -> bool:
        top = max(checked.bit_length() - 1, 0)
        return (last is not None and last >= checked) or any(
            index is not None and (level > top or index >= checked >> level)
            for level, index in last_nodes.items()
        )

    if not beyond(size):
        return None
    now = LogState.objects.values_list("size", flat=True).get(id=1)  # read after the above
    if not beyond(now):
        return None  # appended while the log was checked
    if last is not None and last >= now:
        stored = QueryLogEntry.objects.filter(sequence__gte=now, sequence__lte=last).count()
        return f"The log state says {now} entries but {now + stored} are stored."
    top = max(now.bit_length() - 1, 0)
    for level in range(1, top + 1):
        index = last_nodes.get(level)
        if index is not None and index >= now >> level:
            extra = (
                MerkleNode.objects.filter(level=level, index__gte=now >> level)
                .order_by("index")
                .values_list("index", flat=True)
                .first()
            )
            return f"Unexpected stored subtree L{level}#{extra}."
    return "Stored subtrees exist above the tree's height."
