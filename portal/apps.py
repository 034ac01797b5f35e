"""The Django project shell: settings, site layout, authentication and roles."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Sightline portal"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from portal.roles import grant_administrator_permissions

        # Permissions exist only after migrate; grant them to the role each time it runs. Not
        # sender=self: Django sends post_migrate only for apps with models, and this has none.
        post_migrate.connect(
            grant_administrator_permissions, dispatch_uid="sightline-administrator-permissions"
        )
