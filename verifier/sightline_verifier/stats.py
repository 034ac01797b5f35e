"""Public leaves: their published shape, and the public statistics recomputed from them.

Each leaf is checked to be exactly a version 1 public leaf in canonical JSON (only public
fields, a date and never a time). What the statistics need from it is tallied, and the counts
the site publishes at /api/v1/stats/ are compared with the tally: a published count that the
signed leaves do not support is a failure like a wrong root.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from sightline_verifier.errors import FetchError, VerificationFailed

__all__ = [
    "CSV_COLUMNS",
    "LEAF_FIELDS_V1",
    "Counts",
    "LeafError",
    "Tally",
    "check_leaf",
    "check_statistics",
    "compare_statistics",
    "format_counts",
]

#: The fields of a version 1 leaf, exactly; also the CSV columns, in this order.
LEAF_FIELDS_V1 = (
    "sequence",
    "date",
    "technology",
    "query_type",
    "agency",
    "offense_category",
    "scope",
    "case_number_present",
    "supervisor_present",
    "on_behalf_of_present",
    "private_commitment",
    "v",
)
CSV_COLUMNS = LEAF_FIELDS_V1
_LEAF_STRINGS = ("technology", "query_type", "agency", "offense_category", "scope")
_LEAF_FLAGS = ("on_behalf_of_present", "case_number_present", "supervisor_present")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX_DIGITS = b"0123456789abcdef"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]

# A version 1 leaf in canonical form (keys sorted, no spaces), as one pattern: matching it is
# several times faster than decoding the JSON, and only a leaf that does not match is decoded
# (to say exactly what is wrong with it). Strings are kept quoted, as in the leaf.
_S = r'("(?:[^"\\\x00-\x1f]|\\.)*")'
_B = r"(true|false)"
_LEAF_V1 = re.compile(
    r'\{"agency":' + _S + r',"case_number_present":' + _B + r',"date":"(\d{4}-\d\d-\d\d)"'
    r',"offense_category":' + _S + r',"on_behalf_of_present":' + _B
    + r',"private_commitment":"[0-9a-f]{64}","query_type":' + _S + r',"scope":' + _S
    + r',"sequence":(0|[1-9][0-9]*),"supervisor_present":' + _B + r',"technology":' + _S
    + r',"v":1\}'
)  # fmt: skip
# Positions of the groups above, without the sequence (group 8): the tally key.
_SEQUENCE = 8
_KEY_GROUPS = (1, 2, 3, 4, 5, 6, 7, 9, 10)
_STRING_GROUPS = (1, 4, 6, 7, 10)
_DATE_I = 2  # the date's place among them


class LeafError(VerificationFailed):
    """A leaf is not a version 1 public leaf; the message names its sequence."""


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_leaf(sequence: int, leaf: object) -> dict[str, Any]:
    """Check that a decoded leaf has the published shape; return it (LeafError otherwise)."""
    where = f"sequence {sequence}"
    if not isinstance(leaf, dict):
        raise LeafError(f"{where}: the leaf is not a JSON object.")
    if type(leaf.get("v")) is not int or leaf["v"] != 1:
        raise LeafError(
            f"{where}: leaf version {leaf.get('v')!r} is not known to this verifier "
            "(it knows leaf version 1); get a newer verifier."
        )
    extra = sorted(set(leaf) - set(LEAF_FIELDS_V1))
    if extra:
        raise LeafError(
            f"{where}: the leaf has fields the published format does not allow: " + ", ".join(extra)
        )
    missing = sorted(set(LEAF_FIELDS_V1) - set(leaf))
    if missing:
        raise LeafError(f"{where}: the leaf lacks fields: {', '.join(missing)}.")
    if leaf["sequence"] != sequence or not _is_count(leaf["sequence"]):
        raise LeafError(f"{where}: the leaf says it is sequence {leaf['sequence']!r}.")
    day = leaf["date"]
    if not isinstance(day, str) or not _DATE.fullmatch(day):
        raise LeafError(f"{where}: leaf date {day!r} is not a YYYY-MM-DD date.")
    _check_day(sequence, day)
    for name in _LEAF_STRINGS:
        if not isinstance(leaf[name], str):
            raise LeafError(f"{where}: leaf field {name!r} is not a string.")
    for name in _LEAF_FLAGS:
        if not isinstance(leaf[name], bool):
            raise LeafError(f"{where}: leaf field {name!r} is not true or false.")
    commitment = leaf["private_commitment"]
    if not isinstance(commitment, str) or not _HEX64.fullmatch(commitment):
        raise LeafError(f"{where}: private_commitment is not 64 lowercase hex digits.")
    return leaf


def _check_day(sequence: int, day: str) -> None:
    try:
        date.fromisoformat(day)
    except ValueError:
        raise LeafError(f"sequence {sequence}: leaf date {day!r} is not a calendar date.") from None


@dataclass
class Counts:
    """Entries per technology (and by year, agency, missing fields), tallied from verified leaves.

    Only leaves whose date lies in [since, until] (each bound optional, inclusive) are counted.
    """

    since: date | None = None
    until: date | None = None
    total: int = 0
    by_technology: Counter[str] = field(default_factory=Counter)
    by_year: Counter[tuple[str, str]] = field(default_factory=Counter)  # (year, technology)
    by_agency: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, technology)
    without_case_number: Counter[str] = field(default_factory=Counter)
    without_supervisor: Counter[str] = field(default_factory=Counter)
    on_behalf_of_another: Counter[str] = field(default_factory=Counter)

    def add(self, leaf: dict[str, Any], times: int = 1) -> None:
        """Count one (already checked) leaf ``times`` times if its date is inside the range."""
        day = leaf["date"]
        if (self.since and day < self.since.isoformat()) or (
            self.until and day > self.until.isoformat()
        ):
            return
        technology = leaf["technology"]
        self.total += times
        self.by_technology[technology] += times
        self.by_year[(day[:4], technology)] += times
        self.by_agency[(leaf["agency"], technology)] += times
        if not leaf["case_number_present"]:
            self.without_case_number[technology] += times
        if not leaf["supervisor_present"]:
            self.without_supervisor[technology] += times
        if leaf["on_behalf_of_present"]:
            self.on_behalf_of_another[technology] += times


class Tally:
    """How many leaves share each combination of the public fields the counts use.

    ``add_bytes`` checks and tallies canonical leaf bytes (the tiles path); ``add_leaf`` a
    decoded leaf (the JSON API path). Either way ``counts`` and ``statistics`` derive from it.
    """

    def __init__(self) -> None:
        self.leaves = 0
        # (the key's fields but the date, the date) -> leaves.
        self._keys: Counter[tuple[tuple[str, ...], str]] = Counter()
        # Dates already checked (YYYY-MM-DD and a calendar date): bytes -> text.
        self._good_days: dict[bytes, str] = {}
        # Leaves already checked in full, with their date, commitment and sequence cut out ->
        # (where those were cut, the key's fields but the date). See add_bundle.
        self._shapes: dict[bytes, tuple[int, int, int, tuple[str, ...]]] = {}

    def add_bytes(self, sequence: int, data: bytes) -> None:
        """Check that ``data`` is the canonical version 1 leaf of ``sequence``; tally it."""
        self.add_bundle(sequence, [data])

    def add_bundle(self, first: int, entries: Iterable[bytes]) -> None:
        """Check and tally the leaves of sequences first, first + 1, ... (LeafError).

        Most leaves differ from one seen before only in their date, commitment and sequence.
        So each leaf is cut at those three values; if what remains (its "shape") is that of a
        leaf already matched in full, cut at the same places, then the leaf matches too as long
        as the three values are valid: a known date, 64 lowercase hex digits, the sequence in
        canonical decimal (and, being ASCII, they keep it valid UTF-8). That is several times
        faster than matching the whole pattern, which is done for every new shape.
        """
        shapes, keys, days = self._shapes, self._keys, self._good_days
        sequence = first
        for data in entries:
            d = data.find(b'"date":"') + 8
            c = data.find(b',"private_commitment":"', d) + 23
            s = data.find(b',"sequence":', c) + 12
            e = data.find(b",", s)
            shape = data[:d] + data[d + 10 : c] + data[c + 64 : s] + data[e:]
            known = shapes.get(shape)
            if (
                known is not None
                and known[0] == d
                and known[1] == c
                and known[2] == s
                and data[s:e] == b"%d" % sequence
                and not data[c : c + 64].translate(None, _HEX_DIGITS)
            ):
                day = days.get(data[d : d + 10])
                if day is not None:
                    keys[(known[3], day)] += 1
                    sequence += 1
                    continue
            self._add_new_shape(sequence, data, shape, d, c, s, e)
            sequence += 1
        self.leaves += sequence - first

    def _add_new_shape(
        self, sequence: int, data: bytes, shape: bytes, d: int, c: int, s: int, e: int
    ) -> None:
        """Match a leaf against the whole pattern; remember its shape; tally it."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LeafError(f"sequence {sequence}: the leaf is not valid UTF-8.") from None
        match = _LEAF_V1.fullmatch(text)
        if (
            match is None
            or int(match[_SEQUENCE]) != sequence
            or ("\\" in text and not _escapes_ok(match))
        ):
            self._explain(sequence, text)
        key = match.group(*_KEY_GROUPS)
        day = key[_DATE_I]
        if day.encode() not in self._good_days:
            _check_day(sequence, day)
            self._good_days[day.encode()] = day
        rest = key[:_DATE_I] + key[_DATE_I + 1 :]
        if d >= 8 and c >= 23 and s >= 12 and e > 0:
            self._shapes[shape] = (d, c, s, rest)
        self._keys[(rest, day)] += 1

    def add_leaf(self, leaf: dict[str, Any]) -> None:
        """Tally a leaf already checked with ``check_leaf``."""
        flag = {True: "true", False: "false"}
        rest = (
            _quote(leaf["agency"]),
            flag[leaf["case_number_present"]],
            _quote(leaf["offense_category"]),
            flag[leaf["on_behalf_of_present"]],
            _quote(leaf["query_type"]),
            _quote(leaf["scope"]),
            flag[leaf["supervisor_present"]],
            _quote(leaf["technology"]),
        )
        self._keys[(rest, leaf["date"])] += 1
        self.leaves += 1

    def _explain(self, sequence: int, text: str) -> NoReturn:
        """Raise LeafError saying why ``text`` is not the canonical leaf of ``sequence``."""
        try:
            leaf = json.loads(text)
        except ValueError:
            raise LeafError(f"sequence {sequence}: the leaf is not JSON.") from None
        check_leaf(sequence, leaf)
        raise LeafError(
            f"sequence {sequence}: the leaf is not in canonical JSON form (sorted keys, no "
            "spaces, UTF-8): the same leaf could be hashed two ways."
        )

    def _rows(self) -> Iterator[tuple[str, bool, str, str, bool, str, str, bool, str, int]]:
        """(agency, case number?, date, offense, for another?, query type, scope, supervisor?,
        technology, leaves) per distinct combination; each quoted string decoded once."""
        unquote = _Unquoted()
        for (rest, day), times in self._keys.items():
            agency, case, offense, behalf, qtype, scope, supervisor, tech = rest
            yield (
                unquote[agency], case == "true", day, unquote[offense], behalf == "true",
                unquote[qtype], unquote[scope], supervisor == "true", unquote[tech], times,
            )  # fmt: skip

    def counts(self, since: date | None = None, until: date | None = None) -> Counts:
        """The Counts of the tallied leaves dated in [since, until]."""
        counts = Counts(since=since, until=until)
        first = since.isoformat() if since else ""
        last = until.isoformat() if until else "9999"
        for agency, case, day, _, behalf, _, _, supervisor, tech, times in self._rows():
            if not first <= day <= last:
                continue
            counts.total += times
            counts.by_technology[tech] += times
            counts.by_year[(day[:4], tech)] += times
            counts.by_agency[(agency, tech)] += times
            if not case:
                counts.without_case_number[tech] += times
            if not supervisor:
                counts.without_supervisor[tech] += times
            if behalf:
                counts.on_behalf_of_another[tech] += times
        return counts

    def statistics(self) -> dict[str, Counter[tuple[str, str]]]:
        """The groupings /api/v1/stats/ publishes, as (technology, value) -> entries."""
        months: Counter[tuple[str, str]] = Counter()
        offenses: Counter[tuple[str, str]] = Counter()
        agencies: Counter[tuple[str, str]] = Counter()
        for agency, _, day, offense, _, _, _, _, tech, times in self._rows():
            months[(tech, day[:7])] += times
            offenses[(tech, offense)] += times
            agencies[(tech, agency)] += times
        return {
            "by_technology_month": months,
            "by_offense_category": offenses,
            "by_agency": agencies,
        }


