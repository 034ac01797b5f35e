"""Reading the timestamps vendor exports actually contain, into UTC.

Accepted without a format string ("auto"): an ISO date (2026-03-04) or a US date (3/4/2026,
03/04/26, 3-4-2026: month first, as US vendors write it), then a time with or without seconds
(and fractions), in 24-hour or 12-hour form (2:05 PM, 2:05pm, 2:05 p.m.), then optionally a
zone: Z, UTC/GMT, an offset (-06:00, -0600, UTC-6), a US abbreviation (CST, CDT...) or an IANA
name (America/Chicago, also in parentheses). A time without a zone is read in the zone the
importer names (`--timezone`, or the mapping file). Spreadsheet cells that already hold a date
and time are read in that zone too.
"""

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# A vendor clock this far ahead of ours is a broken clock or a wrong zone, not a search.
MAX_AHEAD = timedelta(days=1)

_AUTO = re.compile(
    r"""\s*
    (?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})
      |(?P<m2>\d{1,2})(?P<sep>[/-])(?P<d2>\d{1,2})(?P=sep)(?P<y2>\d{4}|\d{2}))
    (?:[Tt]|\s*,\s*|\s+)
    (?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?
    \s*(?:(?P<ampm>[AaPp]\.?[Mm]\.?)(?![A-Za-z]))?
    \s*(?P<zone>.*?)\s*$""",
    re.VERBOSE,
)
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?")

# US zone abbreviations as exports print them; each names one fixed offset (CDT is -05:00).
ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
}


class TimeProblem(ValueError):
    """The text is not a time this module can read; the message says why, for a person."""


@lru_cache(maxsize=256)
def zone_named(name: str) -> tzinfo:
    """The zone a name stands for (abbreviation, offset or IANA name); TimeProblem if none."""
    text = name.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    upper = text.upper()
    if upper in ABBREVIATIONS:
        hours = ABBREVIATIONS[upper]
        return UTC if hours == 0 else timezone(timedelta(hours=hours), upper)
    match = _OFFSET.fullmatch(upper)
    if match:
        minutes = int(match["h"]) * 60 + int(match["m"] or 0)
        if minutes > 14 * 60:
            raise TimeProblem(f"the UTC offset '{text}' is out of range")
        sign = -1 if match["sign"] == "-" else 1
        return timezone(sign * timedelta(minutes=minutes))
    if "/" in text or text in {"UTC", "Etc/UTC"}:
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise TimeProblem(f"unknown time zone '{text[:40]}'")


def _checked(moment: datetime, now: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    if moment < EARLIEST:
        raise TimeProblem(f"the time {moment:%Y-%m-%d} is before 2000-01-01")
    if moment > now + MAX_AHEAD:
        raise TimeProblem(
            f"the time {moment:%Y-%m-%d %H:%M} UTC is more than a day in the future "
            "(wrong time zone or date order?)"
        )
    return moment


class TimeReader:
    """Reads one export's time column: `fmt` is "auto" or a strptime format; `zone` is the
    zone of times that name none (None: such times are refused)."""

    def __init__(self, *, fmt: str = "auto", zone: tzinfo | None = None, now: datetime):
        self.fmt = fmt
        self.zone = zone
        self.now = now

    def read(self, value) -> datetime:
        """The moment in UTC; raises TimeProblem naming what is wrong with `value`."""
        if isinstance(value, datetime):  # a spreadsheet cell
            return _checked(self._localized(value, "the cell"), self.now)
        if isinstance(value, date):
            raise TimeProblem(f"the cell holds the date {value.isoformat()} without a time")
        text = "" if value is None else str(value).strip()
        if not text:
            raise TimeProblem("the time is empty")
        if self.fmt != "auto":
            try:
                moment = datetime.strptime(text, self.fmt)
            except ValueError:
                raise TimeProblem(
                    f"'{text[:40]}' does not match the time format '{self.fmt}'"
                ) from None
            return _checked(self._localized(moment, f"'{text[:40]}'"), self.now)
        return _checked(self._auto(text), self.now)

    def _localized(self, moment: datetime, what: str) -> datetime:
        if moment.tzinfo is not None:
            return moment
        if self.zone is None:
            raise TimeProblem(f"{what} names no time zone; give the export's zone (--timezone)")
        return moment.replace(tzinfo=self.zone)

    def _auto(self, text: str) -> datetime:
        match = _AUTO.fullmatch(text)
        if match is None:
            raise TimeProblem(f"'{text[:40]}' is not a date and time")
        if match["y"]:
            year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
        else:
            year, month, day = int(match["y2"]), int(match["m2"]), int(match["d2"])
            if year < 100:
                year += 2000
        hour, minute = int(match["H"]), int(match["M"])
        second = int(match["S"] or 0)
        micro = int((match["f"] or "0")[:6].ljust(6, "0"))
        meridiem = match["ampm"]
        if meridiem:
            if not 1 <= hour <= 12:
                raise TimeProblem(f"'{text[:40]}' has hour {hour} with {meridiem}")
            hour = hour % 12 + (12 if meridiem[0] in "Pp" else 0)
        zone_text = match["zone"]
        zone = zone_named(zone_text) if zone_text else self.zone
        if zone is None:
            raise TimeProblem(
                f"'{text[:40]}' names no time zone; give the export's zone (--timezone)"
            )
        try:
            return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        except ValueError as error:
            raise TimeProblem(f"'{text[:40]}' is not a real date and time ({error})") from None
