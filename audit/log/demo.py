"""Deterministic, realistic demo data for the query log of a Birmingham-like Real Time Crime Center.

Queries go through `services.record_queries`, the same recording service the API uses, so demo
entries are real, verifiable log entries.
"""

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.log import services
from audit.log.parsing import QueryInput, fingerprint_target
from audit.models import Agency, Certification, Integration, Operator, QueryLogEntry, Technology

# Queries gathered before recording: one transaction per agency per flush.
BATCH = 5000

AGENCIES = [
    # code, name, kind, is_home
    ("BPD", "Birmingham Police Department", Agency.Kind.MUNICIPAL, True),
    ("MPD", "Montgomery Police Department", Agency.Kind.MUNICIPAL, False),
    ("HPD", "Huntsville Police Department", Agency.Kind.MUNICIPAL, False),
    ("MOPD", "Mobile Police Department", Agency.Kind.MUNICIPAL, False),
    ("ALEA", "Alabama Law Enforcement Agency", Agency.Kind.STATE, False),
    ("FTF", "Federal Violent Crime Task Force", Agency.Kind.FEDERAL, False),
]

BPD_UNITS = [
    ("RTCC Analysts - Day", 14),
    ("RTCC Analysts - Evening", 12),
    ("Homicide Unit", 6),
    ("Robbery Unit", 5),
    ("Auto Theft Task Force", 4),
    ("Crime Gun Intelligence Center", 5),
    ("RTCC Supervisors", 4),
]
PARTNER_OPERATORS = {"MPD": 3, "HPD": 2, "MOPD": 2, "ALEA": 2, "FTF": 2}