class _Unquoted(dict):
    """JSON strings decoded, each distinct one once."""

    def __missing__(self, quoted: str) -> str:
        value = self[quoted] = json.loads(quoted)
        return value


def _escapes_ok(match: re.Match[str]) -> bool:
    """Whether every escaped string is escaped exactly as canonical JSON would be."""
    for quoted in match.group(*_STRING_GROUPS):
        if "\\" in quoted:
            try:
                if _quote(json.loads(quoted)) != quoted:
                    return False
            except ValueError:
                return False
    return True


_COLUMNS = {
    "by_technology_month": "month",
    "by_offense_category": "offense_category",
    "by_agency": "agency",
}
_FEWER = re.compile(r"fewer than ([1-9][0-9]*)")


def compare_statistics(document: object, tally: Tally, tree_size: int) -> list[str]:
    """Differences between the published statistics and the ones recomputed from the leaves.

    An empty list means every published count is what the signed leaves give, and nothing the
    leaves give is missing. A count published as "fewer than K" must be between 1 and K-1.
    """
    if not isinstance(document, dict):
        return ["the statistics are not a JSON object"]
    if document.get("tree_size") != tree_size:
        return [f"the statistics are for size {document.get('tree_size')!r}, not {tree_size}"]
    problems: list[str] = []
    recomputed = tally.statistics()
    for name, column in _COLUMNS.items():
        rows = document.get(name)
        if not isinstance(rows, list):
            problems.append(f"{name} is missing or not a list")
            continue
        expected = recomputed[name]
        seen: set[tuple[str, str]] = set()
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("technology"), str):
                problems.append(f"{name}: a row is not in the published format")
                continue
            key = (row["technology"], row.get(column))
            what = f"{name} {key[0]} {column} {key[1]!r}"
            if key in seen:
                problems.append(f"{what} is published twice")
                continue
            seen.add(key)
            published, actual = row.get("queries"), expected.get(key, 0)  # type: ignore[call-overload]
            fewer = _FEWER.fullmatch(published) if isinstance(published, str) else None
            if fewer is not None:
                if not 0 < actual < int(fewer[1]):
                    problems.append(f"{what}: published {published!r}, the leaves give {actual}")
            elif not _is_count(published) or published != actual:
                problems.append(f"{what}: published {published!r}, the leaves give {actual}")
        for key in sorted(set(expected) - seen):
            problems.append(
                f"{name} {key[0]} {column} {key[1]!r}: not published, the leaves give "
                f"{expected[key]}"
            )
    return problems


