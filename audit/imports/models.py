"""What Sightline keeps of vendor audit exports: each import, each row as read (append-only),
the aliases administrators keep, and the reconciliation of rows with the log (derived)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.log.models import (
    Agency,
    AppendOnlyModel,
    Integration,
    Operator,
    QueryLogEntry,
    Scope,
    Technology,
)


def alias_key(name: str) -> str:
    """How a name written in an export is compared: case and spacing do not count."""
    return " ".join(name.lower().split())


class ImportSource(models.Model):
    """The integration through which one vendor system's rows for one agency enter the log.

    Its key is revoked when it is created and never shown: no client can post with it. The
    entries recorded through it are the searches the center's own software never logged.
    """

    source = models.CharField(max_length=40)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    integration = models.OneToOneField(
        Integration, on_delete=models.PROTECT, related_name="import_source"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "agency"], name="one_import_source")
        ]

    def __str__(self) -> str:
        return f"{self.source} exports of {self.agency.code}"


class Alias(models.Model):
    """A name as vendors write it, and what it stands for; compared by `alias_key`."""

    name = models.CharField(
        max_length=200, help_text=_("As written in the exports; case and spacing do not count.")
    )
    key = models.CharField(max_length=200, unique=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["key"]

    def save(self, *args, **kwargs):
        self.key = alias_key(self.name)
        super().save(*args, **kwargs)

    def clean(self):
        key = alias_key(self.name)
        if type(self).objects.filter(key=key).exclude(pk=self.pk).exists():
            raise ValidationError({"name": _("This name already has an alias.")})


class AgencyAlias(Alias):
    """An organisation name as vendors write it, and the agency it stands for."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="aliases")

    class Meta(Alias.Meta):
        verbose_name_plural = "agency aliases"

    def __str__(self) -> str:
        return f"{self.name} → {self.agency.code}"


class OperatorAlias(Alias):
    """An operator's name or user id as vendors write it, and the operator it stands for."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="aliases")

    class Meta(Alias.Meta):
        verbose_name_plural = "operator aliases"

    def __str__(self) -> str:
        return f"{self.name} → #{self.operator.badge_number}"


class VendorImport(AppendOnlyModel):
    """One export file as imported. Append-only; the file itself is never stored."""

    source = models.CharField(max_length=40, help_text=_("The vendor system: flock, or the "
                                                          "mapping file's source."))  # fmt: skip
    format = models.CharField(max_length=20)
    technology = models.ForeignKey(
        Technology, to_field="slug", on_delete=models.PROTECT, related_name="+"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField(help_text=_("Bytes."))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_via = models.CharField(max_length=20, help_text=_("upload page or command"))
    imported_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, blank=True)
    columns = models.JSONField(default=dict, help_text=_("Each field and the column it came from."))
    mapping_text = models.TextField(blank=True, help_text=_("The mapping file, as given."))
    rows_read = models.PositiveIntegerField()
    covers_from = models.DateTimeField(null=True)
    covers_to = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk}: {self.file_name} ({self.source})"


class ImportRow(AppendOnlyModel):
    """One vendor row as read, understood. Append-only.

    Keyed by the vendor's row ID (or a hash of the row) per source, so a row that several
    overlapping exports hold is kept once, by the first import. The raw target is never kept:
    only the log's keyed fingerprint of it.
    """

    # Indexed by importrow_import_line below; technology by importrow_date_tech. Fewer
    # indexes: a million-row import writes each of them a million times.
    vendor_import = models.ForeignKey(
        VendorImport, on_delete=models.PROTECT, related_name="rows", db_index=False
    )
    line = models.PositiveIntegerField()
    source = models.CharField(max_length=40)
    row_key = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    local_date = models.DateField()
    technology = models.ForeignKey(
        Technology, to_field="slug", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    query_type = models.CharField(max_length=40)
    search_type = models.CharField(max_length=100, blank=True)
    agency_name = models.CharField(max_length=200, blank=True, help_text=_("As written."))
    agency_code = models.CharField(max_length=32, blank=True, help_text=_("As recorded."))
    operator_name = models.CharField(max_length=200, blank=True, help_text=_("As written."))
    operator_badge = models.CharField(max_length=32, blank=True, help_text=_("As recorded."))
    target_fingerprint = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    case_number = models.CharField(max_length=64, blank=True)
    networks = models.PositiveIntegerField(null=True)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    as_read = models.JSONField(default=dict)

    class Meta:
        ordering = ["vendor_import", "line"]
        constraints = [
            models.UniqueConstraint(fields=["source", "row_key"], name="one_row_per_vendor_key")
        ]
        indexes = [
            models.Index(fields=["vendor_import", "line"], name="importrow_import_line"),
            models.Index(fields=["local_date", "technology"], name="importrow_date_tech"),
        ]

    def __str__(self) -> str:
        return f"line {self.line} of import {self.vendor_import_id}"


class RowRecording(AppendOnlyModel):
    """The log entry recorded from a vendor row that the log held no entry for. Append-only:
    the entry is a real, verifiable entry of the log, marked as coming from this import."""

    vendor_import = models.ForeignKey(VendorImport, on_delete=models.PROTECT, related_name="+")
    row = models.OneToOneField(ImportRow, on_delete=models.PROTECT, related_name="recording")
    entry = models.OneToOneField(
        QueryLogEntry, on_delete=models.PROTECT, related_name="import_recording"
    )

    def __str__(self) -> str:
        return f"row {self.row_id} recorded as entry #{self.entry_id}"


class RowMatch(models.Model):
    """A vendor row and the entry the center logged for the same search. Derived data:
    `manage.py reconcile` recomputes it, so it is kept apart from the append-only rows."""

    vendor_import = models.ForeignKey(VendorImport, on_delete=models.PROTECT, related_name="+")
    row = models.OneToOneField(ImportRow, on_delete=models.PROTECT, related_name="match")
    entry = models.OneToOneField(
        QueryLogEntry, on_delete=models.PROTECT, related_name="vendor_match"
    )
    seconds_apart = models.IntegerField(help_text=_("Vendor time minus the log's occurred_at."))

    class Meta:
        ordering = ["row_id"]

    def __str__(self) -> str:
        return f"row {self.row_id} = entry #{self.entry_id}"


# The not-logged-by-rtcc flag is derived from these records; registering it needs the flags
# package, which needs every model above.
from audit.imports import flagging  # noqa: E402, F401