FIRST = """
James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy
Matthew Betty Anthony Sandra Mark Ashley Donald Kimberly Steven Emily Andrew Donna Paul
Michelle Joshua Carol Kenneth Amanda Kevin Melissa Brian Deborah Timothy Stephanie
Ronald Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Dorothy Gary Amy Nicholas
Kathleen
""".split()
LAST = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark
Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter
Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris
Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Howard Ward Cox Richardson
Wood Watson Brooks
""".split()

# technology: (share of queries, query types with weights, offense codes with weights)
MIX = {
    "license-plate-reader": (
        0.70,
        {
            "plate-search": 55,
            "partial-plate-search": 15,
            "vehicle-attribute-search": 10,
            "hotlist-alert": 20,
        },
        {
            "240": 22,
            "120": 14,
            "13A": 14,
            "09A": 7,
            "23F": 8,
            "23H": 6,
            "220": 7,
            "100": 1,
            "35A": 4,
            "520": 5,
            "90Z": 4,
            "": 8,
        },
    ),
    "face-recognition": (
        0.18,
        {"photo-probe": 70, "video-still-probe": 30},
        {"09A": 14, "120": 22, "13A": 20, "26F": 9, "23C": 8, "11A": 5, "100": 2, "220": 6, "": 4},
    ),
    "nibin": (
        0.12,
        {"casing-correlation": 80, "firearm-trace": 20},
        {"13A": 45, "09A": 25, "520": 22, "120": 8},
    ),
}

PLACES = [
    "a gas station on 3rd Avenue North",
    "the Five Points South area",
    "a convenience store in Ensley",
    "an apartment complex in Woodlawn",
    "a parking deck downtown",
    "a pharmacy in East Lake",
    "a bus stop on Bessemer Road",
    "a residence in Norwood",
    "a shopping center in Roebuck",
    "the Crestwood North neighborhood",
]
SPECIFIC = {
    "240": "Stolen vehicle reported from {place}; searching plate for recent camera reads",
    "120": "Armed robbery at {place}; suspect vehicle described by two witnesses",
    "13A": "Aggravated assault near {place}; victim identified the vehicle that fled",
    "09A": "Homicide at {place}; locating vehicle seen on surveillance video before the shooting",
    "23F": "Break-ins to several vehicles at {place}; same vehicle seen on video each time",
    "23H": "Theft of a trailer from {place}; owner supplied the plate of the tow vehicle",
    "220": "Residential burglary at {place}; neighbor's camera captured the suspect vehicle",
    "100": "Child abduction alert issued; vehicle last seen near {place}",
    "35A": "Narcotics sales complaint at {place}; vehicle linked by confidential informant",
    "520": "Shots fired at {place}; casings recovered, checking for links to earlier shootings",
    "90Z": "Warrant service: locate vehicle registered to subject wanted for felony at {place}",
    "26F": "Identity theft: suspect used victim's cards at {place}, store video still submitted",
    "23C": "Repeat shoplifting at {place}; store video still of suspect submitted",
    "11A": "Sexual assault reported near {place}; doorbell camera image of suspect",
    "": "Vehicle of interest seen at {place}; details in incident report",
}
VAGUE = ["investigation", "suspicious", "other", "n/a", "Investigation.", "suspicious vehicle"]
DISALLOWED = [
    "Identify people at the protest march downtown",
    "Immigration status check requested by federal partner",
    "Vehicles seen outside the reproductive health clinic",
]
OUTCOME_RATES = {
    # technology: [(outcome, probability)]; arrests etc. follow leads.
    "face-recognition": [("lead", 0.34), ("no-match", 0.38), ("false-match", 0.03)],
    "license-plate-reader": [("lead", 0.22), ("no-match", 0.30), ("not-used", 0.05)],
    "nibin": [("lead", 0.28), ("no-match", 0.40)],
}


def _weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


@transaction.atomic
def seed_reference_data(rng: random.Random, *, today: date) -> dict[str, Integration]:
    """Agencies, operators with certifications, and one integration per agency."""
    agencies = {}
    for code, name, kind, is_home in AGENCIES:
        agencies[code], _ = Agency.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "is_home": is_home}
        )
    technologies = {t.slug: t for t in Technology.objects.all()}
    badge = 4100
    names = set()

    def new_operator(agency: Agency, unit: str, supervisor: bool) -> Operator:
        nonlocal badge
        badge += rng.randint(1, 37)
        while True:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            if name not in names:
                names.add(name)
                break
        prefix = "B" if agency.code == "BPD" else agency.code[:2]
        return Operator.objects.create(
            badge_number=f"{prefix}{badge}",
            name=name,
            unit=unit,
            agency=agency,
            is_supervisor=supervisor,
        )

    for unit, count in BPD_UNITS:
        for _ in range(count):
            operator = new_operator(agencies["BPD"], unit, supervisor=unit == "RTCC Supervisors")
            for slug in _certified_for(unit):
                # A few analysts are still waiting for their face-recognition certification.
                if slug == "face-recognition" and rng.random() < 0.08:
                    continue
                Certification.objects.create(
                    operator=operator,
                    technology=technologies[slug],
                    certified_on=today - timedelta(days=rng.randint(800, 1400)),
                )
    for code, count in PARTNER_OPERATORS.items():
        for _ in range(count):
            operator = new_operator(agencies[code], f"{code} investigations", supervisor=False)
            Certification.objects.create(
                operator=operator,
                technology=technologies["license-plate-reader"],
                certified_on=today - timedelta(days=rng.randint(800, 1400)),
            )

    integrations = {}
    for code, agency in agencies.items():
        name = "RTCC console" if code == "BPD" else f"{code} shared-access connector"
        integrations[code], _ = services.create_integration(agency=agency, name=name)
    return integrations


def _certified_for(unit: str) -> list[str]:
    if unit == "Crime Gun Intelligence Center":
        return ["nibin", "license-plate-reader"]
    if unit.startswith("RTCC"):
        return ["license-plate-reader", "face-recognition", "nibin"]
    return ["license-plate-reader", "face-recognition"]


def _local_moment(
    rng: random.Random, day: date, tz: ZoneInfo, until: datetime | None = None
) -> datetime:
    """A moment of `day` in the center's busy hours; on the day of `until`, before `until`."""
    # Busy hours inside the 19 staffed hours (05:00-24:00); about 2% happen overnight.
    overnight = rng.random() < 0.02
    hour = rng.randint(0, 4) if overnight else min(23, max(5, int(rng.gauss(14.5, 4.2))))
    moment = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=tz)
    if until is not None and moment >= until:
        # Today's searches happened so far today: the day's hours shrink to the part gone by.
        midnight = datetime.combine(day, time(0), tzinfo=tz)
        moment = midnight + (moment - midnight) * ((until - midnight) / timedelta(days=1))
    return moment.astimezone(UTC)


