"""Admin for spending records (changes recorded by django-auditlog)."""

from django.contrib import admin

from reports.models import AnnualStatement, Contract, Expenditure, Vendor


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class ExpenditureInline(admin.TabularInline):
    model = Expenditure
    extra = 0


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["title", "vendor", "technology", "total_value", "funding_source", "start_date"]
    list_filter = ["funding_source", "technology"]
    inlines = [ExpenditureInline]


@admin.register(Expenditure)
class ExpenditureAdmin(admin.ModelAdmin):
    list_display = ["date", "contract", "amount"]
    date_hierarchy = "date"


@admin.register(AnnualStatement)
class AnnualStatementAdmin(admin.ModelAdmin):
    list_display = ["technology", "fiscal_year", "complaints_received"]
    list_filter = ["technology", "fiscal_year"]
