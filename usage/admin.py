from django.contrib import admin

from .models import ApiKey, Reservation, UsageRecord


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(_ReadOnly):
    """Owners create keys in their settings; the operator only sees them (never the secret)."""

    list_display = ["name", "prefix", "organization", "agency", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["organization", "agency"]
    search_fields = ["name", "prefix"]
    exclude = ["key_hash"]


@admin.register(UsageRecord)
class UsageRecordAdmin(_ReadOnly):
    list_display = ["record_id", "organization", "agency", "duration_sec", "minutes", "created_at", "overdraft"]
    list_select_related = ["organization", "agency"]
    list_filter = ["overdraft", "direction"]
    search_fields = ["record_id", "number_id"]


@admin.register(Reservation)
class ReservationAdmin(_ReadOnly):
    list_display = ["id", "organization", "agency", "minutes", "status", "expires_at", "created_at"]
    list_select_related = ["organization", "agency"]
    list_filter = ["status"]
