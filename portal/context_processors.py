"""Template context shared by every page of the site shell."""

from django.conf import settings

from portal.roles import ADMINISTRATOR, AUDITOR, COUNCIL, has_any_role


def site(request):
    user = getattr(request, "user", None)
    return {
        "site_name": "Sightline",
        "city_name": settings.SIGHTLINE_CITY_NAME,
        "nav_council": bool(user) and has_any_role(user, [COUNCIL, AUDITOR]),
        "nav_auditor": bool(user) and has_any_role(user, [AUDITOR]),
        "nav_admin": bool(user) and has_any_role(user, [ADMINISTRATOR]),
    }