def check_statistics(source: Any, tally: Tally, n: int, say: Callable[[str], None]) -> bool:
    """Compare /api/v1/stats/ for size ``n`` with the tally; True when compared and equal.

    ``source`` is the site's client (``get_json``). A count the leaves do not give raises
    VerificationFailed; no statistics for that size (404) is said, and not a failure.
    """
    try:
        document = source.get_json(f"/api/v1/stats/?tree_size={n}")
    except FetchError as error:
        if error.status == 404:
            say(f"Statistics: the site publishes none for size {n:,}; not compared.")
            return False
        raise
    problems = compare_statistics(document, tally, n)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise VerificationFailed(
            "statistics: the counts published at /api/v1/stats/ are not those of the signed "
            f"leaves: {'; '.join(problems[:3])}{more}."
        )
    say(f"Statistics: every count at /api/v1/stats/ for size {n:,} matches the leaves.")
    return True


def format_counts(counts: Counts) -> list[str]:
    """The counts as aligned plain-text table lines."""
    if counts.since or counts.until:
        period = f"dated {counts.since or 'the start'} to {counts.until or 'the end'}"
    else:
        period = "all dates"
    lines = [f"Entries recomputed from the verified leaves ({period}): {counts.total:,}"]
    if not counts.total:
        return lines
    technologies = sorted(counts.by_technology)
    width = max(len("technology"), *(len(t) for t in technologies))
    lines.append(
        f"  {'technology':<{width}}  {'entries':>9}  {'no case no.':>11}  "
        f"{'no supervisor':>13}  {'for another agency':>18}"
    )
    for tech in technologies:
        lines.append(
            f"  {tech:<{width}}  {counts.by_technology[tech]:>9,}  "
            f"{counts.without_case_number[tech]:>11,}  {counts.without_supervisor[tech]:>13,}  "
            f"{counts.on_behalf_of_another[tech]:>18,}"
        )
    for title, table in (("year", counts.by_year), ("agency", counts.by_agency)):
        rows = sorted({row for row, _ in table})
        row_width = max(len(title), *(len(r) for r in rows))
        columns = [max(len(t), 9) for t in technologies]
        lines.append(f"  By {title}:")
        lines.append(
            f"  {title:<{row_width}}  "
            + "  ".join(f"{t:>{w}}" for t, w in zip(technologies, columns, strict=True))
        )
        for row in rows:
            cells = (f"{table[(row, t)]:>{w},}" for t, w in zip(technologies, columns, strict=True))
            lines.append(f"  {row:<{row_width}}  " + "  ".join(cells))
    return lines
