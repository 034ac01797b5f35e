"""App configuration of the audit app (the record of truth)."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Query log and audit"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from audit import models
        from audit.api import schema  # noqa: F401  (registers the OpenAPI key scheme)
        from audit.transparency import checks  # noqa: F401  (registers the origin's check)

        # Every change to a policy, agency, operator or integration is recorded.
        for model in (models.Technology, models.Agency, models.Operator, models.Integration):
            auditlog.register(model)
        auditlog.register(models.Certification)
        auditlog.register(models.Witness)  # who changed a witness's URL or key, and when
