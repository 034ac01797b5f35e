"""schemathesis over /api/schema/: no 5xx and every response as documented, with and without
an integration key (bounded, so it runs on every CI run)."""

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)


@schemathesis.check
def content_type_of_api_responses(ctx, response, case):
    """The documented Content-Type, for every path the API routes.

    A generated path that no route matches (a sequence of "null,null") gets the site's own HTML
    404 page: it is not an API response, so only the status code is checked for it.
    """
    try:
        resolve(case.formatted_path)
    except Resolver404:
        assert response.status_code == 404
        return None
    return content_type_conformance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_of_api_responses,
    response_headers_conformance,
    response_schema_conformance,
]
BOUNDED = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# Loaded once, at collection: the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


@pytest.fixture(autouse=True)
def _requests_share_the_test_transaction(db):
    """Like Django's test client, requests must not close the connection when they finish, or
    the test's transaction would go with it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    cache.clear()  # no throttle counts left by other tests
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@BOUNDED
def test_anonymous_requests(case):
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_requests_with_an_integration_key(case, integration_and_key):
    case.call_and_validate(
        checks=CHECKS, headers={"Authorization": f"Api-Key {integration_and_key[1]}"}
    )
