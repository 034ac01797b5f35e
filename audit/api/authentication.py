"""Authentication of machine clients by `Authorization: Api-Key <key>` (keys stored hashed),
the record of refused revoked and expired keys, and the per-key ingest rate limit."""

import ipaddress

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions, throttling

from audit.models import Integration, KeyRefusal
from portal.roles import AUDITOR, has_any_role

KEYWORD = "Api-Key"
AFTER_REFUSAL = "This attempt has been recorded; ask an administrator for a new key."


def _remote_addr(request) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def record_key_refusal(request, integration: Integration, reason: str) -> KeyRefusal:
    """Record that a revoked or expired key was presented (a leaked key or a stale client)."""
    return KeyRefusal.objects.create(
        integration=integration,
        at=timezone.now(),
        reason=reason,
        remote_addr=_remote_addr(request),
        method=request.method[:8],
        path=request.get_full_path()[:500],
    )


class IntegrationKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates an Integration; request.auth is the Integration, request.user anonymous."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        if keyword != KEYWORD or not key.strip():
            raise exceptions.AuthenticationFailed(
                f"Send the key as 'Authorization: {KEYWORD} <key>'."
            )
        key = key.strip()
        prefix = key.partition(".")[0]
        integration = Integration.objects.select_related("agency").filter(prefix=prefix).first()
        if integration is None or not integration.is_valid(key):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if integration.revoked:
            record_key_refusal(request, integration, KeyRefusal.Reason.REVOKED)
            raise exceptions.AuthenticationFailed(f"This API key has been revoked. {AFTER_REFUSAL}")
        if integration.has_expired:
            record_key_refusal(request, integration, KeyRefusal.Reason.EXPIRED)
            raise exceptions.AuthenticationFailed(f"This API key has expired. {AFTER_REFUSAL}")
        return AnonymousUser(), integration

    def authenticate_header(self, request):
        return KEYWORD


class IsIntegration(permissions.BasePermission):
    """Only machine clients holding a valid key."""

    message = "Only integrations (with an API key) may record queries."

    def has_permission(self, request, view):
        return isinstance(request.auth, Integration)


class IsAuditor(permissions.BasePermission):
    """Signed-in users with the auditor role (administrators included)."""

    message = "Only auditors may read the raw query log."

    def has_permission(self, request, view):
        return has_any_role(request.user, [AUDITOR])


PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def ingest_rate_in_words(rate: str | None = None) -> str:
    """'600/min' -> '600 requests per minute' (the limit, as the 429 response states it)."""
    count, _, period = (rate or settings.SIGHTLINE_INGEST_RATE).partition("/")
    return f"{count} requests per {PERIODS[period[:1]]}"


class IngestRateThrottle(throttling.SimpleRateThrottle):
    """Each integration key may make at most SIGHTLINE_INGEST_RATE ingest requests.

    Counts are kept in the default cache, so they are per process unless CACHES names a cache
    the workers share. Requests without a key (refused anyway) are not counted.
    """

    scope = "ingest"

    def get_rate(self) -> str:
        return settings.SIGHTLINE_INGEST_RATE

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, Integration):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
