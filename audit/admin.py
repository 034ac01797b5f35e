"""Admin for reference data and integrations; the log itself is shown read-only."""

from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

import audit.imports.admin  # noqa: F401  (vendor import aliases)
from audit.models import (
    Agency,
    Certification,
    Integration,
    KeyRefusal,
    Operator,
    QueryLogEntry,
    QueryOutcome,
    SignedTreeHead,
    Technology,
)

# Registers the witnesses and their cosignatures (their room keeps its own admin module).
from audit.transparency import admin as transparency_admin  # noqa: F401


@admin.register(Technology)
class TechnologyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "status",
        "requires_case_number",
        "requires_supervisor_approval",
    ]
    readonly_fields = ["slug"]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "is_home"]
    search_fields = ["code", "name"]


class CertificationInline(admin.TabularInline):
    model = Certification
    extra = 0


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["badge_number", "name", "unit", "agency", "is_supervisor", "active"]
    list_filter = ["agency", "unit", "is_supervisor", "active"]
    search_fields = ["badge_number", "name"]
    inlines = [CertificationInline]


class KeyRefusalInline(admin.TabularInline):
    """The latest refused uses of this integration's key, read-only."""

    model = KeyRefusal
    fields = ["at", "reason", "remote_addr", "method", "path"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "refused uses of this key (revoked or expired)"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-at", "-id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Integration)
class IntegrationAdmin(APIKeyModelAdmin):
    list_display = [*APIKeyModelAdmin.list_display, "agency"]
    list_filter = [*APIKeyModelAdmin.list_filter, "agency"]
    inlines = [KeyRefusalInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """The log is append-only: the admin may look, never add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(QueryLogEntry)
class QueryLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "occurred_at", "technology", "query_type", "operator_badge"]
    list_filter = ["technology", "scope"]
    show_full_result_count = False


@admin.register(QueryOutcome)
class QueryOutcomeAdmin(ReadOnlyAdmin):
    list_display = ["entry", "outcome", "recorded_at"]


@admin.register(SignedTreeHead)
class SignedTreeHeadAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "root_hash", "timestamp"]


@admin.register(KeyRefusal)
class KeyRefusalAdmin(ReadOnlyAdmin):
    list_display = ["at", "integration", "reason", "remote_addr", "method", "path"]
    list_filter = ["reason", "integration"]
    date_hierarchy = "at"
