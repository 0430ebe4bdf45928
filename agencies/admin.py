from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from core.admin import ReadOnlyAdmin
from usage.admin_actions import minutes_adjust

from . import services, tenancy, validators
from .models import Agency, AuditEntry, CreditPackage, Organization, User


class AgencyAdminForm(forms.ModelForm):
    """The operator's edits obey the same rules as the agency's own settings."""

    logo_url = forms.URLField(max_length=500, required=False, assume_scheme="https", label="Logo URL")

    class Meta:
        model = Agency
        fields = "__all__"  # noqa: DJ007 -- the platform operator edits every field of an agency here

    def clean_slug(self):
        slug = self.cleaned_data.get("slug")
        if slug:
            validators.validate_slug(slug)
        return slug or None

    def clean_custom_domain(self):
        domain = self.cleaned_data.get("custom_domain")
        return validators.normalize_hostname(domain) if domain else None


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    form = AgencyAdminForm
    list_display = [
        "company_name",
        "slug",
        "custom_domain",
        "domain_status",
        "is_active",
        "minutes_balance",
        "created_at",
    ]
    search_fields = ["company_name", "slug", "custom_domain"]
    list_filter = ["is_active", "domain_status"]
    # Secrets are never shown, not even to the platform operator.
    exclude = ["stripe_secret_key", "stripe_webhook_secret"]
    # Minutes move only through the ledger: the "Add or remove call minutes" action.
    # The alert threshold is set with the alert settings (ops.alerts), where the webhook is.
    readonly_fields = [
        "domain_token",
        "domain_checked_at",
        "domain_check_message",
        "minutes_balance",
        "low_balance_threshold",
    ]
    actions = [minutes_adjust]

    def save_model(self, request, obj, form, change):
        # An operator's edit must reach every worker's host lookup, as the console's saves do: the same
        # service forgets the cached lookups once the admin's transaction commits.
        old_hosts = tenancy.agency_hosts(Agency.objects.get(pk=obj.pk)) if change else set()
        services.agency_save(agency=obj, old_hosts=old_hosts)


@admin.register(CreditPackage)
class CreditPackageAdmin(admin.ModelAdmin):
    list_display = ["agency", "credits", "price_cents", "currency"]
    list_select_related = ["agency"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "agency", "credits_balance", "created_at"]
    list_select_related = ["agency"]
    search_fields = ["name"]
    readonly_fields = ["credits_balance", "low_balance_threshold"]


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserCreateForm
    form = UserEditForm
    ordering = ["email"]
    list_display = ["email", "agency", "managed_agency", "organization", "is_staff", "date_joined"]
    list_select_related = ["agency", "managed_agency", "organization"]
    search_fields = ["email"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Tenancy", {"fields": ["agency", "managed_agency", "organization"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]})]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The whole log, every tenant's, for the operator: read only (the database refuses changes anyway)."""

    list_display = [
        "created_at",
        "actor_email",
        "actor_kind",
        "action",
        "object_type",
        "object_repr",
        "agency_id",
        "ip",
    ]
    list_filter = ["actor_kind", "object_type"]
    search_fields = ["actor_email", "action", "object_repr", "object_id"]
    date_hierarchy = "created_at"
