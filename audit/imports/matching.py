"""Matching vendor rows to the log: names as written resolved to agencies and operators, and
each row paired with the entry the center logged for the same search, if any. Reads only."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from audit.imports.models import AgencyAlias, OperatorAlias, RowMatch, alias_key
from audit.models import Agency, Operator, QueryLogEntry


class Names:
    """Resolves organisation and operator names as written to agency codes and badges.

    An alias decides first; then a registered code, badge or exact name. A name nothing
    resolves is kept as written (and the entry is flagged as an unknown agency or operator).
    An empty organisation is the export's own agency.
    """

    def __init__(self, home_code: str):
        self.home_code = home_code
        self._agencies: dict[str, str] = {}
        for code, name in Agency.objects.values_list("code", "name"):
            self._agencies.setdefault(alias_key(name), code)
            self._agencies[alias_key(code)] = code
        self._agencies.update(AgencyAlias.objects.values_list("key", "agency__code"))
        self.agency_codes = set(self._agencies.values())
        self._operators: dict[str, str] = {}
        names: dict[str, list[str]] = defaultdict(list)
        for badge, name in Operator.objects.values_list("badge_number", "name"):
            names[alias_key(name)].append(badge)
            self._operators[alias_key(badge)] = badge
        for key, badges in names.items():
            if len(badges) == 1:  # two officers of one name: only an alias can tell them apart
                self._operators.setdefault(key, badges[0])
        self._operators.update(OperatorAlias.objects.values_list("key", "operator__badge_number"))
        self.badges = set(self._operators.values())
        # An export names a few agencies and operators many times over.
        self._agency_seen: dict[str, tuple[str, bool]] = {}
        self._operator_seen: dict[str, tuple[str, bool]] = {}

    def agency(self, name: str) -> tuple[str, bool]:
        """(code, known): the code to record and whether it is a registered agency."""
        found = self._agency_seen.get(name)
        if found is None:
            if not name:
                found = (self.home_code, True)
            else:
                code = self._agencies.get(alias_key(name))
                found = (code, True) if code is not None else (name[:32], False)
            self._agency_seen[name] = found
        return found

    def operator(self, name: str) -> tuple[str, bool]:
        """(badge, known): the badge to record and whether it is a registered operator."""
        found = self._operator_seen.get(name)
        if found is None:
            badge = self._operators.get(alias_key(name)) if name else None
            found = (badge, True) if badge is not None else (name[:32], False)
            self._operator_seen[name] = found
        return found


# A chunk whose rows span at most this many days is matched against those days' entries.
NARROW_WINDOW = timedelta(days=2)


@dataclass(slots=True)
class Side:
    """A vendor row reduced to what matching needs."""

    index: int
    occurred_at: datetime
    fingerprint: str
    agency: str
    agency_known: bool
    badge: str
    badge_known: bool


def sides_of(rows: list, names: Names) -> list[Side]:
    """Each row (a VendorRow, or a row kept earlier) reduced to what matching needs, with its
    organisation and operator resolved by `names`; `index` is the row's position."""
    sides = []
    for index, row in enumerate(rows):
        agency, agency_known = names.agency(row.agency_name)
        badge, badge_known = names.operator(row.operator_name)
        sides.append(
            Side(index, row.occurred_at, row.target_fingerprint, agency, agency_known, badge,
                 badge_known)
        )  # fmt: skip
    return sides


def tolerance() -> timedelta:
    return timedelta(minutes=settings.SIGHTLINE_RECONCILE_TOLERANCE_MINUTES)


def in_chunks(values: list, size: int = 900) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def match(
    sides: list[Side], *, technology: str, window: timedelta, excluded: list[int]
) -> dict[int, tuple[int, int]]:
    """For each side that the log holds an entry for: (sequence, seconds apart), by index.

    An entry matches a row when it is of the same technology, searched the same target (or
    neither names one), happened within `window` of it and, where both sides know them, for
    the same agency and by the same operator. Each entry matches one row at most, the nearest.
    Entries recorded from imports, and entries already matched to a row, are not candidates.
    """
    if not sides:
        return {}
    low = min(s.occurred_at for s in sides) - window
    high = max(s.occurred_at for s in sides) + window
    # No technology or ordering in SQL: with them SQLite reads every entry of the technology
    # through its index and sorts them; the date or fingerprint index narrows far better.
    entries = (
        QueryLogEntry.objects.order_by()
        .filter(occurred_at__range=(low, high))
        .exclude(integration_id__in=excluded)
    )
    columns = (
        "sequence",
        "target_fingerprint",
        "occurred_at",
        "requesting_agency_code",
        "operator_badge",
        "technology_id",
    )
    fingerprints = sorted({s.fingerprint for s in sides if s.fingerprint})
    tz = timezone.get_default_timezone()
    days = (low.astimezone(tz).date(), high.astimezone(tz).date())
    found = []
    if days[1] - days[0] <= NARROW_WINDOW:
        # Exports run in time order, so a chunk spans hours: read the log's entries of those
        # days in the date index's order, cheaper than a probe of the target index for each of
        # thousands of targets (measured: a full reconcile of a million rows, 48 s against 63).
        wanted = set(fingerprints) | {""}
        found.extend(
            candidate
            for candidate in entries.filter(local_date__range=days).values_list(*columns)
            if candidate[1] in wanted
        )
    else:
        # Each target's entries within the window only (the entry_target_prefix index; by prefix
        # and by fingerprint, so half as many targets a statement).
        for part in in_chunks(fingerprints, 450):
            found.extend(entries.of_targets(part).values_list(*columns))
        if any(not s.fingerprint for s in sides):
            found.extend(
                entries.filter(target_fingerprint="", local_date__range=days).values_list(*columns)
            )
    found = [candidate[:5] for candidate in found if candidate[5] == technology]
    if not found:
        return {}
    taken: set[int] = set()
    for part in in_chunks([f[0] for f in found]):
        taken.update(
            RowMatch.objects.order_by().filter(entry_id__in=part).values_list("entry_id", flat=True)
        )
    by_target: dict[str, list[tuple]] = defaultdict(list)
    for candidate in found:
        if candidate[0] not in taken:
            by_target[candidate[1]].append(candidate)
    matched: dict[int, tuple[int, int]] = {}
    for side in sorted(sides, key=lambda s: s.occurred_at):
        best = None
        for sequence, _, occurred_at, agency, badge in by_target.get(side.fingerprint, ()):
            if sequence in taken:
                continue
            apart = abs(side.occurred_at - occurred_at)
            if apart > window:
                continue
            if side.agency_known and agency and agency != side.agency:
                continue
            if side.badge_known and badge and badge != side.badge:
                continue
            if best is None or apart < best[1]:
                best = (sequence, apart, occurred_at)
        if best is not None:
            taken.add(best[0])
            seconds = int((side.occurred_at - best[2]).total_seconds())
            matched[side.index] = (best[0], seconds)
    return matched
