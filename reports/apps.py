"""App configuration of the reports app (everything aggregated and published)."""

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and spending"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from reports import models, receivers  # noqa: F401  (connects the rollup receivers)

        for model in (models.Vendor, models.Contract, models.Expenditure, models.AnnualStatement):
            auditlog.register(model)
