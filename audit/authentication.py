"""Authentication of machine clients by `Authorization: Api-Key <key>` (keys stored hashed)."""

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions, permissions

from audit.models import Integration
from portal.roles import AUDITOR, has_any_role

KEYWORD = "Api-Key"


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
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if integration.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
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
