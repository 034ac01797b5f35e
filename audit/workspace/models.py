"""The auditor workspace's records: reviews of entries and who looked at what."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.log.models import AppendOnlyModel, QueryLogEntry


class AuditReview(AppendOnlyModel):
    """An auditor's finding on an entry. Append-only: a later review supersedes, never edits."""

    class Finding(models.TextChoices):
        COMPLIANT = "compliant", _("Compliant")
        NON_COMPLIANT = "non-compliant", _("Non-compliant")
        FOLLOW_UP = "needs-follow-up", _("Needs follow-up")

    entry = models.ForeignKey(QueryLogEntry, on_delete=models.PROTECT, related_name="reviews")
    finding = models.CharField(max_length=20, choices=Finding.choices)
    note = models.TextField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["entry_id", "id"]
        indexes = [models.Index(fields=["entry", "-id"], name="review_latest")]

    def __str__(self) -> str:
        return f"{self.finding} on #{self.entry_id}"


class AccessRecord(AppendOnlyModel):
    """Who watched the watchers: every auditor search, entry view and export. Append-only."""

    class Action(models.TextChoices):
        SEARCH = "search", _("Search")
        VIEW = "view", _("Entry view")
        EXPORT = "export", _("Export")
        SAMPLE = "sample", _("Random sample")
        SUMMARY = "summary", _("Summary")
        REVIEW = "review", _("Review recorded")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    action = models.CharField(max_length=16, choices=Action.choices)
    path = models.CharField(max_length=500)
    filters = models.JSONField(default=dict)
    row_count = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"
