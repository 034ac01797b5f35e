"""Shared fixtures: reference data, integrations with keys, API clients, transactional log DBs."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient

from audit.db import create_append_only_triggers, drop_append_only_triggers
from audit.models import LogState, Technology
from audit.reference import install_reference_data
from portal.roles import ROLES
from tests.factories import AgencyFactory, IntegrationFactory


@pytest.fixture
def home_agency(db):
    return AgencyFactory(code="BPD", name="Birmingham Police Department", is_home=True)


@pytest.fixture
def integration_and_key(home_agency):
    return IntegrationFactory.create_with_key(agency=home_agency)


@pytest.fixture
def integration(integration_and_key):
    return integration_and_key[0]


@pytest.fixture
def api_client(integration_and_key):
    """An API client that sends the integration's key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {integration_and_key[1]}")
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def _restore_reference_data():
    """After a transactional test's flush, put back triggers and migration-made rows."""
    yield
    create_append_only_triggers(connection)
    install_reference_data(Technology, LogState)
    for name in ROLES:
        Group.objects.get_or_create(name=name)


@pytest.fixture
def log_db(_restore_reference_data, transactional_db):
    """A committed (transactional) database whose append-only tables can be flushed after.

    Dropping the triggers before Django's flush is deliberate DDL, the only way past them.
    """
    yield
    drop_append_only_triggers(connection)
