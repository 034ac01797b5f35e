"""Reads of vendor imports: the history, each import's reconciliation lists and groupings, and
the aggregates that council reports and the public page show (`vendor_export_usage`)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.imports.models import ImportRow, ImportSource, RowMatch, RowRecording, VendorImport
from audit.log.parsing import fingerprint_target
from audit.models import QueryLogEntry

MATCHED = "matched"
VENDOR_ONLY = "vendor"
SIGHTLINE_ONLY = "sightline"
LISTS = {
    MATCHED: _("Matched: in both records"),
    VENDOR_ONLY: _("Only in the vendor's export"),
    SIGHTLINE_ONLY: _("Only in Sightline"),
}


@dataclass
class ImportCounts:
    kept: int = 0  # rows this import added (the rest were already kept by an earlier import)
    matched: int = 0
    recorded: int = 0  # rows recorded into the log because it held no entry for them

    @property
    def vendor_only(self) -> int:
        return self.kept - self.matched


def import_history() -> QuerySet[VendorImport]:
    """Every import, newest first, with who imported it."""
    return VendorImport.objects.select_related("imported_by", "agency", "technology")


def counts_of(imports: list[VendorImport]) -> dict[int, ImportCounts]:
    """Rows kept, matched and recorded per import, in three grouped queries."""
    ids = [i.pk for i in imports]
    counts = {pk: ImportCounts() for pk in ids}
    for model, attribute in ((ImportRow, "kept"), (RowMatch, "matched"),
                             (RowRecording, "recorded")):  # fmt: skip
        for pk, n in (
            model.objects.filter(vendor_import_id__in=ids)
            .order_by()
            .values_list("vendor_import_id")
            .annotate(n=Count("id"))
        ):
            setattr(counts[pk], attribute, n)
    return counts


def import_integrations() -> list[int]:
    return list(ImportSource.objects.values_list("integration_id", flat=True))


def sightline_only(vendor_import: VendorImport) -> QuerySet[QueryLogEntry]:
    """Entries the center logged for the export's agency, technology and period that no
    vendor row matches: the searches missing from the vendor's own log."""
    if vendor_import.covers_from is None:
        return QueryLogEntry.objects.none()
    tz = timezone.get_default_timezone()
    days = (
        vendor_import.covers_from.astimezone(tz).date(),
        vendor_import.covers_to.astimezone(tz).date(),
    )
    return (
        QueryLogEntry.objects.filter(
            requesting_agency_code=vendor_import.agency.code,
            technology_id=vendor_import.technology_id,
            local_date__range=days,  # the (local_date, technology) index narrows to the period
            occurred_at__range=(vendor_import.covers_from, vendor_import.covers_to),
            vendor_match__isnull=True,
        )
        .exclude(integration_id__in=import_integrations())
        .order_by("occurred_at", "sequence")
    )


def reconciliation_list(vendor_import: VendorImport, which: str, search: str = "") -> QuerySet:
    """The rows (or, for SIGHTLINE_ONLY, entries) of one list, filtered by `search`.

    The search matches agency, operator, reason or case number as text, or a target exactly
    (it is fingerprinted, never stored).
    """
    search = search.strip()
    if which == SIGHTLINE_ONLY:
        entries = sightline_only(vendor_import).select_related("operator")
        if search:
            entries = entries.filter(
                Q(requesting_agency_code__icontains=search)
                | Q(operator_badge__icontains=search)
                | Q(operator__name__icontains=search)
                | Q(justification__icontains=search)
                | Q(case_number__icontains=search)
                | Q(target_fingerprint=fingerprint_target(vendor_import.technology_id, search))
            )
        return entries
    rows = ImportRow.objects.filter(vendor_import=vendor_import).select_related(
        "match", "recording"
    )
    rows = rows.filter(match__isnull=which != MATCHED)
    if search:
        rows = rows.filter(
            Q(agency_name__icontains=search)
            | Q(agency_code__icontains=search)
            | Q(operator_name__icontains=search)
            | Q(operator_badge__icontains=search)
            | Q(reason__icontains=search)
            | Q(case_number__icontains=search)
            | Q(target_fingerprint=fingerprint_target(vendor_import.technology_id, search))
        )
    return rows.order_by("line")


def groupings(vendor_import: VendorImport, which: str, search: str = "", top: int = 15) -> dict:
    """The list counted by agency, by operator and by reason, largest first (`top` of each)."""
    items = reconciliation_list(vendor_import, which, search).order_by()
    if which == SIGHTLINE_ONLY:
        fields = {
            "agency": "requesting_agency_code",
            "operator": "operator_badge",
            "reason": "justification",
        }
    else:
        fields = {"agency": "agency_name", "operator": "operator_name", "reason": "reason"}
    return {
        name: list(items.values_list(column).annotate(n=Count("pk")).order_by("-n", column)[:top])
        for name, column in fields.items()
    }


def list_counts(vendor_import: VendorImport) -> dict[str, int]:
    counts = counts_of([vendor_import])[vendor_import.pk]
    return {
        MATCHED: counts.matched,
        VENDOR_ONLY: counts.vendor_only,
        SIGHTLINE_ONLY: sightline_only(vendor_import).count(),
    }


# -- for council reports and the public page -----------------------------------------------


@dataclass(frozen=True)
class VendorExportUsage:
    """Searches a vendor's exports show for one technology in one month (local dates)."""

    technology: str  # slug
    month: date  # the first day of the month
    searches: int  # rows of vendor exports dated in the month
    never_logged: int  # of them, searches the center's own software never logged


def vendor_export_usage(*, start: date, end: date) -> list[VendorExportUsage]:
    """Per technology and month, searches found in vendor exports dated start..end (local
    dates) and how many of them the center never logged itself.

    Counts only: no names, badges, targets, case numbers or reasons leave this function, so
    it is safe for public pages (small cells are the caller's to suppress, PUBLIC_MIN_CELL).
    """
    totals: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    rows = ImportRow.objects.filter(local_date__range=(start, end)).order_by()
    for technology, month, searches, never_logged in (
        rows.annotate(month=TruncMonth("local_date"))
        .values_list("technology_id", "month")
        .annotate(
            searches=Count("id"),
            never_logged=Count("id", filter=Q(match__isnull=True, recording__isnull=False)),
        )
    ):
        month = month.date() if hasattr(month, "date") else month
        totals[(technology, month)][0] += searches
        totals[(technology, month)][1] += never_logged
    return [
        VendorExportUsage(technology, month, searches, never_logged)
        for (technology, month), (searches, never_logged) in sorted(totals.items())
    ]


def vendor_export_totals(*, start: date, end: date) -> dict[str, tuple[int, int]]:
    """Per technology slug, (searches in vendor exports, of them never logged by the center)
    dated start..end (local dates): `vendor_export_usage` summed over the period."""
    totals: dict[str, tuple[int, int]] = {}
    for usage in vendor_export_usage(start=start, end=end):
        searches, never_logged = totals.get(usage.technology, (0, 0))
        totals[usage.technology] = (searches + usage.searches, never_logged + usage.never_logged)
    return totals
