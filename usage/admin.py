from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import ApiKey, Reservation, UsageRecord


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Owners create keys in their settings; the operator only sees them (never the secret)."""

    list_display = ["name", "prefix", "organization", "agency", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["organization", "agency"]
    search_fields = ["name", "prefix"]
    exclude = ["key_hash"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["record_id", "organization", "agency", "duration_sec", "minutes", "created_at", "overdraft"]
    list_select_related = ["organization", "agency"]
    list_filter = ["overdraft", "direction"]
    search_fields = ["record_id", "number_id"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["id", "organization", "agency", "minutes", "status", "expires_at", "created_at"]
    list_select_related = ["organization", "agency"]
    list_filter = ["status"]
