"""Demo data for vendor imports (`manage.py seed_demo`): a Flock search audit of the demo
center's last four weeks, part of which the RTCC console also logged, imported like any export.

The export is shaped like the ones agencies release: the ten Flock columns, a byte order mark,
Windows line ends, 12-hour times with a zone name, case numbers often placeholders, reasons
often vague, nationwide lookups, and a few searches by a partner agency nobody mapped. About
60% of the city's searches were also posted by the RTCC console a minute or two off the vendor's
clock (they match); the rest are recorded as not logged by the RTCC, and the center's other
license-plate searches of those weeks show as missing from the vendor's log.
"""

import csv
import io
import random
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from audit.imports import services
from audit.imports.formats import FLOCK, FLOCK_TECHNOLOGY
from audit.imports.models import AgencyAlias
from audit.imports.normalize import ScopeRule, case_number, flock_query_type
from audit.log.parsing import QueryInput, fingerprint_target
from audit.log.services import record_queries
from audit.models import Integration, Operator

HEADER = ["ID", "Name", "Org Name", "Total Networks Searched", "License Plate", "Reason",
          "Case #", "Filters", "Search Time", "Search Type"]  # fmt: skip
VENDOR_NAME = "Birmingham AL PD"  # how Flock names the city's organisation
PARTNER = "Hoover Police Dept"  # a partner agency searching through the city's cameras
REASONS = [
    ("Armed robbery at a gas station on 3rd Ave N, suspect vehicle", "120"),
    ("Stolen vehicle reported from Five Points South", "240"),
    ("Burglary of a residence in Ensley, witness saw the car", "220"),
    ("Carjacking near the Arlington exit of I-20", "120"),
    ("Hit and run on Green Springs Hwy, vehicle left the scene", "13A"),
    ("investigation", "240"),
    ("Other - Not Applicable", "240"),
]
PLACEHOLDERS = ["N/A", "none", "-", "0", "unknown", ""]
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
LOGGED_SHARE = 0.6
DAYS = 28


def seed_vendor_import(
    rng: random.Random, *, integration: Integration, count: int, today: date
) -> services.ImportResult:
    """Log part of a demo Flock export through `integration` (the RTCC console), then import the
    whole export for the console's agency; returns what the import did."""
    agency = integration.agency
    AgencyAlias.objects.get_or_create(name=VENDOR_NAME, defaults={"agency": agency})
    operators = list(
        Operator.objects.filter(agency=agency, technologies__slug=FLOCK_TECHNOLOGY).values_list(
            "badge_number", "name"
        )
    )
    tz = timezone.get_default_timezone()
    # The export runs to 17:00 of `today`, or to now if that is earlier: none of its searches
    # (nor the console's record of them) happened after the demo was loaded.
    end = min(datetime.combine(today, time(17), tzinfo=tz), timezone.now())
    start = end - timedelta(days=DAYS)
    plates = [
        f"{rng.randint(1, 67)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}{rng.randint(100, 999)}"
        for _ in range(max(count // 3, 1))
    ]
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    logged: list[QueryInput] = []
    for n in range(count):
        moment = (start + (end - start) * (n + rng.random()) / count).astimezone(tz)
        badge, name = rng.choice(operators)
        roll = rng.random()
        org = PARTNER if roll < 0.04 else VENDOR_NAME
        search_type, networks = ("Lookup", rng.randint(1200, 1700)) if roll > 0.9 else ("Search", 1)
        plate = rng.choice(plates)
        reason, offense = rng.choice(REASONS)
        written_case = (
            rng.choice(PLACEHOLDERS)
            if rng.random() < 0.3
            else f"BPD-{moment.year}-{rng.randint(1, 99999):06d}"
        )
        written_time = f"{moment:%m/%d/%Y %I:%M:%S %p} {moment.tzname()}"
        writer.writerow([f"demo-{n:06d}", name, org, networks, plate, reason, written_case, "",
                         written_time, search_type])  # fmt: skip
        if org == VENDOR_NAME and rng.random() < LOGGED_SHARE:
            logged.append(
                QueryInput(
                    technology=FLOCK_TECHNOLOGY,
                    query_type=flock_query_type(search_type, plate),
                    occurred_at=min(moment + timedelta(seconds=rng.randint(-120, 120)), end),
                    operator=badge,
                    target_fingerprint=fingerprint_target(FLOCK_TECHNOLOGY, plate),
                    offense_code=offense,
                    justification=reason,
                    case_number=case_number(written_case),
                    supervisor="",
                    requesting_agency=agency.code,
                    on_behalf_of="",
                    scope=ScopeRule().scope(networks, search_type),  # as the import reads it
                    result_count=None,
                    client_ref=f"demo-console-{n:06d}",
                )
            )
    if logged:
        record_queries(integration=integration, queries=logged)
    spec = services.export_spec(fmt=FLOCK, agency_code=agency.code)
    binary = io.BytesIO(text.getvalue().encode("utf-8-sig"))
    return services.import_export(
        binary=binary, file_name="flock-search-audit-demo.csv", spec=spec, via="demo data"
    )
