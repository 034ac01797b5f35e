"""Fixtures of the reports tests: a small cast of agencies and operators, and a query maker."""

from datetime import date

import pytest
from django.conf import settings
from django.test import Client

from audit.models import Technology
from tests.factories import AgencyFactory, CertificationFactory, OperatorFactory
from tests.reports.helpers import QueryMaker

UNITS = {
    "B4242": "RTCC",
    "B5150": "Homicide",
    "B6001": 'Crime Analysis, "Special" & Co',  # CSV quoting and HTML escaping
    "S900": "RTCC",
}


@pytest.fixture(autouse=True)
def _birmingham_time():
    # Local dates, hours and staffed hours below are Birmingham's.
    assert settings.TIME_ZONE == "America/Chicago"


@pytest.fixture
def cast(home_agency):
    """Partner agencies and operators in three units, certified on every technology."""
    AgencyFactory(code="MGM", name="Montgomery Police Department")
    AgencyFactory(code="ALEA", name="Alabama Law Enforcement Agency", kind="state")
    operators = {}
    for badge, unit in UNITS.items():
        operators[badge] = OperatorFactory(
            badge_number=badge, agency=home_agency, unit=unit, is_supervisor=badge == "S900"
        )
        for technology in Technology.objects.all():
            CertificationFactory(
                operator=operators[badge], technology=technology, certified_on=date(2020, 1, 1)
            )
    return operators


@pytest.fixture
def maker(integration, cast) -> QueryMaker:
    return QueryMaker(integration)


@pytest.fixture
def client_for(users):
    def _client(role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(users[role])
        return client

    return _client


@pytest.fixture
def council(client_for) -> Client:
    return client_for("council")
