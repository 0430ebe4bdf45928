from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records only services write (ledger, purchases, usage, issued
    documents): the operator can look, never add, edit or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
