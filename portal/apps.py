"""The Django project shell: settings, site layout, authentication and roles."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Sightline portal"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from portal.roles import grant_administrator_permissions

        # Permissions exist only after migrate; grant them to the role each time it runs.
        post_migrate.connect(grant_administrator_permissions, sender=self)
