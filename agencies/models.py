import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.money import money_format

from .crypto import EncryptedTextField

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{1,48})[a-z0-9]$"
COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
CURRENCIES = [("EUR", "EUR"), ("USD", "USD"), ("GBP", "GBP")]


class Agency(models.Model):
    """A reseller and its whitelabel portal."""

    class DomainStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Failed"

    company_name = models.CharField(max_length=100)
    slug = models.CharField(max_length=50, unique=True, null=True, blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    primary_color = models.CharField(max_length=7, default="#3B82F6")
    accent_color = models.CharField(max_length=7, default="#F59E0B")

    # Unique among verified domains only (constraint below): typing a domain
    # claims nothing; proving control of it over DNS does.
    custom_domain = models.CharField(max_length=253, null=True, blank=True, db_index=True)  # noqa: DJ001 -- see above
    domain_token = models.CharField(max_length=64, blank=True)
    domain_status = models.CharField(max_length=10, choices=DomainStatus.choices, default=DomainStatus.PENDING)
    domain_checked_at = models.DateTimeField(null=True, blank=True)
    domain_check_message = models.CharField(max_length=300, blank=True)

    stripe_publishable_key = models.CharField(max_length=255, blank=True)
    stripe_secret_key = EncryptedTextField(blank=True)
    stripe_product_id = models.CharField(max_length=255, blank=True)
    stripe_price_id = models.CharField(max_length=255, blank=True)
    stripe_webhook_secret = EncryptedTextField(blank=True)
    # Set by the portal, never typed: the Stripe account the key or the Connect
    # connection belongs to, and the webhook endpoint the portal registered there.
    stripe_webhook_endpoint_id = models.CharField(max_length=255, blank=True)
    stripe_checked_at = models.DateTimeField(null=True, blank=True)
    # The last Check Stripe: a list of plain sentences, each a problem with its fix; [] when all is well.
    stripe_check_problems = models.JSONField(default=list, blank=True)

    # Stripe Connect (billing.connect): the connected account acts for the agency through the
    # platform's key; the agency's own keys are not needed.
    stripe_account_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_account_name = models.CharField(max_length=255, blank=True)
    stripe_connected_at = models.DateTimeField(null=True, blank=True)
    stripe_disconnected_at = models.DateTimeField(null=True, blank=True)
    stripe_charges_enabled = models.BooleanField(default=False)
    stripe_payouts_enabled = models.BooleanField(default=False)
    stripe_details_submitted = models.BooleanField(default=False)
    # What Stripe still needs before charges or payouts work (account.requirements.currently_due).
    stripe_requirements = models.JSONField(default=list, blank=True)

    is_active = models.BooleanField(default=False)
    # Call minutes bought from the platform; written only by billing.ledger.
    minutes_balance = models.BigIntegerField(default=0)
    # On the account row so the ledger reads it under the lock it takes anyway (billing.crossings);
    # set with the alert settings (ops.alerts).
    low_balance_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Low-balance alert when the minutes fall below this; empty: none.",
    )
    # Agency notifications (ops.notices): an email to the agency's admins on each event, when on.
    notify_client_signup = models.BooleanField(default=True, help_text="Email us when a new client signs up.")
    notify_purchase = models.BooleanField(default=True, help_text="Email us when a client's purchase is paid.")
    # What a client pays per credit when it tops up a saved card (billing.topup), in the packages' currency;
    # empty: its best package's per-credit price, rounded up.
    topup_rate_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="Top-up price per credit in cents; empty: the best package's rate."
    )
    # Two-factor sign-in (agencies.mfa): when on, the agency's console accounts (members) or its clients'
    # portal accounts must set up an authenticator app or a security key before they can use anything else.
    mfa_required_members = models.BooleanField(
        default=False, help_text="Members of the agency must sign in with two-factor authentication."
    )
    mfa_required_clients = models.BooleanField(
        default=False, help_text="Clients' users must sign in with two-factor authentication."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "agencies"
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__isnull=True) | Q(slug__regex=SLUG_PATTERN), name="agency_slug_format"
            ),
            models.CheckConstraint(condition=Q(primary_color__regex=COLOR_PATTERN), name="agency_primary_color_format"),
            models.CheckConstraint(condition=Q(accent_color__regex=COLOR_PATTERN), name="agency_accent_color_format"),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(slug__isnull=False), name="agency_active_needs_slug"
            ),
            # A Stripe account is connected to one agency at a time: its events are routed by account id.
            models.UniqueConstraint(
                fields=["stripe_account_id"],
                condition=~Q(stripe_account_id="") & Q(stripe_disconnected_at__isnull=True),
                name="agency_connected_account_unique",
            ),
            models.UniqueConstraint(
                fields=["custom_domain"],
                condition=Q(domain_status="verified"),
                name="agency_verified_domain_unique",
            ),
            models.CheckConstraint(
                condition=Q(low_balance_threshold__isnull=True) | Q(low_balance_threshold__gt=0),
                name="agency_low_balance_threshold_positive",
            ),
            models.CheckConstraint(
                condition=Q(topup_rate_cents__isnull=True) | Q(topup_rate_cents__gt=0),
                name="agency_topup_rate_positive",
            ),
        ]

    def __str__(self):
        return self.company_name

    @property
    def domain_verified(self) -> bool:
        return bool(self.custom_domain) and self.domain_status == self.DomainStatus.VERIFIED

    @staticmethod
    def new_domain_token() -> str:
        return secrets.token_hex(16)


