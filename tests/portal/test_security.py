"""Security promises of the site shell: headers, cookies, CSRF, login throttling, hashed keys."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client

from audit.models import Integration
from portal.roles import AUDITOR, COUNCIL

PASSWORD = "a-long-test-password-1"


@pytest.fixture
def users(db):
    made = {}
    for name, group in (("council", COUNCIL), ("auditor", AUDITOR)):
        user = User.objects.create_user(name, password=PASSWORD)
        user.groups.add(Group.objects.get(name=group))
        made[name] = user
    return made


def _directives(header: str) -> dict[str, list[str]]:
    parts = (p.strip().split() for p in header.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/"),
        (None, "/technologies/nibin/"),
        (None, "/spending/"),
        (None, "/open-data/"),
        (None, "/open-data/spending.csv"),
        (None, "/log/"),
        (None, "/api/v1/log/public-key"),
        ("council", "/reports/"),
        ("auditor", "/audit/"),
        ("auditor", "/api/v1/queries/"),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(client, users, who, path):
    if who:
        client.force_login(users[who])
    response = client.get(path, secure=True)
    assert response.status_code == 200
    _assert_security_headers(response)


def test_a_cached_public_page_carries_the_security_headers_too(client, db):
    cache.clear()
    assert client.get("/", secure=True)["X-Page-Cache"] == "miss"
    response = client.get("/", secure=True)
    assert response["X-Page-Cache"] == "hit"
    _assert_security_headers(response)
    # plotly's own two <style> elements are allowed by hash, nothing else inline.
    assert "'sha256-" in response["Content-Security-Policy"]


def _assert_security_headers(response):
    csp = _directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["style-src"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_session_and_csrf_cookies_are_secure_and_http_only(client, users):
    client.get("/accounts/login/", secure=True)
    response = client.post(
        "/accounts/login/", {"username": "auditor", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["max-age"] == 8 * 60 * 60  # staff sessions end after a working day


def test_login_without_a_csrf_token_is_refused(users):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "auditor", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session


def test_repeated_failed_logins_lock_the_account_out(client, users):
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "auditor", "password": "wrong"})
    assert response.status_code == 429
    assert b"Too many failed log-in attempts" in response.content
    # Even the right password is refused while locked out.
    response = client.post("/accounts/login/", {"username": "auditor", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_api_keys_are_stored_only_hashed(integration_and_key):
    integration, key = integration_and_key
    stored = Integration.objects.get(pk=integration.pk)
    secret = key.partition(".")[2]
    assert secret not in stored.hashed_key
    assert secret not in stored.pk
    assert stored.is_valid(key)


@pytest.mark.parametrize(
    "changelist",
    [
        "/admin/audit/agency/",
        "/admin/audit/integration/",
        "/admin/audit/keyrefusal/",
        "/admin/reports/vendor/",
        "/admin/auth/user/",
        "/admin/otp_totp/totpdevice/",
    ],
)
def test_the_administrator_role_may_maintain_the_administered_models(db, changelist):
    """The role's permissions are granted by migrate itself (a fresh test database here)."""
    admin_user = User.objects.create_user("role-admin", password=PASSWORD, is_staff=True)
    admin_user.groups.add(Group.objects.get(name="administrator"))
    client = Client()
    client.force_login(admin_user)
    assert client.get(changelist).status_code == 200
