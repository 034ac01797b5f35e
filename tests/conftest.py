"""Shared fixtures: reference data, integrations with keys, API clients, transactional log DBs."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import translation
from rest_framework.test import APIClient

from audit.log.db import create_append_only_triggers, drop_append_only_triggers
from audit.log.reference import install_reference_data, install_spanish_text
from audit.models import LogState, Technology
from portal.roles import ROLES
from tests.factories import AgencyFactory, IntegrationFactory


@pytest.fixture(autouse=True)
def _english_by_default():
    """A request in Spanish activates Spanish in the test's thread; later tests start in English."""
    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def _witness_file(settings, tmp_path, monkeypatch):
    """Each test keeps its published heads' witness file to itself, as it does its database;
    so do the servers and commands it starts (they inherit the environment)."""
    settings.SIGHTLINE_WITNESS_FILE = tmp_path / "latest-tree-head.json"
    monkeypatch.setenv("SIGHTLINE_WITNESS_FILE", str(settings.SIGHTLINE_WITNESS_FILE))


@pytest.fixture
def users(db):
    """One user per role (and a superuser, and a user with no role)."""
    User = get_user_model()

    def make(username, group=None, **extra):
        user = User.objects.create_user(username=username, password="not-used-9x", **extra)
        if group:
            user.groups.add(Group.objects.get(name=group))
        return user

    return {
        "council": make("council-user", "council"),
        "auditor": make("auditor-user", "auditor"),
        "administrator": make("admin-user", "administrator", is_staff=True),
        "superuser": User.objects.create_superuser("super-user", "super@example.org", "x-9-y"),
        "no_role": make("plain-user"),
    }


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


@pytest.fixture(scope="session", autouse=True)
def _flushable_append_only_tables():
    """Let Django's flush (after each transactional test) empty the append-only tables.

    Dropping the triggers is deliberate DDL, the only way past them; they are put back, with
    the rows migrations create, as soon as the flush is done.
    """
    original = flush.Command.handle

    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        drop_append_only_triggers(connection)
        try:
            return original(self, **options)
        finally:
            create_append_only_triggers(connection)
            install_reference_data(Technology, LogState)
            install_spanish_text(Technology)
            for name in ROLES:
                Group.objects.get_or_create(name=name)

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture
def log_db(transactional_db):
    """A committed (transactional) database, for threads, subprocesses and live servers."""
