"""The portal's roles (auth groups) and the checks every view and endpoint uses."""

from collections.abc import Iterable

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied

COUNCIL = "council"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"
ROLES = (COUNCIL, AUDITOR, ADMINISTRATOR)


def roles_of(user) -> set[str]:
    """The role names a user holds; a superuser holds every role."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_sightline_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._sightline_roles = cached
    return cached


def has_any_role(user, roles: Iterable[str]) -> bool:
    held = roles_of(user)
    # Administrators may see everything staff can see.
    return bool(held & (set(roles) | {ADMINISTRATOR}))


class RoleRequiredMixin(AccessMixin):
    """Anonymous users are sent to log in; signed-in users without a role get 403."""

    allowed_roles: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_any_role(request.user, self.allowed_roles):
            raise PermissionDenied("Your role does not give access to this page.")
        return super().dispatch(request, *args, **kwargs)


def ensure_demo_users(password: str) -> list[str]:
    """The demo users `council`, `auditor` and `admin` (superuser), each in their group."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    created = []
    for username, group, superuser in (
        ("council", COUNCIL, False),
        ("auditor", AUDITOR, False),
        ("admin", ADMINISTRATOR, True),
    ):
        user, was_created = User.objects.get_or_create(username=username)
        user.is_staff = superuser
        user.is_superuser = superuser
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get_or_create(name=group)[0])
        if was_created:
            created.append(username)
    return created


# Apps whose models administrators maintain in the admin (the log itself stays read-only there).
ADMINISTERED_APPS = ("audit", "reports", "auth", "rest_framework_api_key", "otp_totp")


def grant_administrator_permissions(**kwargs) -> None:
    """Give the administrator group every permission on the administered apps' models."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # On a fresh database the later apps' permissions do not exist yet when the first apps'
    # post_migrate runs: create them first (it is idempotent).
    for label in ADMINISTERED_APPS:
        create_permissions(apps.get_app_config(label), verbosity=0)
    group, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
    group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMINISTERED_APPS))
