"""OpenAPI description of the integration key scheme (loaded by AuditConfig.ready) and of the
error responses every endpoint may give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse

from audit.api.serializers import ErrorSerializer


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    target_class = "audit.api.authentication.IntegrationKeyAuthentication"
    name = "IntegrationKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, as printed once by `manage.py create_integration`.",
        }


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# Errors of the public log and the search endpoints: keyed directly by the parameter's name.
PARAMETER_ERRORS = OpenApiResponse(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    description="A missing or bad parameter, keyed by its name.",
)
UNAVAILABLE = _problem("The database is unavailable or full; retry after Retry-After seconds.")
# What every endpoint taking an integration key may answer besides its own results.
KEY_ERRORS = {
    400: _problem("The request was refused; `errors` names each bad field."),
    401: _problem("No key, or a wrong, revoked or expired key."),
    403: _problem("Signed in to the website, but not an integration."),
    413: _problem("The body is larger than 2 MB."),
    415: _problem("The body is not JSON."),
    429: _problem("This key exceeded its rate limit; retry after Retry-After seconds."),
    503: UNAVAILABLE,
}
# The auditor endpoints (session sign-in).
AUDITOR_ERRORS = {
    401: _problem("Not signed in (or an integration key: integrations cannot read the log)."),
    403: _problem("Signed in without the auditor role."),
    503: UNAVAILABLE,
}
PUBLIC_ERRORS = {400: PARAMETER_ERRORS, 503: UNAVAILABLE}
NOT_PUBLISHED = _problem("No tree head of that size (or none yet) was published.")
