"""The ingest API's records: refused uses of revoked or expired keys."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.log.models import AppendOnlyModel, Integration


class KeyRefusal(AppendOnlyModel):
    """A refused use of a revoked or expired integration key. Append-only.

    A revoked key that is still being used means a client was not switched off, or the key
    leaked: administrators need to see every such attempt.
    """

    class Reason(models.TextChoices):
        REVOKED = "revoked", _("Revoked key")
        EXPIRED = "expired", _("Expired key")

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="refusals")
    at = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "refused key use"
        verbose_name_plural = "refused key uses"

    def __str__(self) -> str:
        return f"{self.reason} key {self.integration_id} at {self.at:%Y-%m-%d %H:%M}"
