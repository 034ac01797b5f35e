"""Refused keys are recorded; ingest is rate-limited per key (429) and size-limited (413)."""

import json
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import KeyRefusal, LogState, QueryLogEntry
from tests.factories import IntegrationFactory

URL = "/api/v1/queries/"


def query(n: int = 0) -> dict:
    return {
        "technology": "license-plate-reader",
        "query_type": "plate-search",
        "occurred_at": "2026-03-04T14:05:00-06:00",
        "operator": "B4242",
        "target": f"ABC{n:04d}",
        "case_number": "BPD-2026-001234",
        "justification": "Stolen vehicle report, silver sedan seen near Five Points.",
        "client_ref": f"limits-{n}",
    }


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counts live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


# --- Revoked and expired keys -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason", "message"),
    [
        ({"revoked": True}, "revoked", "This API key has been revoked."),
        ({"expiry_date": timezone.now() - timedelta(minutes=1)}, "expired", "has expired."),
    ],
)
def test_a_refused_key_is_recorded_once_per_use(api_client, integration, change, reason, message):
    for name, value in change.items():
        setattr(integration, name, value)
    integration.save()

    response = api_client.post(URL, query(), format="json", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 401
    assert message in response.json()["detail"]
    assert "This attempt has been recorded" in response.json()["detail"]
    assert QueryLogEntry.objects.count() == 0
    refusal = KeyRefusal.objects.get()
    assert refusal.integration == integration
    assert refusal.reason == reason
    assert (refusal.remote_addr, refusal.method, refusal.path) == ("203.0.113.7", "POST", URL)
    assert timezone.now() - refusal.at < timedelta(minutes=1)

    # Every use counts, on every endpoint that takes a key.
    api_client.post(URL, query(), format="json")
    api_client.post(f"{URL}0/outcomes/", {"outcome": "lead"}, format="json")
    assert KeyRefusal.objects.filter(integration=integration).count() == 3
    assert set(KeyRefusal.objects.values_list("path", flat=True)) == {URL, f"{URL}0/outcomes/"}


def test_a_valid_key_leaves_no_refusal(api_client):
    assert api_client.post(URL, query(), format="json").status_code == 201
    assert not KeyRefusal.objects.exists()


def test_a_wrong_secret_is_not_recorded_as_a_use_of_the_key(anon_client, integration_and_key):
    integration, key = integration_and_key
    integration.revoked = True
    integration.save()
    prefix = key.partition(".")[0]
    response = anon_client.post(
        URL, query(), format="json", HTTP_AUTHORIZATION=f"Api-Key {prefix}.not-the-secret"
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key."
    assert not KeyRefusal.objects.exists()


def test_refusals_are_append_only(api_client, integration):
    integration.revoked = True
    integration.save()
    api_client.post(URL, query(), format="json")
    refusal = KeyRefusal.objects.get()
    with pytest.raises(Exception, match="append-only"):
        refusal.delete()
    with pytest.raises(Exception, match="append-only"):
        KeyRefusal.objects.all().update(reason="expired")


def test_administrators_see_refusals_read_only(api_client, integration, users):
    integration.revoked = True
    integration.save()
    api_client.post(URL, query(), format="json", REMOTE_ADDR="198.51.100.4")
    admin = Client()
    admin.force_login(users["superuser"])

    listing = admin.get("/admin/audit/keyrefusal/")
    assert listing.status_code == 200
    assert "198.51.100.4" in listing.content.decode()
    page = admin.get(f"/admin/audit/integration/{integration.pk}/change/")
    assert page.status_code == 200
    assert "refused uses of this key" in page.content.decode().lower()
    assert "198.51.100.4" in page.content.decode()
    model_admin = site._registry[KeyRefusal]
    request = listing.wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


# --- Rate limit per key -----------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_naming_the_limit(api_client, home_agency, settings):
    settings.SIGHTLINE_INGEST_RATE = "3/min"
    for n in range(3):
        assert api_client.post(URL, query(n), format="json").status_code == 201

    response = api_client.post(URL, query(3), format="json")

    assert response.status_code == 429
    body = response.json()
    assert "3 requests per minute" in body["detail"]
    assert "nothing was recorded" in body["detail"]
    assert body["errors"]["rate"]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert LogState.objects.get(id=1).size == 3
    # Outcomes share the key's budget.
    outcome = api_client.post(f"{URL}0/outcomes/", {"outcome": "lead"}, format="json")
    assert outcome.status_code == 429

    # Another key of the same agency is not slowed down by the first one.
    _, other_key = IntegrationFactory.create_with_key(agency=home_agency, name="second console")
    assert client_with(other_key).post(URL, query(10), format="json").status_code == 201


def test_the_default_rate_is_600_per_minute(settings):
    from audit.api.authentication import IngestRateThrottle, ingest_rate_in_words

    assert settings.SIGHTLINE_INGEST_RATE == "600/min"
    assert IngestRateThrottle().parse_rate(settings.SIGHTLINE_INGEST_RATE) == (600, 60)
    assert ingest_rate_in_words() == "600 requests per minute"


def test_auditors_reading_the_log_are_not_counted(users, settings):
    settings.SIGHTLINE_INGEST_RATE = "1/min"
    auditor = Client()
    auditor.force_login(users["auditor"])
    assert [auditor.get(URL).status_code for _ in range(3)] == [200, 200, 200]


# --- Body size --------------------------------------------------------------------------------


def test_a_body_over_2_mb_is_refused_with_413_and_nothing_written(api_client):
    batch = [dict(query(n), justification="x" * 3000) for n in range(700)]
    body = json.dumps(batch)
    assert len(body) > 2 * 1024 * 1024

    response = api_client.generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "larger than 2 MB" in response.json()["detail"]
    assert QueryLogEntry.objects.count() == 0
    assert LogState.objects.get(id=1).size == 0
