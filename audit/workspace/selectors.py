"""Reads for the auditor workspace: search, flags, review queue, random samples."""

import random
from collections import Counter
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from sightline_verifier import merkle

from audit.flags.rules import bit_of, names_of, stored_flags
from audit.log.parsing import fingerprint_target
from audit.models import (
    AuditReview,
    EntryFlags,
    QueryLogEntry,
    QueryOutcome,
    Technology,
)
from audit.transparency.selectors import inclusion_proof, latest_tree_head


def with_review_status(queryset: QuerySet) -> QuerySet:
    """Annotate each entry with its latest review's finding ("" when never reviewed)."""
    latest = AuditReview.objects.filter(entry=OuterRef("pk")).order_by("-id").values("finding")[:1]
    return queryset.annotate(review_status=Coalesce(Subquery(latest), Value("")))


def target_fingerprints(target: str, technology: str = "") -> list[str]:
    """The fingerprints a typed target may have been recorded under."""
    slugs = [technology] if technology else list(Technology.objects.values_list("slug", flat=True))
    return sorted({fingerprint_target(slug, target) for slug in slugs})


def search_entries(filters: dict[str, Any], *, sort: str = "-sequence") -> QuerySet:
    """Entries matching the workspace filters (the EntrySearchForm's cleaned data)."""
    entries = QueryLogEntry.objects.all()
    if filters.get("start"):
        entries = entries.filter(local_date__gte=filters["start"])
    if filters.get("end"):
        entries = entries.filter(local_date__lte=filters["end"])
    exact = {
        "technology": "technology_id",
        "query_type": "query_type",
        "agency": "requesting_agency_code__iexact",
        "operator": "operator_badge__iexact",
        "unit": "operator__unit__iexact",
        "offense_code": "offense_code__iexact",
        "offense_category": "offense_category",
        "case_number": "case_number__iexact",
    }
    for name, lookup in exact.items():
        if filters.get(name):
            entries = entries.filter(**{lookup: filters[name]})
    if filters.get("on_behalf_of"):
        entries = entries.filter(on_behalf_of__icontains=filters["on_behalf_of"])
    flag = filters.get("flag")
    if flag == "any":
        entries = entries.filter(Exists(EntryFlags.objects.filter(entry=OuterRef("pk"))))
    elif flag == "none":
        entries = entries.exclude(Exists(EntryFlags.objects.filter(entry=OuterRef("pk"))))
    elif flag:
        entries = entries.filter(
            Exists(EntryFlags.objects.filter(entry=OuterRef("pk"), mask__has=bit_of(flag)))
        )
    if filters.get("outcome"):
        entries = entries.filter(
            Exists(QueryOutcome.objects.filter(entry=OuterRef("pk"), outcome=filters["outcome"]))
        )
    if filters.get("target"):
        entries = entries.of_targets(
            target_fingerprints(filters["target"], filters.get("technology", ""))
        )
    entries = with_review_status(entries)
    status = filters.get("review_status")
    if status == "unreviewed":
        entries = entries.filter(review_status="")
    elif status:
        entries = entries.filter(review_status=status)
    sort = sort or "-sequence"
    return (
        entries.order_by(sort)
        if sort.lstrip("-") == "sequence"
        else entries.order_by(sort, "-sequence")
    )


def attach_flags(entries: list[QueryLogEntry]) -> list[QueryLogEntry]:
    """Give each entry a `flag_list` attribute in one query."""
    found = stored_flags([e.sequence for e in entries])
    for entry in entries:
        entry.flag_list = found.get(entry.sequence, [])
    return entries


def review_queue() -> QuerySet:
    """Flagged entries never reviewed, oldest first."""
    return (
        with_review_status(
            QueryLogEntry.objects.filter(Exists(EntryFlags.objects.filter(entry=OuterRef("pk"))))
        )
        .filter(review_status="")
        .order_by("sequence")
    )