class _QueryMaker:
    """Makes realistic queries for a day: mostly routine, sometimes a policy problem."""

    def __init__(self, rng: random.Random, count: int, until: datetime | None = None):
        self.rng = rng
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.until = until
        by_agency: dict[str, list[Operator]] = {}
        for operator in Operator.objects.select_related("agency").order_by("badge_number"):
            by_agency.setdefault(operator.agency.code, []).append(operator)
        bpd = by_agency["BPD"]
        fr_units = {"RTCC Analysts - Day", "RTCC Analysts - Evening", "Homicide Unit"}
        self.by_agency = {code: [op.badge_number for op in ops] for code, ops in by_agency.items()}
        self.supervisors = [op.badge_number for op in bpd if op.is_supervisor]
        self.operators = {
            "face-recognition": [op.badge_number for op in bpd if op.unit in fr_units],
            "nibin": [op.badge_number for op in bpd if op.unit == "Crime Gun Intelligence Center"],
            "license-plate-reader": [op.badge_number for op in bpd if not op.is_supervisor],
        }
        self.slugs = list(MIX)
        self.shares = [MIX[s][0] for s in self.slugs]
        self.plates = [_plate(rng) for _ in range(max(50, count // 20))]

    def routine(self, day: date) -> tuple[str, QueryInput]:
        rng = self.rng
        slug = rng.choices(self.slugs, weights=self.shares)[0]
        _, types, offenses = MIX[slug]
        agency = "BPD"
        if slug == "license-plate-reader" and rng.random() < 0.07:
            agency = rng.choice(list(PARTNER_OPERATORS))
        operator = rng.choice(self.by_agency[agency] if agency != "BPD" else self.operators[slug])
        if rng.random() < 0.002:
            operator = f"T{rng.randint(100, 999)}"  # a temporary badge nobody registered
        offense = _weighted(rng, offenses)
        roll = rng.random()
        if roll < 0.003:
            justification, offense = rng.choice(DISALLOWED), ""
        elif roll < 0.05:
            justification = rng.choice(VAGUE)
        elif roll < 0.07:
            justification = ""
        else:
            justification = SPECIFIC.get(offense, SPECIFIC[""]).format(place=rng.choice(PLACES))
        case_number = "" if rng.random() < 0.07 else self._case(agency, day)
        supervisor = ""
        if (slug == "face-recognition" and rng.random() < 0.93) or rng.random() < 0.1:
            supervisor = rng.choice(self.supervisors)
        on_behalf_of = ""
        if agency == "BPD" and rng.random() < 0.035:
            on_behalf_of = rng.choice(["JCSO", "Hoover Police Department", "USMS", "ALEA", "MPD"])
        requesting = agency
        if agency != "BPD" and rng.random() < 0.02:
            requesting = "JCSO"  # a county office with shared access that was never registered
        if slug == "nibin":
            target = f"NIBIN-{rng.randint(10**7, 10**8 - 1)}" if rng.random() < 0.6 else None
            scope = "national" if rng.random() < 0.35 else "regional"
        elif slug == "face-recognition":
            target = f"{rng.getrandbits(256):064x}"
            scope = "local" if rng.random() < 0.85 else "regional"
        else:
            target = rng.choice(self.plates)
            scope = "local" if rng.random() < 0.8 else "regional"
        return agency, self._query(
            slug, _weighted(rng, types), day, operator, target, offense, justification,
            case_number, supervisor, requesting, on_behalf_of, scope,
        )  # fmt: skip

    def busy_day(self, day: date) -> list[tuple[str, QueryInput]]:
        """One analyst running far more plate searches in a day than the policy expects."""
        operator = self.rng.choice(self.operators["license-plate-reader"])
        return [
            ("BPD", self._plate_search(day, operator, self.rng.choice(self.plates)))
            for _ in range(72)
        ]

    def fixation(self, day: date) -> list[tuple[int, QueryInput]]:
        """One operator searching the same plate again and again over six days, without a case.

        Returns (days after `day`, query) pairs.
        """
        operator = self.rng.choice(self.operators["license-plate-reader"])
        plate = _plate(self.rng)
        return [
            (i % 6, self._plate_search(day + timedelta(days=i % 6), operator, plate, case=""))
            for i in range(8)
        ]

    def _plate_search(self, day, operator, plate, case=None) -> QueryInput:
        return self._query(
            "license-plate-reader", "plate-search", day, operator, plate, "",
            self.rng.choice(VAGUE), self._case("BPD", day) if case is None else case, "", "BPD",
            "", "local",
        )  # fmt: skip

    def _case(self, agency: str, day: date) -> str:
        return f"{agency}-{day.year}-{self.rng.randint(1, 48000):06d}"

    def _query(self, slug, query_type, day, operator, target, offense, justification,
               case_number, supervisor, agency, on_behalf_of, scope) -> QueryInput:  # fmt: skip
        rng = self.rng
        return QueryInput(
            technology=slug,
            query_type=query_type,
            occurred_at=_local_moment(rng, day, self.tz, self.until),
            operator=operator,
            target_fingerprint=fingerprint_target(slug, target) if target else "",
            offense_code=offense,
            justification=justification,
            case_number=case_number,
            supervisor=supervisor,
            requesting_agency=agency,
            on_behalf_of=on_behalf_of,
            scope=scope,
            result_count=rng.randint(0, 40) if slug != "nibin" else rng.randint(0, 5),
            client_ref=None,
        )


def generate_queries(
    rng: random.Random, *, count: int, start: date, end: date, until: datetime | None = None
) -> Iterator[tuple[str, QueryInput]]:
    """Yield (agency code, QueryInput) in time order, exactly `count` over [start, end], none
    at or after `until` (a moment of `end`, or after it)."""
    maker = _QueryMaker(rng, count, until)
    days = (end - start).days + 1
    # A few problem episodes, in proportion to the size of the demo.
    episodes = max(1, count // 20_000)
    busy_days = set(rng.sample(range(days), min(days, episodes)))
    fixation_days = set(rng.sample(range(days - 6), min(days - 6, episodes)))
    emitted = 0
    planned: dict[int, list[tuple[str, QueryInput]]] = {}  # day offset -> episode queries
    for offset in range(days):
        day = start + timedelta(days=offset)
        # Usage grew over the two years as the center added cameras: daily volume rises
        # linearly from 0.7x to 1.3x the average (cumulative share 0.7t + 0.3t^2).
        elapsed = (offset + 1) / days
        target_total = round(count * (0.7 * elapsed + 0.3 * elapsed * elapsed))
        if offset in busy_days:
            planned.setdefault(offset, []).extend(maker.busy_day(day))
        if offset in fixation_days:
            for later, query in maker.fixation(day):
                planned.setdefault(offset + later, []).append(("BPD", query))
        todays = planned.pop(offset, [])[: target_total - emitted]
        todays.extend(maker.routine(day) for _ in range(target_total - emitted - len(todays)))
        todays.sort(key=lambda pair: pair[1].occurred_at)
        yield from todays
        emitted = target_total


def _plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return f"{rng.randint(1, 67)}{rng.choice(letters)}{rng.choice(letters)}{rng.randint(100, 999)}"


def seed_queries(
    rng: random.Random,
    *,
    integrations: dict[str, Integration],
    count: int,
    today: date,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Record `count` queries over the two years up to `today`, in batches; returns count.
    None happened after the moment they are recorded: today's are before it."""
    start = today - timedelta(days=730)
    until = timezone.now()
    batch: dict[str, list[QueryInput]] = {}
    pending = 0
    recorded = 0

    def flush():
        nonlocal pending, recorded
        for code, queries in batch.items():
            if queries:
                services.record_queries(integration=integrations[code], queries=queries)
                recorded += len(queries)
                progress(len(queries))
        batch.clear()
        pending = 0

    for code, query in generate_queries(rng, count=count, start=start, end=today, until=until):
        batch.setdefault(code, []).append(query)
        pending += 1
        if pending >= BATCH:
            flush()
    flush()
    return recorded


def seed_outcomes(rng: random.Random, *, integrations: dict[str, Integration]) -> int:
    """Outcomes for recorded queries: leads, no-matches, false matches, then arrests and more."""
    by_agency = {i.agency_id: i for i in integrations.values()}
    rows = QueryLogEntry.objects.order_by("sequence").values_list(
        "sequence", "technology", "integration__agency_id"
    )
    planned: list[services.OutcomeInput] = []
    for sequence, slug, agency_id in rows.iterator(chunk_size=5000):
        roll = rng.random()
        cumulative = 0.0
        for outcome, probability in OUTCOME_RATES[slug]:
            cumulative += probability
            if roll < cumulative:
                integration = by_agency[agency_id]
                planned.append(services.OutcomeInput(sequence, outcome, integration))
                if outcome == "lead" and rng.random() < 0.35:
                    for follow_up, chance in (("arrest", 1.0), ("charged", 0.7), ("cleared", 0.5)):
                        if rng.random() < chance:
                            planned.append(services.OutcomeInput(sequence, follow_up, integration))
                break
    for start in range(0, len(planned), 5000):
        services.record_outcomes(outcomes=planned[start : start + 5000])
    return len(planned)
