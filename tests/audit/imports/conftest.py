"""Fixtures of the import tests: the agencies and operators the data files name, and helpers
that import a data file through the service and count what the database holds."""

from datetime import datetime

import pytest

from audit.imports import services
from audit.imports.models import AgencyAlias, ImportRow, RowMatch, RowRecording, VendorImport
from tests.audit.imports.helpers import DATA
from tests.audit.queries import CHICAGO, log_snapshot, make_query
from tests.factories import AgencyFactory, OperatorFactory


@pytest.fixture
def known_names(home_agency):
    """BPD under the name its vendor writes, Jane Analyst (B4107) and Sam Sergeant (B4200)."""
    AgencyAlias.objects.create(name="Birmingham AL PD", agency=home_agency)
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office", is_home=False)
    return {
        "jane": OperatorFactory(badge_number="B4107", name="Jane Analyst", agency=home_agency),
        "sam": OperatorFactory(badge_number="B4200", name="Sam Sergeant", agency=home_agency),
        "other": OperatorFactory(badge_number="B5000", name="Pat Other", agency=home_agency),
    }


def run_import(name, *, fmt="flock", mapping="", agency="BPD", zone="", dry_run=False, user=None,
               technology="", directory=DATA):  # fmt: skip
    """Import a file through the service, as the command does; returns the ImportResult."""
    mapping_text = (DATA / mapping).read_bytes() if mapping else b""
    spec = services.export_spec(
        fmt=fmt,
        agency_code=agency,
        technology_slug=technology,
        zone_name=zone,
        mapping_text=mapping_text,
    )
    with open(directory / name, "rb") as binary:
        return services.import_export(
            binary=binary, file_name=name, spec=spec, dry_run=dry_run, user=user
        )


def snapshot() -> tuple:
    """Everything an import writes, counted: equal before and after means nothing written."""
    return (
        VendorImport.objects.count(),
        ImportRow.objects.count(),
        RowMatch.objects.count(),
        RowRecording.objects.count(),
        *log_snapshot(),
    )


def chicago(month, day, hour, minute):
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


@pytest.fixture
def rtcc_log(known_names, record):
    """What the RTCC console logged around flock_standard.csv's searches, by name."""
    names = ["A", "B", "C", "D", "E"]
    sequences = record(
        # A: f-1001's search, logged 1 min 48 s after the vendor's clock.
        make_query(target="ABC 1234", occurred_at=chicago(3, 4, 14, 7), operator="B4107"),
        # B: a search the vendor's export does not show.
        make_query(target="QQQ 111", occurred_at=chicago(3, 5, 10, 0), operator="B4107"),
        # C: f-1002's plate and time, but another operator: not the same search.
        make_query(target="XYZ9876", occurred_at=chicago(3, 4, 14, 21), operator="B5000"),
        # D: f-1005's plate and time, but for another agency (so not in BPD's list either).
        make_query(
            target="DEF 5678",
            occurred_at=chicago(3, 10, 9, 15),
            operator="B4107",
            requesting_agency="JCSO",
        ),
        # E: f-1004's visual search (no plate on either side), three minutes later.
        make_query(
            target=None,
            query_type="vehicle-attribute-search",
            occurred_at=chicago(3, 4, 16, 33),
            operator="B4107",
        ),
    )
    return dict(zip(names, sequences, strict=True))


@pytest.fixture
def operators(known_names):
    return known_names
