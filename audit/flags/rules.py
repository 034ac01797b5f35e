"""Policy flags: what each recorded query did against the policy in force, derived from the log.

Flags are recomputable at any time from the entries and the current policies (`reflag`), so
they are stored apart from the append-only log. `flags_for_entries` is the one definition used
both when entries are recorded and when they are re-flagged.
"""

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from audit.log.models import target_prefix
from audit.models import Agency, Certification, EntryFlags, QueryLogEntry, Technology

MISSING_CASE_NUMBER = "missing-case-number"
MISSING_JUSTIFICATION = "missing-justification"
VAGUE_JUSTIFICATION = "vague-justification"
MISSING_OFFENSE = "missing-offense"
DISALLOWED_OFFENSE = "disallowed-offense"
NO_SUPERVISOR_APPROVAL = "no-supervisor-approval"
UNKNOWN_OPERATOR = "unknown-operator"
UNCERTIFIED_OPERATOR = "uncertified-operator"
UNKNOWN_AGENCY = "unknown-agency"
OUTSIDE_AGENCY = "outside-agency"
OUTSIDE_STAFFED_HOURS = "outside-staffed-hours"
VOLUME_ANOMALY = "volume-anomaly"
REPEATED_TARGET = "repeated-target"
TECHNOLOGY_NOT_AUTHORIZED = "technology-not-authorized"
NOT_LOGGED_BY_RTCC = "not-logged-by-rtcc"

# Also the stored order: a flag's bit in EntryFlags.mask is its position here (migration 0010
# copied the flags in this order). Add new flags at the end; never reorder or remove one.
ALL_FLAGS = (
    MISSING_CASE_NUMBER,
    MISSING_JUSTIFICATION,
    VAGUE_JUSTIFICATION,
    MISSING_OFFENSE,
    DISALLOWED_OFFENSE,
    NO_SUPERVISOR_APPROVAL,
    UNKNOWN_OPERATOR,
    UNCERTIFIED_OPERATOR,
    UNKNOWN_AGENCY,
    OUTSIDE_AGENCY,
    OUTSIDE_STAFFED_HOURS,
    VOLUME_ANOMALY,
    REPEATED_TARGET,
    TECHNOLOGY_NOT_AUTHORIZED,
    NOT_LOGGED_BY_RTCC,
)
_BITS = {name: 1 << position for position, name in enumerate(ALL_FLAGS)}


def bit_of(flag: str) -> int:
    """The flag's bit in a stored mask (`EntryFlags.objects.filter(mask__has=bit_of(flag))`)."""
    return _BITS[flag]


def mask_of(flags) -> int:
    mask = 0
    for flag in flags:
        mask |= _BITS[flag]
    return mask


@cache
def names_of(mask: int) -> tuple[str, ...]:
    """The flags of a stored mask, sorted by name (few masks occur: each is read once)."""
    return tuple(sorted(name for name, bit in _BITS.items() if mask & bit))


DESCRIPTIONS = {
    MISSING_CASE_NUMBER: "The policy requires a case number and none was given.",
    MISSING_JUSTIFICATION: "No reason was given.",
    VAGUE_JUSTIFICATION: "The reason is shorter than the policy's minimum or only generic words.",
    MISSING_OFFENSE: "No offense code was given.",
    DISALLOWED_OFFENSE: "The offense, the reason or the agency served falls under a prohibited "
    "purpose, or the offense is not one the policy allows.",
    NO_SUPERVISOR_APPROVAL: "The policy requires a supervisor's approval and none was recorded.",
    UNKNOWN_OPERATOR: "The badge number is not a registered operator.",
    UNCERTIFIED_OPERATOR: "The operator was not certified on this technology on that date.",
    UNKNOWN_AGENCY: "The requesting agency code is not a registered agency.",
    OUTSIDE_AGENCY: "Made for another agency than the city's own (requesting or on behalf of).",
    OUTSIDE_STAFFED_HOURS: "Made outside the center's staffed hours.",
    VOLUME_ANOMALY: "The operator's queries that day exceeded the policy's daily threshold.",
    REPEATED_TARGET: "The operator searched the same target more often than the policy allows "
    "without one shared case number.",
    TECHNOLOGY_NOT_AUTHORIZED: "The technology was suspended or prohibited.",
    NOT_LOGGED_BY_RTCC: "Found only in a vendor's audit export: the center's own software "
    "never logged this search, so it was recorded from the import.",
}
# Flags that another part of audit derives from its own records (vendor imports give
# not-logged-by-rtcc): each source maps entries to {sequence: [flag, ...]}.
FLAG_SOURCES: list[Callable[[list], dict[int, list[str]]]] = []


