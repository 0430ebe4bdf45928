from django.contrib import admin

from .models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Read-only: the ledger is append-only, corrections are new entries."""

    list_display = ["created_at", "organization", "agency", "kind", "amount", "balance_after", "reference", "actor"]
    list_select_related = ["organization", "agency", "actor"]
    list_filter = ["kind"]
    search_fields = ["reference", "description"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
