"""What a vendor's cell means in the log's terms: case numbers, query types, scope, row keys."""

import hashlib
import re

# Case numbers officers type when the form demands one and they have none.
CASE_PLACEHOLDERS = frozenset(
    {
        "n/a", "na", "n.a.", "none", "null", "nil", "nothing", "?", "??", "unknown", "unk",
        "tbd", "tba", "pending", "no", "no case", "nocase", "no case #", "no case#",
        "no case number", "not applicable", "not available", "other - not applicable",
        "other", "see notes", "see narrative", "no report", "none given", "blank", "empty",
    }
)  # fmt: skip
# Dashes, dots, zeros, x's and the like with nothing else: "-", "000", "xx-xxx", "#".
_ONLY_FILLER = re.compile("[\\s0xX*#._/\\\\\\-\u2014\u2013]*")


def case_number(value: str) -> str:
    """The case number as written, or "" when it is a placeholder standing for none."""
    text = value.strip()
    if _ONLY_FILLER.fullmatch(text) or " ".join(text.lower().split()) in CASE_PLACEHOLDERS:
        return ""
    return text[:64]


def count(value) -> int | None:
    """A reach figure such as "1,500" or "12 networks"; None when blank or not a number."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    if value.isdigit():
        return int(value)
    digits = re.match(r"\s*(\d[\d,]*)", str(value))
    if digits is None:
        return None
    return int(digits.group(1).replace(",", ""))


class ScopeRule:
    """Whose data a search reached, from how many networks it searched.

    One network (or none stated) is the agency's own: local. A few is regional sharing; from
    `national_from` networks on (Flock's nationwide lookups reach well over a thousand), it is
    national. A search type that names its reach ("National Lookup") decides first.
    """

    def __init__(self, *, regional_from: int = 2, national_from: int = 100):
        self.regional_from = regional_from
        self.national_from = national_from

    def scope(self, networks: int | None, search_type: str = "") -> str:
        kind = search_type.lower()
        if "national" in kind or "nationwide" in kind:
            return "national"
        if networks is not None and networks >= self.national_from:
            return "national"
        if "statewide" in kind or "state lookup" in kind:
            return "regional"
        if networks is not None and networks >= self.regional_from:
            return "regional"
        return "local"


_PARTIAL = re.compile(r"[*?_%]")


def is_partial_plate(plate: str) -> bool:
    return _PARTIAL.search(plate) is not None


def flock_query_type(search_type: str, plate: str) -> str:
    """The license-plate-reader query type of a Flock search.

    Flock's tools: Search (filters and optionally a full or partial plate), Lookup (a full
    plate across statewide or national networks), Visual Search and Convoy (vehicles found by
    likeness or company, no plate typed). Any other type is read from the plate itself.
    """
    kind = search_type.strip().lower()
    plate = plate.strip()
    if "visual" in kind or "convoy" in kind or "attribute" in kind:
        return "vehicle-attribute-search"
    if "hotlist" in kind or "hot list" in kind or "alert" in kind:
        return "hotlist-alert"
    if not plate:
        return "vehicle-attribute-search"
    if is_partial_plate(plate) or "partial" in kind:
        return "partial-plate-search"
    return "plate-search"


def row_hash(parts: list[str]) -> str:
    """The key of a row that carries no vendor ID: SHA-256 of its cells (target already
    fingerprinted, so the key reveals nothing of the plate), hex."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)
    return digest.hexdigest()


class RepeatFinder:
    """First pass over a file: which row keys may occur more than once in it.

    Rows without a vendor ID are keyed by their content, so two identical searches in one
    file (same minute, same plate, same officer) share a key; the second must become "#2" so
    that it is kept, while the same row in an overlapping file still maps to the same key.
    A fixed-size Bloom filter keeps memory flat whatever the file's length: a key whose bits
    are all set already is a suspect, counted exactly on the second pass.
    """

    BITS = 1 << 26  # 8 MB; about 1 false suspect in 10,000 rows at a million rows

    def __init__(self):
        self._bits = bytearray(self.BITS // 8)
        self.suspects: set[str] = set()

    def _positions(self, key: str) -> tuple[int, int, int]:
        digest = hashlib.blake2b(key.encode(), digest_size=12).digest()
        mask = self.BITS - 1
        return (
            int.from_bytes(digest[0:4], "big") & mask,
            int.from_bytes(digest[4:8], "big") & mask,
            int.from_bytes(digest[8:12], "big") & mask,
        )

    def see(self, key: str) -> None:
        bits = self._bits
        seen = True
        for position in self._positions(key):
            byte, bit = position >> 3, 1 << (position & 7)
            if not bits[byte] & bit:
                seen = False
                bits[byte] |= bit
        if seen:
            self.suspects.add(key)


class RepeatNumbering:
    """Second pass: the key each row is kept under ("key", then "key#2", "key#3"...)."""

    def __init__(self, suspects: set[str]):
        self._counts = dict.fromkeys(suspects, 0)

    def key(self, key: str) -> str:
        count = self._counts.get(key)
        if count is None:
            return key
        count += 1
        self._counts[key] = count
        return key if count == 1 else f"{key}#{count}"