def register_flag_source(source: Callable[[list], dict[int, list[str]]]):
    """Have `flags_for_entries` consult `source` too (when entries are recorded or re-flagged)."""
    if source not in FLAG_SOURCES:
        FLAG_SOURCES.append(source)
    return source


# Words that say nothing about why a search was needed.
GENERIC_WORDS = frozenset(
    """
    investigation investigations investigative investigate investigating inv suspicious
    suspect suspects other n/a na none nothing info information intel intelligence check
    checking follow up followup lead leads case cases request requested per see report
    vehicle person subject activity incident general routine misc miscellaneous tbd unknown
    a an the of for to on in at and or re
    """.split()
)
_WORD = re.compile(r"[\w/]+")


@dataclass(frozen=True)
class StaffedHours:
    start: int  # minutes after local midnight
    end: int

    def covers(self, minutes: int) -> bool:
        if self.start <= self.end:
            return self.start <= minutes < self.end
        return minutes >= self.start or minutes < self.end


@cache
def staffed_hours(spec: str) -> StaffedHours:
    """Parse "HH:MM-HH:MM" (24:00 allowed as the end)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", spec.strip())
    if not match:
        raise ValueError(f"SIGHTLINE_STAFFED_HOURS must look like 05:00-24:00, not {spec!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    return StaffedHours(h1 * 60 + m1, h2 * 60 + m2)


def purpose_patterns(purposes: dict) -> list[tuple[frozenset[str], re.Pattern | None]]:
    """Compile the prohibited purposes setting: (offense groups, keyword pattern) each."""
    patterns = []
    for spec in purposes.values():
        words = spec.get("keywords", [])
        acronyms = [w for w in words if w.isupper()]
        others = [w for w in words if not w.isupper()]
        parts = []
        if others:
            parts.append("(?i:" + "|".join(rf"\b{re.escape(w)}\b" for w in others) + ")")
        if acronyms:
            parts.append("|".join(rf"\b{re.escape(w)}\b" for w in acronyms))
        pattern = re.compile("|".join(parts)) if parts else None
        patterns.append((frozenset(spec.get("offense_categories", [])), pattern))
    return patterns


def prohibited_purpose(category: str, justification: str, patterns: list) -> bool:
    """True when the offense group or the reason matches a prohibited purpose's pattern."""
    for categories, pattern in patterns:
        if category in categories:
            return True
        if pattern is not None and justification and pattern.search(justification):
            return True
    return False


def is_vague(justification: str, minimum_length: int) -> bool:
    text = justification.strip()
    if len(text) < minimum_length:
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    return all(w in GENERIC_WORDS for w in words)


# Values per IN list: well under the smallest parameter limit of the supported backends.
_IN_CHUNK = 400


# The reason checks are regular expressions over texts that repeat across batches (and
# across the API's requests): their answers are kept, keyed by everything they read.
@lru_cache(maxsize=8192)
def _vague(justification: str, minimum_length: int) -> bool:
    return is_vague(justification, minimum_length)


# The compiled prohibited purposes by the text of the setting they were compiled from.
_PURPOSES: dict[str, list] = {}


def _compiled_purposes(purposes: dict) -> tuple[str, list]:
    key = json.dumps(purposes, sort_keys=True, default=repr)
    if key not in _PURPOSES:  # one per value the setting ever had: a handful
        _PURPOSES[key] = purpose_patterns(purposes)
    return key, _PURPOSES[key]


@lru_cache(maxsize=8192)
def _prohibited(category: str, text: str, purposes_key: str) -> bool:
    return prohibited_purpose(category, text, _PURPOSES[purposes_key])