class PackageQuerySet(models.QuerySet["CreditPackage"]):
    def on_sale(self) -> "PackageQuerySet":
        """What clients can buy: neither removed (or replaced by a new version) nor hidden."""
        return self.filter(archived_at__isnull=True, hidden=False)

    def current(self) -> "PackageQuerySet":
        """What the agency manages: on sale or hidden, not removed nor replaced."""
        return self.filter(archived_at__isnull=True)


class CreditPackage(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="packages")
    credits = models.PositiveIntegerField()
    price_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCIES, default="EUR")
    created_at = models.DateTimeField(default=timezone.now)
    # A package that was sold is never deleted (purchases and invoices refer to
    # it); removing it takes it off sale, and so does editing it: the edit is a
    # new row (agencies.services.package_update), the old one keeps its purchases.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Off sale for now but kept in the console, to be shown again; unlike archived_at, undone in one click.
    hidden = models.BooleanField(default=False)
    # The order clients see the packages in (then by size); 0 for all until the agency reorders them.
    position = models.PositiveIntegerField(default=0)
    # The Stripe Price the portal created for this package (billing.provisioning); "" until provisioned.
    stripe_price_id = models.CharField(max_length=255, blank=True)

    objects = PackageQuerySet.as_manager()

    class Meta:
        ordering = ["position", "credits", "price_cents"]
        constraints = [
            models.CheckConstraint(condition=Q(credits__gt=0), name="package_credits_positive"),
            models.CheckConstraint(condition=Q(price_cents__gt=0), name="package_price_positive"),
            models.CheckConstraint(condition=Q(currency__in=["EUR", "USD", "GBP"]), name="package_currency_known"),
        ]

    def __str__(self):
        return f"{self.credits} credits for {money_format(self.price_cents, self.currency, symbol=False)}"


class Organization(models.Model):
    """A client's organization, created when the client signs up on a portal."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="organizations")
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        "User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_organizations",
    )
    # Written only by billing.ledger, always together with a ledger entry.
    credits_balance = models.BigIntegerField(default=0)
    # See Agency.low_balance_threshold.
    low_balance_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Low-balance alert when the credits fall below this; empty: none.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The agency's own notes on this client; never shown to the client.
    notes = models.TextField(blank=True, max_length=5000)
    # A suspended client's calls are refused (402 organization_suspended); it can still sign in and buy
    # credits to settle up. The last suspension and the last resumption are kept (who, when, why).
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey("User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    suspension_reason = models.CharField(max_length=200, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey("User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(low_balance_threshold__isnull=True) | Q(low_balance_threshold__gt=0),
                name="organization_low_balance_threshold_positive",
            ),
        ]
        # The ops sweep looks for recent sign-ups (ops.notices).
        indexes = [models.Index(fields=["created_at"], name="organization_created")]

    def __str__(self):
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class Role(models.TextChoices):
    """A member's role in an agency (owner, admin, billing, viewer) or a client organization (owner,
    billing, member). What each may do: agencies.roles."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BILLING = "billing", "Billing"
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"


