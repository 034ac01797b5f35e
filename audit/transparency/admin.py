"""Admin of the witnesses (administrators only) and their cosignatures (read-only)."""

from django.contrib import admin, messages
from django.db import models

from audit.models import Cosignature, Witness
from audit.transparency import witnesses
from audit.transparency.selectors import latest_tree_head


@admin.register(Witness)
class WitnessAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "active", "cosigned_size", "status", "last_success_at"]
    list_filter = ["active"]
    fields = ["name", "url", "vkey", "active", *witnesses.STATUS_FIELDS]
    readonly_fields = witnesses.STATUS_FIELDS
    actions = ["submit_latest_checkpoint"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="status")
    def status(self, witness: Witness) -> str:
        return witnesses.status_of(witness)

    @admin.action(description="Submit the latest checkpoint to the selected witnesses now")
    def submit_latest_checkpoint(self, request, queryset):
        head = latest_tree_head()
        if head is None:
            self.message_user(request, "No tree head has been published yet.", messages.WARNING)
            return
        for witness in queryset:
            outcome = witnesses.submit_checkpoint(witness=witness, head=head)
            if outcome.ok:
                self.message_user(
                    request, f"{witness.name} cosigned the checkpoint of size {head.tree_size}."
                )
            else:
                self.message_user(request, outcome.problem, messages.ERROR)


@admin.register(Cosignature)
class CosignatureAdmin(admin.ModelAdmin):
    """Cosignatures are append-only evidence: the admin may look, never add, change or delete."""

    list_display = ["tree_size", "witness", "received_at"]
    list_filter = ["witness"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
