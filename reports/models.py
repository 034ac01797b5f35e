"""Spending records: vendors, contracts and expenditures on the center and its technologies."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.models import Technology


class Vendor(models.Model):
    name = models.CharField(max_length=200, unique=True)
    website = models.URLField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contract(models.Model):
    """A council-approved commitment to a vendor, for one technology or the shared facility."""

    class FundingSource(models.TextChoices):
        GENERAL_FUND = "general-fund", _("General fund")
        GRANT = "grant", _("Grant")
        ASSET_FORFEITURE = "asset-forfeiture", _("Asset forfeiture")
        OTHER = "other", _("Other")

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    technology = models.ForeignKey(
        Technology,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for the shared Real Time Crime Center facility."),
    )
    title = models.CharField(max_length=200)
    total_value = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    start_date = models.DateField()
    end_date = models.DateField()
    funding_source = models.CharField(max_length=32, choices=FundingSource.choices)
    council_resolution = models.CharField(max_length=64, blank=True)
    document_url = models.URLField(blank=True)

    class Meta:
        ordering = ["start_date", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="contract_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.title


class Expenditure(models.Model):
    """Money actually paid under a contract."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="expenditures")
    date = models.DateField()
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.amount} ({self.contract})"


class Granularity(models.TextChoices):
    DAY = "day", _("Day")
    MONTH = "month", _("Month")


class Rollup(models.Model):
    """Counts of the log kept per day and per month, so reports never scan the raw log.

    Each row covers `period_start` (a local date, or the first of a month) for one combination
    of dimensions. Rows are kept up to date in the same transaction as every recorded entry,
    outcome and reflag, and `manage.py rebuild_rollups` recomputes them from the log.
    """

    granularity = models.CharField(max_length=5, choices=Granularity.choices)
    period_start = models.DateField()
    technology = models.CharField(max_length=50)
    # Counts are plain integers (no CHECK >= 0): an upsert's candidate row may carry a
    # decrement, and SQLite checks constraints before resolving the conflict into an update.

    DIMENSIONS: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        dims = " ".join(str(getattr(self, d)) for d in self.DIMENSIONS)
        return f"{self.granularity} {self.period_start} {self.technology} {dims}"


class UsageRollup(Rollup):
    query_type = models.CharField(max_length=40)
    agency = models.CharField(max_length=32, help_text=_("Requesting agency code."))
    offense_category = models.CharField(max_length=64)
    scope = models.CharField(max_length=16)
    proxy = models.BooleanField(help_text=_("Made on behalf of another agency."))
    queries = models.IntegerField(default=0)
    with_case_number = models.IntegerField(default=0)
    with_supervisor = models.IntegerField(default=0)
    flagged = models.IntegerField(default=0)

    DIMENSIONS = ("query_type", "agency", "offense_category", "scope", "proxy")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "query_type", "agency",
                        "offense_category", "scope", "proxy"],
                name="usage_rollup_key",
            )
        ]  # fmt: skip


class SliceRollup(Rollup):
    """Usage along one dimension at a time (or "all"), and queries per flag ("flag").

    Its size depends on the months and categories, not on how many combinations of them the
    log holds, so the reports that read it cost the same for ten thousand or a million entries.
    """

    dimension = models.CharField(max_length=20)
    value = models.CharField(max_length=120)
    queries = models.IntegerField(default=0)
    with_case_number = models.IntegerField(default=0)
    with_supervisor = models.IntegerField(default=0)
    flagged = models.IntegerField(default=0)

    DIMENSIONS = ("dimension", "value")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "dimension", "value"],
                name="slice_rollup_key",
            )
        ]


class FlagRollup(Rollup):
    agency = models.CharField(max_length=32)
    offense_category = models.CharField(max_length=64)
    flag = models.CharField(max_length=40)
    queries = models.IntegerField(default=0)

    DIMENSIONS = ("agency", "offense_category", "flag")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "agency",
                        "offense_category", "flag"],
                name="flag_rollup_key",
            )
        ]  # fmt: skip


class OutcomeRollup(Rollup):
    offense_category = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16)
    outcomes = models.IntegerField(default=0)

    DIMENSIONS = ("offense_category", "outcome")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "offense_category",
                        "outcome"],
                name="outcome_rollup_key",
            )
        ]  # fmt: skip


class OperatorRollup(Rollup):
    """Queries per operator (0: an unregistered badge). Reports group operators by their unit
    as it is now, so moving an operator between units never leaves counts behind."""

    operator = models.BigIntegerField()
    queries = models.IntegerField(default=0)
    flagged = models.IntegerField(default=0)

    DIMENSIONS = ("operator",)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "operator"],
                name="operator_rollup_key",
            )
        ]


class HourRollup(Rollup):
    hour = models.PositiveSmallIntegerField(help_text=_("Local hour of day, 0-23."))
    queries = models.IntegerField(default=0)

    DIMENSIONS = ("hour",)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "hour"],
                name="hour_rollup_key",
            )
        ]


class AnnualStatement(models.Model):
    """What staff add to a technology's annual surveillance report (complaints and more)."""

    technology = models.ForeignKey(Technology, on_delete=models.PROTECT, related_name="+")
    fiscal_year = models.PositiveSmallIntegerField(help_text=_("E.g. 2026 for FY2026."))
    complaints_received = models.PositiveIntegerField(default=0)
    complaints_summary = models.TextField(blank=True)
    civil_rights_review = models.TextField(
        blank=True, help_text=_("Any assessment of civil rights and liberties impacts.")
    )
    requested_changes = models.TextField(
        blank=True, help_text=_("Changes to the policy or the technology requested or planned.")
    )

    class Meta:
        ordering = ["-fiscal_year", "technology"]
        constraints = [
            models.UniqueConstraint(fields=["technology", "fiscal_year"], name="one_statement")
        ]

    def __str__(self) -> str:
        return f"FY{self.fiscal_year} statement for {self.technology}"


class PublicSnapshot(models.Model):
    """Public counts over exactly the entries 0..tree_size-1 of a signed tree head.

    Computed on the first request for a head, from the previous snapshot plus the entries
    added since (so the cost follows the log's growth, not its size). Anyone can recompute
    every number from the public leaves and check it against the head.
    """

    tree_size = models.BigIntegerField(unique=True)
    by_technology_month = models.JSONField(default=dict)
    by_offense_category = models.JSONField(default=dict)
    by_agency = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"public counts at size {self.tree_size}"


class PublicRollup(Rollup):
    """Counts of the public leaves of the latest signed tree head, per day and per month.

    Unlike the other rollups (kept in every write's transaction, so they run ahead of the
    signed log), these cover exactly the entries 0..tree_size-1 of the head recorded in
    `PublicRollupState`, and only the leaves' own fields: anyone can recompute every number on
    the public pages and in the daily open data from the leaves and check them against the head.
    """

    agency = models.CharField(max_length=32, help_text=_("Requesting agency code."))
    offense_category = models.CharField(max_length=64)
    scope = models.CharField(max_length=16)
    queries = models.IntegerField(default=0)
    with_case_number = models.IntegerField(default=0)
    with_supervisor = models.IntegerField(default=0)
    on_behalf = models.IntegerField(default=0)

    DIMENSIONS = ("agency", "offense_category", "scope")
    MEASURES = ("queries", "with_case_number", "with_supervisor", "on_behalf")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "period_start", "technology", "agency",
                        "offense_category", "scope"],
                name="public_rollup_key",
            )
        ]  # fmt: skip


class PublicRollupState(models.Model):
    """The signed tree head the public rollup covers (one row)."""

    tree_size = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"public rollup at size {self.tree_size}"