AGENCY_ROLES = [Role.OWNER, Role.ADMIN, Role.BILLING, Role.VIEWER]
ORGANIZATION_ROLES = [Role.OWNER, Role.BILLING, Role.MEMBER]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        # The natural key names a console account (Django admin, createsuperuser).
        return self.get(email__iexact=email, agency__isnull=True)

    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """An account on exactly one host: the console (agency is null) or one portal.

    The same email may exist once per portal and once on the console.
    """

    email = models.EmailField(max_length=254)
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="portal_users",
        help_text="The portal this account belongs to; empty for console accounts.",
    )
    managed_agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="admins",
        help_text="The agency a console account administers.",
    )
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="members",
    )
    # What the account may do for its agency (console accounts) or its organization (portal accounts):
    # agencies.roles says which capabilities each role has. "owner" by default because every account
    # made before teams was its tenant's only login; members added later get their role explicitly.
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.OWNER)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "email"], condition=Q(agency__isnull=False), name="user_email_unique_per_portal"
            ),
            models.UniqueConstraint(
                fields=["email"], condition=Q(agency__isnull=True), name="user_email_unique_on_console"
            ),
            models.CheckConstraint(
                condition=Q(agency__isnull=True) | Q(managed_agency__isnull=True),
                name="user_portal_accounts_manage_nothing",
            ),
            models.CheckConstraint(
                condition=Q(organization__isnull=True) | Q(agency__isnull=False), name="user_organization_needs_portal"
            ),
            models.CheckConstraint(
                condition=Q(managed_agency__isnull=True) | Q(role__in=AGENCY_ROLES), name="user_agency_role_known"
            ),
            models.CheckConstraint(
                condition=Q(organization__isnull=True) | Q(role__in=ORGANIZATION_ROLES),
                name="user_organization_role_known",
            ),
        ]

    def __str__(self):
        return self.email


class AuditEntry(models.Model):
    """One change a person made, kept for good: who, for which tenant, what, before and after.

    Append-only: the application only inserts (agencies.audit.audit_record), and a database trigger
    refuses UPDATE (and DELETE on PostgreSQL), whatever the code path. The tenant and the actor are
    plain ids with copies of what identified them, not foreign keys: an entry outlives the account,
    the client or the object it names, and deleting one must not need to touch the log.
    """

    created_at = models.DateTimeField(default=timezone.now)
    # The agency whose log shows it; with organization_id also the client's own log. Both empty: a
    # platform-level change (the operator in Django admin on a platform object).
    agency_id = models.BigIntegerField(null=True, blank=True)
    organization_id = models.BigIntegerField(null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True, help_text="Empty: the system (a task, a webhook).")
    actor_email = models.CharField(max_length=254, blank=True)
    # "agency" (a console account), "client" (a portal account), "operator" (Django admin) or "system".
    actor_kind = models.CharField(max_length=10)
    action = models.CharField(max_length=60, help_text='What happened, e.g. "client.allocate", "member.role".')
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # {field: [before, after]}; a secret field is ["changed", "changed"], never its value.
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["agency_id", "-created_at"], name="audit_agency_recent"),
            models.Index(fields=["organization_id", "-created_at"], name="audit_organization_recent"),
            models.Index(fields=["-created_at"], name="audit_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(actor_kind__in=["agency", "client", "operator", "system"]), name="audit_actor_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(organization_id__isnull=True) | Q(agency_id__isnull=False),
                name="audit_organization_has_agency",
            ),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or 'system'} {self.action}"


class ViewAsToken(models.Model):
    """A one-minute, single-use ticket from the console to a client's portal ("view as client").

    The console and the portal are different hosts, so no session carries over: the console issues a
    random token, keeps only its SHA-256 here, and redirects to the portal, which redeems it once
    (agencies.view_as). Only the hash is stored, so a database reader cannot use a live token.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    member = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", help_text="The agency member.")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", help_text="The portal it opens.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="view_as_token_expires")]

    def __str__(self):
        return f"view as {self.organization_id} by {self.member_id}"


from .invitation_models import Invitation  # noqa: E402, F401  -- its own module, registered with this app