def _chunked(values) -> list[list]:
    values = sorted(values)
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)] or [[]]


def _contiguous(entries) -> tuple[int, int, bool]:
    """(first, last sequence, whether the entries are exactly every sequence first..last).

    A batch just recorded is contiguous: the log rows first..last are then the entries
    themselves, so the rules count them from memory and read only the log before `first`.
    """
    sequences = {e.sequence for e in entries}
    first, last = min(sequences), max(sequences)
    return first, last, len(sequences) == last - first + 1


def _searched_more_than(targets: set[str], since: datetime, limit: int) -> set[tuple]:
    """The (operator badge, target) pairs with more than `limit` searches in the log since
    `since`, and maybe more pairs: counted by the fingerprint's prefix (`target_prefix`), so a
    target that shares its prefix with another (which practically never happens) counts the
    other's searches too. Callers use it to choose whose searches to read, and read those by
    fingerprint.

    Every column read is in the entry_target_prefix index, so the database counts from the index
    alone, reading only the window (not every earlier search of each target), and returns only
    the pairs over the limit: most pairs have a search or two, and are never sent to Python.
    """
    by_prefix: dict[int, list[str]] = defaultdict(list)
    for target in targets:
        by_prefix[target_prefix(target)].append(target)
    found: set[tuple] = set()
    table = connection.ops.quote_name(QueryLogEntry._meta.db_table)
    since_db = connection.ops.adapt_datetimefield_value(since)
    values = sorted(prefix for prefix in by_prefix if prefix is not None)
    size = (connection.features.max_query_params or 10_000) - 10
    with connection.cursor() as cursor:
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            cursor.execute(
                f"SELECT operator_badge, target_prefix FROM {table} "  # noqa: S608
                f"WHERE target_prefix IN ({', '.join(['%s'] * len(chunk))}) "
                # Grouped by prefix first, the order in which the index gives the rows: the
                # grouping's sort then mostly appends (10-15% less time than badge first).
                "AND occurred_at >= %s GROUP BY target_prefix, operator_badge "
                "HAVING COUNT(*) > %s",
                [*chunk, since_db, limit],
            )
            for badge, prefix in cursor.fetchall():
                found.update((badge, target) for target in by_prefix[prefix])
    return found


