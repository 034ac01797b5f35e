"""Two-factor sign-in: off changes nothing; on, auditors and administrators confirm a TOTP code."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.roles import ADMINISTRATOR, AUDITOR, COUNCIL

PASSWORD = "a-long-test-password-2"
SETUP = "/accounts/two-factor/setup/"
VERIFY = "/accounts/two-factor/verify/"


@pytest.fixture
def people(db):
    made = {}
    for name, group, staff in (
        ("council", COUNCIL, False),
        ("auditor", AUDITOR, False),
        ("administrator", ADMINISTRATOR, True),
    ):
        user = User.objects.create_user(name, password=PASSWORD, is_staff=staff)
        user.groups.add(Group.objects.get(name=group))
        made[name] = user
    return made


@pytest.fixture
def required(settings):
    settings.SIGHTLINE_REQUIRE_2FA = True
    # django-otp backs off after a wrong code; the tests that send one check the refusal only.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def log_in(user) -> Client:
    """A client signed in with the password, as the login form does it."""
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def code_of(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, drift=drift):06d}"


def confirmed_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def redirect_path_and_next(response) -> tuple[str, str]:
    assert response.status_code == 302, response.content
    parts = urlsplit(response["Location"])
    return parts.path, parse_qs(parts.query).get("next", [""])[0]


# --- Off (the default) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "path"),
    [("auditor", "/audit/"), ("auditor", "/api/v1/queries/"), ("council", "/reports/")],
)
def test_off_changes_nothing(people, who, path):
    response = log_in(people[who]).get(path)
    assert response.status_code == 200


def test_off_an_administrator_reaches_the_admin_without_a_code(people):
    assert log_in(people["administrator"]).get("/admin/").status_code == 200


# --- On: who is asked and where they are sent -------------------------------------------------


def test_auditor_without_a_device_is_sent_to_set_one_up(people, required):
    client = log_in(people["auditor"])
    path, next_url = redirect_path_and_next(client.get("/audit/?technology=nibin"))
    assert (path, next_url) == (SETUP, "/audit/?technology=nibin")

    page = client.get(SETUP, {"next": next_url})
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=people["auditor"], confirmed=False)
    body = page.content.decode()
    assert device.config_url.replace("&", "&amp;") in body
    assert body.count('src="data:image/svg+xml') == 1  # the QR code, no external image
    secret_shown = re.search(r"<code>([A-Z2-7 ]+)</code>", body).group(1).replace(" ", "")
    assert f"secret={secret_shown}" in device.config_url
    # Opening the page again shows the same secret, not a new device each time.
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=people["auditor"]).count() == 1


def test_setting_up_with_a_correct_code_lets_the_auditor_in(people, required):
    client = log_in(people["auditor"])
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=people["auditor"])

    response = client.post(SETUP, {"code": code_of(device), "next": "/audit/summary/"})

    assert response.status_code == 302 and response["Location"] == "/audit/summary/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/audit/").status_code == 200
    assert client.get("/api/v1/queries/").status_code == 200


def test_setup_refuses_a_wrong_code_and_confirms_nothing(people, required):
    client = log_in(people["auditor"])
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=people["auditor"])
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"

    response = client.post(SETUP, {"code": wrong})

    assert response.status_code == 200
    assert "That code is not correct." in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert redirect_path_and_next(client.get("/audit/"))[0] == SETUP


def test_auditor_with_a_device_is_asked_for_a_code_before_any_staff_page(people, required):
    device = confirmed_device(people["auditor"])
    client = log_in(people["auditor"])

    path, next_url = redirect_path_and_next(client.get("/audit/review-queue/"))
    assert (path, next_url) == (VERIFY, "/audit/review-queue/")
    # The setup page cannot replace a confirmed device: it sends to the code prompt.
    assert redirect_path_and_next(client.get(SETUP))[0] == VERIFY
    assert TOTPDevice.objects.filter(user=people["auditor"]).count() == 1

    response = client.post(VERIFY, {"code": code_of(device), "next": next_url})
    assert response.status_code == 302 and response["Location"] == "/audit/review-queue/"
    assert client.get("/audit/review-queue/").status_code == 200


def test_a_wrong_code_is_refused_with_a_clear_error(people, required):
    device = confirmed_device(people["auditor"])
    client = log_in(people["auditor"])
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"

    response = client.post(VERIFY, {"code": wrong, "next": "/audit/"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "That code is not correct." in body and 'role="alert"' in body
    assert redirect_path_and_next(client.get("/audit/"))[0] == VERIFY


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567"])
def test_a_code_that_is_not_six_digits_is_refused(people, required, code):
    confirmed_device(people["auditor"])
    client = log_in(people["auditor"])
    response = client.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert redirect_path_and_next(client.get("/audit/"))[0] == VERIFY


def test_a_code_is_accepted_once_only(people, required):
    device = confirmed_device(people["auditor"])
    code = code_of(device)
    assert log_in(people["auditor"]).post(VERIFY, {"code": code}).status_code == 302
    # Someone who watched the code being typed cannot reuse it in another session.
    again = log_in(people["auditor"]).post(VERIFY, {"code": code})
    assert again.status_code == 200
    assert "That code is not correct." in again.content.decode()


def test_repeated_wrong_codes_back_off(people, settings):
    settings.SIGHTLINE_REQUIRE_2FA = True
    device = confirmed_device(people["auditor"])
    client = log_in(people["auditor"])
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"
    client.post(VERIFY, {"code": wrong})
    # Even the right code waits out the back-off, so codes cannot be guessed quickly.
    response = client.post(VERIFY, {"code": code_of(device)})
    assert response.status_code == 200
    assert "Too many wrong codes." in response.content.decode()


def test_session_api_needs_the_code_too(people, required):
    confirmed_device(people["auditor"])
    response = log_in(people["auditor"]).get("/api/v1/queries/")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Two-factor verification required")


def test_administrator_needs_the_code_for_the_admin(people, required):
    device = confirmed_device(people["administrator"])
    client = log_in(people["administrator"])
    assert redirect_path_and_next(client.get("/admin/"))[0] == VERIFY
    client.post(VERIFY, {"code": code_of(device)})
    assert client.get("/admin/").status_code == 200


def test_council_member_is_unaffected(people, required):
    client = log_in(people["council"])
    assert client.get("/reports/").status_code == 200
    assert client.get(SETUP).status_code == 403
    assert not TOTPDevice.objects.exists()


def test_public_and_integrations_are_unaffected(people, required, api_client):
    assert Client().get("/").status_code == 200
    assert Client().get("/api/v1/log/public-key").status_code == 200
    response = api_client.post("/api/v1/queries/", [], format="json")
    assert response.status_code == 400  # reached the API: an empty array is refused there


def test_an_unverified_auditor_may_still_log_out(people, required):
    client = log_in(people["auditor"])
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_next_may_not_leave_the_site(people, required):
    device = confirmed_device(people["auditor"])
    client = log_in(people["auditor"])
    response = client.post(VERIFY, {"code": code_of(device), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_an_administrator_can_remove_a_lost_device(people, required):
    """The way back for a user who lost their phone: an administrator deletes the device."""
    admin_device = confirmed_device(people["administrator"])
    lost = confirmed_device(people["auditor"])
    client = log_in(people["administrator"])
    client.post(VERIFY, {"code": code_of(admin_device)})

    page = client.get(f"/admin/otp_totp/totpdevice/{lost.pk}/delete/")
    assert page.status_code == 200
    response = client.post(f"/admin/otp_totp/totpdevice/{lost.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=lost.pk).exists()
    # At the auditor's next sign-in they are sent to set up a new device.
    assert redirect_path_and_next(log_in(people["auditor"]).get("/audit/"))[0] == SETUP