def random_sample(*, start, end, size: int, seed: int) -> list[int]:
    """A reproducible sample of sequences dated start..end, stratified by technology.

    Each technology gets a share of `size` proportional to its entries in the period (at least
    one when it has any and the sample is large enough); the shares add up to exactly `size`
    (or all entries, if fewer). The same seed, period and log always give the same sample.
    """
    rng = random.Random(seed)
    strata: dict[str, list[int]] = {}
    rows = (
        QueryLogEntry.objects.filter(local_date__range=(start, end))
        .order_by("technology_id", "sequence")
        .values_list("technology_id", "sequence")
    )
    for technology, sequence in rows.iterator(chunk_size=10_000):
        strata.setdefault(technology, []).append(sequence)
    total = sum(len(s) for s in strata.values())
    if total == 0:
        return []
    size = min(size, total)
    # Largest-remainder allocation: shares proportional to use, summing exactly to `size`.
    exact = {tech: size * len(members) / total for tech, members in strata.items()}
    shares = {tech: int(quota) for tech, quota in exact.items()}
    by_remainder = sorted(strata, key=lambda tech: (shares[tech] - exact[tech], tech))
    for tech in by_remainder[: size - sum(shares.values())]:
        shares[tech] += 1
    # Every technology used in the period is represented when the sample is big enough.
    for tech in sorted(strata):
        if shares[tech] == 0 and size >= len(strata):
            donor = max(shares, key=lambda t: (shares[t], t))
            shares[donor] -= 1
            shares[tech] = 1
    chosen: list[int] = []
    for tech in sorted(strata):
        chosen.extend(rng.sample(strata[tech], shares[tech]))
    return sorted(chosen)


def flag_summary(*, start, end) -> dict[str, list]:
    """Counts of flags by kind, by unit and by operator for entries dated start..end.

    Each entry's flags are one mask: the database counts entries by mask (and unit, or
    operator), and each mask's flags are counted here. `count` is flags, `entries` entries.
    """
    flagged = EntryFlags.objects.filter(entry__local_date__range=(start, end)).order_by()
    kinds: Counter = Counter()
    for mask, entries in flagged.values_list("mask").annotate(entries=Count("pk")):
        for name in names_of(mask):
            kinds[name] += entries
    by_kind = [
        {"flag": name, "count": count}
        for name, count in sorted(kinds.items(), key=lambda item: (-item[1], item[0]))
    ]
    by_unit = _flag_counts(flagged, ["entry__operator__unit"])
    by_operator = _flag_counts(
        flagged, ["entry__operator_badge", "entry__operator__name", "entry__operator__unit"]
    )[:50]
    total = QueryLogEntry.objects.filter(local_date__range=(start, end)).count()
    return {"by_kind": by_kind, "by_unit": by_unit, "by_operator": by_operator, "total": total}


def _flag_counts(flagged: QuerySet, fields: list[str]) -> list[dict]:
    """Flags and flagged entries by the values of `fields`, most flags first."""
    totals: dict[tuple, list[int]] = {}
    for *key, mask, entries in flagged.values_list(*fields, "mask").annotate(entries=Count("pk")):
        counts = totals.setdefault(tuple(key), [0, 0])
        counts[0] += entries * len(names_of(mask))
        counts[1] += entries
    rows = [
        {**dict(zip(fields, key, strict=True)), "count": count, "entries": entries}
        for key, (count, entries) in totals.items()
    ]
    rows.sort(key=lambda row: (-row["count"], [str(row[field] or "") for field in fields]))
    return rows


def inclusion_status(sequence: int) -> dict[str, Any]:
    """Whether an entry is covered by the latest signed head, with its proof checked."""
    head = latest_tree_head()
    if head is None or sequence >= head.tree_size:
        return {"included": False, "head": head}
    entry_hash = QueryLogEntry.objects.values_list("leaf_hash", flat=True).get(sequence=sequence)
    proof = inclusion_proof(sequence, head.tree_size)
    verified = merkle.verify_inclusion(
        sequence,
        head.tree_size,
        bytes.fromhex(entry_hash),
        [bytes.fromhex(h) for h in proof],
        bytes.fromhex(head.root_hash),
    )
    return {"included": True, "head": head, "proof": proof, "verified": verified}