class _Context:
    """Everything the rules need beyond the entries themselves, fetched in a few queries."""

    def __init__(self, entries: list[QueryLogEntry], *, newest: bool = False):
        self.policies = {t.slug: t for t in Technology.objects.all()}
        self.home = set(Agency.objects.filter(is_home=True).values_list("code", flat=True))
        self.known_agency_codes = set(Agency.objects.values_list("code", flat=True))
        self.hours = staffed_hours(settings.SIGHTLINE_STAFFED_HOURS)
        self.purposes_key, self.purposes = _compiled_purposes(
            settings.SIGHTLINE_PROHIBITED_PURPOSES
        )
        self.tz = timezone.get_default_timezone()
        operator_ids = {e.operator_id for e in entries if e.operator_id}
        self.certified: dict[tuple[int, str], date] = {}
        for chunk in _chunked(operator_ids):
            self.certified.update(
                ((op, tech), since)
                for op, tech, since in Certification.objects.filter(
                    operator_id__in=chunk
                ).values_list("operator_id", "technology__slug", "certified_on")
            )
        # The flags that follow from an entry's text and policy alone, by those values: a
        # batch repeats them often, and the reason checks are regular expressions.
        self.text_flags: dict[tuple, tuple[str, ...]] = {}
        self.first, self.last, self.contiguous = _contiguous(entries)
        # The entries are the log's newest, just appended under its lock: nothing follows them.
        self.newest = newest and self.contiguous
        self.volume_rank = self._volume_ranks(entries)
        self.repeated = self._repeated_targets(entries)

    def _volume_ranks(self, entries: list[QueryLogEntry]) -> dict[int, int]:
        """For each entry, its position among its operator's queries that day on that tool."""
        keys = {(e.operator_badge, e.technology_id, e.local_date) for e in entries}
        first, last = self.first, self.last
        badges = {k[0] for k in keys}
        days = {k[2] for k in keys}
        # The log before the first entry, counted per key by the database; then the log
        # first..last one sequence at a time: the entries themselves when contiguous.
        before: dict[tuple, int] = defaultdict(int)
        counted: dict[tuple, list[int]] = defaultdict(list)
        if self.contiguous:
            for e in entries:
                counted[(e.operator_badge, e.technology_id, e.local_date)].append(e.sequence)
        for badge_chunk in _chunked(badges):
            for day_chunk in _chunked(days):
                # Two IN lists use the (operator_badge, local_date, technology) index; exact
                # keys are matched here.
                matching = QueryLogEntry.objects.filter(
                    operator_badge__in=badge_chunk, local_date__in=day_chunk
                ).order_by()
                # When the entries are the log's last (its append lock held), the log before
                # them is all of it less them: counted from the index alone, no sequence read.
                earlier = matching if self.newest else matching.filter(sequence__lt=first)
                for badge, tech, day, count in earlier.values_list(
                    "operator_badge", "technology_id", "local_date"
                ).annotate(count=Count("*")):
                    key = (badge, tech, day)
                    if key in keys:
                        before[key] += count - len(counted[key]) if self.newest else count
                if self.contiguous:
                    continue
                for badge, tech, day, sequence in matching.filter(
                    sequence__gte=first, sequence__lte=last
                ).values_list("operator_badge", "technology_id", "local_date", "sequence"):
                    if (badge, tech, day) in keys:
                        counted[(badge, tech, day)].append(sequence)
        ranks = {}
        for key, sequences in counted.items():
            for rank, sequence in enumerate(sorted(sequences), start=before[key] + 1):
                ranks[sequence] = rank
        return ranks

    def _repeated_targets(self, entries: list[QueryLogEntry]) -> set[int]:
        """Entries whose operator searched the same target too often, without one case number."""
        targeted = [e for e in entries if e.target_fingerprint]
        if not targeted:
            return set()
        longest = max(t.repeated_target_days for t in self.policies.values())
        earliest = min(e.occurred_at for e in targeted) - timedelta(days=longest)
        latest = max(e.sequence for e in targeted)
        history: dict[tuple[str, str], list[tuple[datetime, int, str]]] = defaultdict(list)
        targets = {e.target_fingerprint for e in targeted}
        if self.contiguous:
            # The log first..last is the entries: from memory (each targeted one is within
            # the window). Of the log before, only the searches of targets that could exceed
            # the smallest limit are read; the others are counted in the database.
            for e in targeted:
                history[(e.operator_badge, e.target_fingerprint)].append(
                    (e.occurred_at, e.sequence, e.case_number)
                )
            smallest = min(t.repeated_target_limit for t in self.policies.values())
            # The entries are written before they are flagged, so the log's count of a key
            # since `earliest` is the entries' searches plus the earlier ones in the window.
            busy = _searched_more_than(targets, earliest, smallest)
            targets = {key[1] for key in history if key in busy}
            bound = {"sequence__lt": self.first}
        else:
            bound = {"sequence__lte": latest}
        for chunk in _chunked(targets) if targets else ():
            for badge, target, occurred_at, sequence, case_number in (
                QueryLogEntry.objects.of_targets(chunk)
                .filter(occurred_at__gte=earliest, **bound)
                .order_by()
                .values_list(
                    "operator_badge",
                    "target_fingerprint",
                    "occurred_at",
                    "sequence",
                    "case_number",
                )
            ):
                history[(badge, target)].append((occurred_at, sequence, case_number))
        flagged = set()
        for entry in targeted:
            policy = self.policies[entry.technology_id]
            searches = history[(entry.operator_badge, entry.target_fingerprint)]
            if len(searches) <= policy.repeated_target_limit:
                continue  # even the whole history is within the limit
            since = entry.occurred_at - timedelta(days=policy.repeated_target_days)
            window = [
                case
                for occurred_at, sequence, case in searches
                if since <= occurred_at <= entry.occurred_at and sequence <= entry.sequence
            ]
            shared_case = len(set(window)) == 1 and window[0] != ""
            if len(window) > policy.repeated_target_limit and not shared_case:
                flagged.add(entry.sequence)
        return flagged


