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
