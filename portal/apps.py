"""The Django project shell: settings, site layout, authentication and roles."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Sightline portal"