def _text_flags(entry: QueryLogEntry, policy: Technology, ctx: _Context) -> tuple[str, ...]:
    """The flags that depend only on the entry's text fields and its technology's policy."""
    found = []
    if policy.requires_case_number and not entry.case_number:
        found.append(MISSING_CASE_NUMBER)
    if not entry.justification.strip():
        found.append(MISSING_JUSTIFICATION)
    elif _vague(entry.justification, policy.min_justification_length):
        found.append(VAGUE_JUSTIFICATION)
    if not entry.offense_code:
        found.append(MISSING_OFFENSE)
    allowed = policy.allowed_offense_categories
    purpose_text = f"{entry.justification}\n{entry.on_behalf_of}"  # "for ICE" counts too
    if _prohibited(entry.offense_category, purpose_text, ctx.purposes_key) or (
        allowed and entry.offense_code and entry.offense_category not in allowed
    ):
        found.append(DISALLOWED_OFFENSE)
    if policy.requires_supervisor_approval and not entry.supervisor_badge:
        found.append(NO_SUPERVISOR_APPROVAL)
    if entry.requesting_agency_code not in ctx.known_agency_codes:
        found.append(UNKNOWN_AGENCY)
    if entry.requesting_agency_code not in ctx.home or (
        entry.on_behalf_of and entry.on_behalf_of.upper() not in ctx.home
    ):
        found.append(OUTSIDE_AGENCY)
    if policy.status in (Technology.Status.SUSPENDED, Technology.Status.PROHIBITED):
        found.append(TECHNOLOGY_NOT_AUTHORIZED)
    return tuple(found)


def _flags_of(entry: QueryLogEntry, ctx: _Context) -> list[str]:
    policy = ctx.policies[entry.technology_id]
    key = (
        entry.technology_id, bool(entry.case_number), entry.justification, entry.offense_code,
        entry.offense_category, entry.on_behalf_of, bool(entry.supervisor_badge),
        entry.requesting_agency_code,
    )  # fmt: skip
    text = ctx.text_flags.get(key)
    if text is None:
        text = ctx.text_flags[key] = _text_flags(entry, policy, ctx)
    found = list(text)
    local = entry.occurred_at.astimezone(ctx.tz)
    if entry.operator_id is None:
        found.append(UNKNOWN_OPERATOR)
    else:
        since = ctx.certified.get((entry.operator_id, entry.technology_id))
        if since is None or since > local.date():
            found.append(UNCERTIFIED_OPERATOR)
    if not ctx.hours.covers(local.hour * 60 + local.minute):
        found.append(OUTSIDE_STAFFED_HOURS)
    if ctx.volume_rank.get(entry.sequence, 0) > policy.daily_volume_threshold:
        found.append(VOLUME_ANOMALY)
    if entry.sequence in ctx.repeated:
        found.append(REPEATED_TARGET)
    found.sort()
    return found


def flags_for_entries(
    entries: list[QueryLogEntry], *, newest: bool = False
) -> dict[int, list[str]]:
    """The sorted flags of each entry (by sequence) under the policies in force now.

    `newest`: the entries are the log's last, just appended with its append lock still held
    (the recording path), so that no entry follows them; the rules then count the log before
    them from indexes alone.
    """
    if not entries:
        return {}
    ctx = _Context(entries, newest=newest)
    found = {entry.sequence: _flags_of(entry, ctx) for entry in entries}
    for source in FLAG_SOURCES:
        for sequence, names in source(entries).items():
            found[sequence] = sorted({*found[sequence], *names})
    return found


def stored_flags(sequences: list[int]) -> dict[int, list[str]]:
    """The stored flags of these entries (of flagged ones only), sorted, by sequence."""
    found: dict[int, list[str]] = {}
    for chunk in _chunked(sequences):
        for sequence, mask in EntryFlags.objects.filter(entry_id__in=chunk).values_list(
            "entry_id", "mask"
        ):
            found[sequence] = list(names_of(mask))
    return found
