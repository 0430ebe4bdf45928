from django import forms
from django.contrib import admin

from core import outbound
from core.admin import ReadOnlyAdmin

from . import sources
from .models import AlertDelivery, AlertSettings, BalanceAlert, PullRejection, UsageSource


class UsageSourceForm(forms.ModelForm):
    """The API key is write-only: typed to set or replace it, never shown (not even to the operator).

    Saving goes through ops.sources.usage_source_save, as the console does (UsageSourceAdmin.save_model).
    """

    base_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="e.g. https://api.example.com; /api/v1/usage is appended."
    )
    new_api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Sent as Authorization: Bearer. Leave empty to keep the stored key.",
    )

    class Meta:
        model = UsageSource
        fields = ["agency", "name", "base_url", "enabled", "start_date"]

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].rstrip("/")
        problem = outbound.url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if not data.get("new_api_key") and not (self.instance.pk and self.instance.api_key):
            self.add_error("new_api_key", "Enter the API key the calling platform gave you.")
        return data


@admin.register(UsageSource)
class UsageSourceAdmin(admin.ModelAdmin):
    """An empty agency makes a platform-wide source: its records go to the agency of their organization."""

    form = UsageSourceForm
    list_display = [
        "__str__",
        "agency",
        "base_url",
        "enabled",
        "synced_through",
        "last_success_at",
        "failures",
        "last_error",
    ]
    list_select_related = ["agency"]
    list_filter = ["enabled"]
    # The high-water mark moves by pulls and starts over when the address, start day or agency changes.
    readonly_fields = [
        "synced_through",
        "next_attempt_at",
        "last_attempt_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "failures",
        "last_counts",
    ]

    audit_admin_changes = False  # usage_source_save logs it (the key as "changed" only)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = sources.usage_source_save(
            actor=request.user,
            source_id=obj.pk if change else None,
            agency=data["agency"],
            name=data["name"],
            base_url=data["base_url"],
            api_key=data.get("new_api_key") or "",
            start_date=data["start_date"],
            enabled=data["enabled"],
        )
        obj.pk = saved.pk  # the admin's log entry and redirect name the saved row
        obj.refresh_from_db()


@admin.register(PullRejection)
class PullRejectionAdmin(ReadOnlyAdmin):
    list_display = ["last_seen_at", "source", "record_id", "code", "reason", "times"]
    list_select_related = ["source"]
    list_filter = ["code"]


@admin.register(AlertSettings)
class AlertSettingsAdmin(ReadOnlyAdmin):
    """Set by each organization and agency; the signing secret is never shown."""

    list_display = ["__str__", "threshold", "webhook_url", "secret_created_at", "updated_at"]
    list_select_related = ["organization", "agency"]
    exclude = ["signing_secret"]

    @admin.display(description="threshold")
    def threshold(self, row: AlertSettings) -> int | None:
        owner = row.organization or row.agency
        return owner.low_balance_threshold if owner is not None else None


@admin.register(BalanceAlert)
class BalanceAlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "agency", "threshold", "balance_before", "balance_after", "reference"]
    list_select_related = ["organization", "agency"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "alert",
        "reference",
        "channel",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
    ]
    list_filter = ["kind", "channel", "status"]
    exclude = ["payload"]
