"""API keys, call usage reported by the calling platform, and call reservations.

Balances live on Agency.minutes_balance and Organization.credits_balance and
move only through billing.ledger. What is *reserved* is never stored on an
account: it is the sum of the account's active, unexpired Reservation rows,
summed under the account's row lock whenever a decision depends on it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from agencies.models import Agency, Organization


class ApiKey(models.Model):
    """A bearer key of one client organization or one agency.

    The key itself is shown once, at creation; only its SHA-256 is stored
    (keys are 256 random bits, so a fast hash is enough). `prefix` is the
    non-secret start of the key that lists show.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False) & Q(agency__isnull=True))
                | (Q(organization__isnull=True) & Q(agency__isnull=False)),
                name="api_key_one_owner",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Reservation(models.Model):
    """Minutes held for a call that has been authorized and not yet reported.

    Held against both the client's credits and its agency's minutes while
    ACTIVE and not past `expires_at`; settled by the usage record that carries
    its id, or marked EXPIRED by the periodic task. An expired reservation
    stops counting at `expires_at` whether or not the task has run yet.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SETTLED = "settled", "Settled"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="reservations")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="reservations")
    minutes = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="reservation_minutes_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["active", "settled", "expired"]), name="reservation_status_known"
            ),
            models.CheckConstraint(
                condition=Q(status="active", closed_at__isnull=True)
                | (~Q(status="active") & Q(closed_at__isnull=False)),
                name="reservation_closed_when_not_active",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "expires_at"], condition=Q(status="active"), name="reservation_active_org"
            ),
            models.Index(
                fields=["agency", "expires_at"], condition=Q(status="active"), name="reservation_active_agency"
            ),
            models.Index(fields=["expires_at"], condition=Q(status="active"), name="reservation_active_expiry"),
            # The transactions' hold and release rows: an account's reservations by day of creation / closing.
            models.Index(fields=["organization", "created_at"], name="reservation_org_created"),
            models.Index(fields=["agency", "created_at"], name="reservation_agency_created"),
            models.Index(fields=["organization", "closed_at"], name="reservation_org_closed"),
            models.Index(fields=["agency", "closed_at"], name="reservation_agency_closed"),
        ]

    def __str__(self):
        return f"{self.minutes} min for {self.organization_id} ({self.status})"


class UsageRecord(models.Model):
    """One call reported by the calling platform, charged exactly once.

    `record_id` is the platform's id: unique per agency, it makes the sync
    idempotent. The reported content is kept so that a repeat with different
    content is recognised as a conflict.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    # The accounts' single-column indexes would repeat usage_record_unique_per_agency, usage_org_time and
    # usage_agency_time, which lead with them; every call pays for each index (usage 0005).
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="usage_records", db_index=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="usage_records", db_index=False
    )
    record_id = models.CharField(max_length=100)
    duration_sec = models.PositiveIntegerField()
    # Billed whole minutes: ceil(duration_sec / 60), enforced by a constraint.
    minutes = models.PositiveIntegerField()
    created_at = models.DateTimeField(help_text="When the call happened, as reported by the platform.")
    number_id = models.CharField(max_length=100)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    reservation = models.ForeignKey(
        Reservation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="usage_records",
        db_index=False,  # usage_record_reservation, where set
    )
    # The charge took the client's credits or the agency's minutes below zero.
    overdraft = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "record_id"], name="usage_record_unique_per_agency"),
            models.CheckConstraint(condition=Q(minutes=(F("duration_sec") + 59) / 60), name="usage_minutes_is_ceiling"),
            models.CheckConstraint(condition=Q(direction__in=["inbound", "outbound"]), name="usage_direction_known"),
            models.CheckConstraint(condition=~Q(record_id=""), name="usage_record_id_present"),
        ]
        indexes = [
            models.Index(fields=["organization", "created_at", "id"], name="usage_org_time"),
            models.Index(fields=["agency", "created_at", "id"], name="usage_agency_time"),
            models.Index(
                fields=["reservation"], name="usage_record_reservation", condition=Q(reservation__isnull=False)
            ),
        ]

    def __str__(self):
        return f"{self.record_id}: {self.duration_sec}s"


class UsageDay(models.Model):
    """One organization's calls of one UTC day, summed: what every usage summary reads.

    Written only by usage.rollups, in the transaction that stores the calls (or
    that rebuilds them from the raw rows); `manage.py usage_check` proves it
    equals the UsageRecord rows it sums. An agency's figures are in
    UsageAgencyDay, the sum over its organizations' rows.
    """

    # Not indexed alone: the unique constraint leads with the organization, the agency index with the agency.
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField(help_text="The UTC day the calls happened (UsageRecord.created_at).")
    calls = models.BigIntegerField()
    seconds = models.BigIntegerField()
    minutes = models.BigIntegerField(help_text="Billed minutes: the sum of each call's UsageRecord.minutes.")
    last_call_at = models.DateTimeField(help_text="The latest created_at among the day's calls.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "day"], name="usage_day_unique"),
            models.CheckConstraint(condition=Q(calls__gt=0), name="usage_day_has_calls"),
        ]
        indexes = [
            models.Index(fields=["agency", "day"], name="usage_day_agency", include=["calls", "seconds", "minutes"]),
        ]

    def __str__(self):
        return f"{self.organization_id} {self.day}: {self.calls} calls"


class UsageDayNumber(models.Model):
    """One organization's calls of one UTC day on one number in one direction, summed.

    Read only by the summaries grouped by number or direction; the other
    summaries read UsageDay, which stays one row per organization and day
    however many numbers a client has.
    """

    # Not indexed alone: the unique constraint leads with the organization, the agency index with the agency.
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    direction = models.CharField(max_length=8, choices=UsageRecord.Direction.choices)
    number_id = models.CharField(max_length=100)
    calls = models.BigIntegerField()
    seconds = models.BigIntegerField()
    minutes = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "direction", "number_id"], name="usage_day_number_unique"
            ),
            models.CheckConstraint(condition=Q(calls__gt=0), name="usage_day_number_has_calls"),
        ]
        indexes = [models.Index(fields=["agency", "day"], name="usage_day_number_agency")]

    def __str__(self):
        return f"{self.organization_id} {self.day} {self.direction} {self.number_id}: {self.calls} calls"


class UsageAgencyDay(models.Model):
    """All of one agency's calls of one UTC day, summed: the agency's own figures in one row a day.

    The sum of its organizations' UsageDay rows, kept beside them by the same
    statement, so an agency's month or chart reads a row a day however many
    clients it has.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)  # the unique leads
    day = models.DateField()
    calls = models.BigIntegerField()
    seconds = models.BigIntegerField()
    minutes = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "day"], name="usage_agency_day_unique"),
            models.CheckConstraint(condition=Q(calls__gt=0), name="usage_agency_day_has_calls"),
        ]

    def __str__(self):
        return f"agency {self.agency_id} {self.day}: {self.calls} calls"
