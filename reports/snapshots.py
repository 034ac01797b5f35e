"""Public counts tied to signed tree heads: each snapshot covers exactly entries 0..size-1."""

from collections import Counter

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from audit.models import QueryLogEntry
from reports.models import PublicSnapshot

_GROUPS = {
    "by_technology_month": ("technology_id", "month"),
    "by_offense_category": ("technology_id", "offense_category"),
    "by_agency": ("technology_id", "requesting_agency_code"),
}


def _count(start: int, end: int) -> dict[str, Counter]:
    """Counts of entries [start, end) for each public grouping, keyed "a|b"."""
    entries = QueryLogEntry.objects.filter(sequence__gte=start, sequence__lt=end).order_by()
    counts = {}
    for name, fields in _GROUPS.items():
        rows = entries
        if "month" in fields:
            rows = rows.annotate(month=TruncMonth("local_date"))
        counter: Counter = Counter()
        for row in rows.values(*fields).annotate(n=Count("sequence")):
            key = [row[f].strftime("%Y-%m") if f == "month" else row[f] for f in fields]
            counter["|".join(key)] += row["n"]
        counts[name] = counter
    return counts


@transaction.atomic
def snapshot_for(tree_size: int) -> PublicSnapshot:
    """The snapshot of a size, made now from the nearest smaller one if it does not exist."""
    existing = PublicSnapshot.objects.filter(tree_size=tree_size).first()
    if existing:
        return existing
    base = PublicSnapshot.objects.filter(tree_size__lt=tree_size).order_by("-tree_size").first()
    start = base.tree_size if base else 0
    added = _count(start, tree_size)
    values = {}
    for name in _GROUPS:
        total = Counter(getattr(base, name) if base else {})
        total.update(added[name])
        values[name] = dict(sorted(total.items()))
    snapshot, _ = PublicSnapshot.objects.get_or_create(
        tree_size=tree_size, defaults={**values, "computed_at": timezone.now()}
    )
    return snapshot


def public_statistics(snapshot: PublicSnapshot, min_cell: int) -> dict:
    """The statistics document: lists of counts, small cells hidden below `min_cell`."""

    def count(n: int):
        return f"fewer than {min_cell}" if 0 < n < min_cell else n

    def rows(counts: dict, second: str) -> list[dict]:
        out = []
        for key, n in counts.items():
            technology, value = key.split("|", 1)
            out.append({"technology": technology, second: value, "queries": count(n)})
        return out

    return {
        "by_technology_month": rows(snapshot.by_technology_month, "month"),
        "by_offense_category": rows(snapshot.by_offense_category, "offense_category"),
        "by_agency": rows(snapshot.by_agency, "agency"),
    }
