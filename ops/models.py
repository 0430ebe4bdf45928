"""Pull sync sources, low-balance alert settings, alerts and their deliveries.

Secrets (an upstream's API key, a webhook signing secret) are encrypted at
rest (agencies.crypto) and never rendered, logged or returned after the one
answer that shows a new signing secret.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from agencies.crypto import EncryptedTextField
from agencies.models import Agency, Organization


def _one_owner(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=(Q(organization__isnull=False) & Q(agency__isnull=True))
        | (Q(organization__isnull=True) & Q(agency__isnull=False)),
        name=f"{prefix}_one_owner",
    )


# --- Pull sync ---------------------------------------------------------------------


class UsageSource(models.Model):
    """An upstream usage API (the calling platform) whose call records the portal pulls.

    An agency's source feeds that agency's clients; a source without an agency
    (the platform's, set up in Django admin) feeds any agency's clients, each
    record going to the agency of its organization. `synced_through` is the
    high-water mark: the last day fully pulled.
    """

    agency = models.OneToOneField(
        Agency,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="usage_source",
        help_text="Empty: a platform-wide source whose records may be for any agency's clients.",
    )
    name = models.CharField(max_length=100, blank=True)
    base_url = models.URLField(max_length=500, help_text="e.g. https://api.example.com; /api/v1/usage is appended.")
    api_key = EncryptedTextField(help_text="Sent as Authorization: Bearer …; stored encrypted, never shown again.")
    enabled = models.BooleanField(default=True)
    start_date = models.DateField(help_text="First day pulled when nothing has been synced yet (UTC).")
    synced_through = models.DateField(null=True, blank=True, help_text="Last day pulled completely (UTC).")
    next_attempt_at = models.DateTimeField(default=timezone.now)
    failures = models.PositiveIntegerField(default=0, help_text="Failed runs in a row; sets the backoff.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_counts = models.JSONField(default=dict, blank=True, help_text="Outcomes of the last successful run.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(enabled=True), name="usage_source_due")]

    def __str__(self):
        return self.name or (f"Usage source of agency {self.agency_id}" if self.agency_id else "Platform usage source")


class PullRejection(models.Model):
    """An upstream record the ingest refused (malformed, another tenant's, a conflict), kept to be looked at.

    One row per source and distinct record content; pulling it again counts it again.
    """

    source = models.ForeignKey(UsageSource, on_delete=models.CASCADE, related_name="rejections")
    fingerprint = models.CharField(max_length=64)
    record_id = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=40)
    reason = models.CharField(max_length=300)
    times = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["source", "fingerprint"], name="pull_rejection_once")]

    def __str__(self):
        return f"{self.code}: {self.record_id or self.fingerprint[:12]}"


# --- Low-balance alerts ------------------------------------------------------------


class AlertSettings(models.Model):
    """Where an organization (credits) or agency (minutes) hears that its balance runs low.

    The threshold itself is a column of the account (low_balance_threshold), where the ledger reads it.
    """

    organization = models.OneToOneField(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_settings",
    )
    agency = models.OneToOneField(
        Agency,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_settings",
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    signing_secret = EncryptedTextField(blank=True)
    secret_created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alert settings"
        constraints = [
            _one_owner("alert_settings"),
            models.CheckConstraint(
                condition=Q(webhook_url="") | ~Q(signing_secret=""), name="alert_settings_webhook_signed"
            ),
        ]

    def __str__(self):
        owner = f"organization {self.organization_id}" if self.organization_id else f"agency {self.agency_id}"
        return f"Alerts of {owner}"


class BalanceAlert(models.Model):
    """One crossing (billing.BalanceCrossing) taken to be told: its email and webhook deliveries hang off it."""

    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="balance_alerts",
    )
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="balance_alerts")
    # billing.BalanceCrossing.Kind: "low" (fell below the threshold) or "exhausted" (calls refused for lack of minutes)
    kind = models.CharField(max_length=20, default="low", db_default="low")
    threshold = models.PositiveIntegerField()
    balance_before = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reference = models.CharField(max_length=200, help_text="The ledger reference of the debit that crossed.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            _one_owner("balance_alert"),
            models.CheckConstraint(
                condition=Q(kind="exhausted", agency__isnull=False, balance_after__lt=F("threshold"))
                | Q(kind="low", balance_before__gte=F("threshold"), balance_after__lt=F("threshold")),
                name="balance_alert_is_a_crossing",
            ),
            # A ledger reference is posted once per account, so it crosses at most once.
            models.UniqueConstraint(
                fields=["organization", "reference"],
                condition=Q(organization__isnull=False),
                name="balance_alert_once_per_org_debit",
            ),
            models.UniqueConstraint(
                fields=["agency", "reference"],
                condition=Q(agency__isnull=False),
                name="balance_alert_once_per_agency_debit",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="balance_alert_org_recent"),
            models.Index(fields=["agency", "-created_at"], name="balance_alert_agency_recent"),
        ]

    def __str__(self):
        return f"{self.reference}: {self.balance_before} → {self.balance_after} {self.unit}"

    @property
    def unit(self) -> str:
        return "credits" if self.organization_id else "minutes"


class AlertDelivery(models.Model):
    """Telling someone about an alert: one branded email, or one signed webhook; retried with backoff."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        BALANCE_LOW = "balance_low", "Low balance"
        TEST = "test", "Test event"
        CLIENT_SIGNUP = "client_signup", "New client"
        PURCHASE_PAID = "purchase_paid", "Purchase paid"

    # A low-balance delivery hangs off its alert; the others (a test event, an agency notice) name
    # their owner themselves, and a notice its cause (`reference`, e.g. purchase:12), told once.
    alert = models.ForeignKey(BalanceAlert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.BALANCE_LOW)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    event_id = models.CharField(max_length=40, blank=True, help_text="The webhook event's id, the same on every try.")
    payload = models.TextField(blank=True, help_text="The exact webhook body sent on every try.")
    target = models.CharField(max_length=500, blank=True, help_text="Where the last try went.")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel"], name="alert_delivery_once_per_channel"),
            # An agency notice is made once per cause, however many sweeps race.
            models.UniqueConstraint(
                fields=["kind", "channel", "reference"],
                condition=~Q(reference=""),
                name="alert_delivery_once_per_cause",
            ),
            models.CheckConstraint(
                condition=Q(alert__isnull=False) | Q(agency__isnull=False) | Q(organization__isnull=False),
                name="alert_delivery_has_owner",
            ),
            models.CheckConstraint(condition=Q(channel__in=["email", "webhook"]), name="alert_delivery_channel_known"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]), name="alert_delivery_status_known"
            ),
            models.CheckConstraint(
                condition=Q(status="delivered", delivered_at__isnull=False)
                | (~Q(status="delivered") & Q(delivered_at__isnull=True)),
                name="alert_delivery_delivered_at",
            ),
        ]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="alert_delivery_due")]

    def __str__(self):
        return f"{self.channel} {self.kind} {self.alert_id or self.reference}: {self.status}"

    @property
    def is_test(self) -> bool:
        return self.kind == self.Kind.TEST

    @property
    def badge(self) -> str:
        return {"delivered": "ok", "failed": "bad"}.get(self.status, "")
