"""Admin for the aliases administrators keep; imports themselves are shown read-only."""

from django.contrib import admin

from audit.imports.models import AgencyAlias, OperatorAlias, VendorImport


@admin.register(AgencyAlias)
class AgencyAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "agency"]
    search_fields = ["name", "agency__code", "agency__name"]
    autocomplete_fields = ["agency"]


@admin.register(OperatorAlias)
class OperatorAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "operator"]
    search_fields = ["name", "operator__badge_number", "operator__name"]
    autocomplete_fields = ["operator"]


@admin.register(VendorImport)
class VendorImportAdmin(admin.ModelAdmin):
    """Read-only: an import is append-only, and its rows are seen on /audit/imports/<id>/."""

    list_display = ["id", "file_name", "source", "agency", "imported_by", "imported_at"]
    list_filter = ["source", "agency"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
