"""Two-factor sign-in (TOTP, django-otp) for auditors and administrators.

When `SIGHTLINE_REQUIRE_2FA` is on, a signed-in auditor, administrator or staff user must confirm
a code from an authenticator app after the password before any page or API other than the
few below; council members, integrations and the public are never asked.
"""

from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.roles import ADMINISTRATOR, AUDITOR, roles_of

SETUP = "two-factor-setup"
VERIFY = "two-factor-verify"
# What an unverified auditor may still reach: the second-factor pages themselves, leaving, and
# the site's plumbing (health checks, language, icons, assets).
EXEMPT_VIEWS = frozenset(
    {SETUP, VERIFY, "login", "logout", "admin:logout", "healthz", "favicon", "switch-language"}
)
API_PREFIX = "/api/"


def needs_second_factor(user) -> bool:
    """Whether this user's access is worth a second factor: auditors, administrators, staff."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or bool(roles_of(user) & {AUDITOR, ADMINISTRATOR})


def second_factor_missing(user) -> bool:
    """True when the deployment requires 2FA and this user has not confirmed a code yet."""
    return settings.SIGHTLINE_REQUIRE_2FA and needs_second_factor(user) and not user.is_verified()


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


class TwoFactorMiddleware:
    """Sends unverified auditors and administrators to set up or enter their code.

    Fails closed: every view not in EXEMPT_VIEWS is held back, so a new staff page is covered
    without anyone remembering to guard it. Goes after django-otp's OTPMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.SIGHTLINE_REQUIRE_2FA:
            return None
        if request.resolver_match.view_name in EXEMPT_VIEWS:
            return None
        if not second_factor_missing(request.user):
            return None
        if request.path.startswith(API_PREFIX):
            return JsonResponse(
                {
                    "detail": _(
                        "Two-factor verification required: enter the code from your "
                        "authenticator app at %(url)s first."
                    )
                    % {"url": reverse(VERIFY)}
                },
                status=403,
            )
        target = VERIFY if confirmed_device(request.user) else SETUP
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


class CodeForm(forms.Form):
    """A six-digit code, checked against one device (with django-otp's back-off on failures)."""

    code = forms.CharField(label=gettext_lazy("Six-digit code"), max_length=12)

    def __init__(self, *args, device: TOTPDevice, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("Enter the six digits your authenticator app shows."))
        # Raise only after the transaction: a failed attempt must be committed to count.
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=self.device.pk)
            allowed, _state = device.verify_is_allowed()
            verified = allowed and device.verify_token(code)
        if not allowed:
            raise forms.ValidationError(
                _("Too many wrong codes. Wait a minute, then enter the newest code.")
            )
        if not verified:
            raise forms.ValidationError(
                _(
                    "That code is not correct. Enter the code your authenticator app shows "
                    "now (it changes every 30 seconds)."
                )
            )
        self.device = device
        return code


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return settings.LOGIN_REDIRECT_URL


def _staff_only(request) -> None:
    if not needs_second_factor(request.user):
        raise PermissionDenied(_("Two-factor sign-in is for auditors and administrators."))


@login_required
def setup(request):
    """Register an authenticator app: show its secret (text and QR), confirm one code."""
    _staff_only(request)
    if confirmed_device(request.user):
        # Replacing a device needs an administrator: a stolen password alone must not do it.
        return redirect(f"{reverse(VERIFY)}?{urlencode({'next': _next_url(request)})}")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=request.user, name="Authenticator app", confirmed=False
        )
    form = CodeForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        form.device.confirmed = True
        form.device.save(update_fields=["confirmed"])
        otp_login(request, form.device)
        return redirect(_next_url(request))
    uri = device.config_url
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "next": _next_url(request),
        "otpauth_uri": uri,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=5),
    }
    return render(request, "registration/two_factor_setup.html", context)


@login_required
def verify(request):
    """Ask for the current code from the user's authenticator app, then let them in."""
    _staff_only(request)
    device = confirmed_device(request.user)
    if device is None:
        return redirect(f"{reverse(SETUP)}?{urlencode({'next': _next_url(request)})}")
    form = CodeForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        otp_login(request, form.device)
        return redirect(_next_url(request))
    return render(
        request, "registration/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )
