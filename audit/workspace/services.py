"""Writes of the auditor workspace: reviews and the record of who looked at what."""

from django.utils import timezone

from audit.models import (
    AccessRecord,
    AuditReview,
    QueryLogEntry,
)


def record_review(*, entry: QueryLogEntry, reviewer, finding: str, note: str) -> AuditReview:
    """Append an auditor's finding on an entry; it supersedes earlier reviews, never edits them."""
    return AuditReview.objects.create(
        entry=entry, reviewer=reviewer, finding=finding, note=note, created_at=timezone.now()
    )


def record_access(
    *, user, action: str, path: str, filters: dict | None = None, row_count: int | None = None
) -> AccessRecord:
    """Record that a user searched, viewed or exported the log (who watched the watchers)."""
    return AccessRecord.objects.create(
        user=user,
        at=timezone.now(),
        action=action,
        path=path[:500],
        filters=filters or {},
        row_count=row_count,
    )
