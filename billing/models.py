from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency, Organization


class LedgerEntry(models.Model):
    """One change of one balance. Append-only: never edited, never deleted.

    The account is either a client organization (credits) or an agency
    (minutes). `reference` makes a write idempotent per account.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        ALLOCATION = "allocation", "Allocation"
        DEDUCTION = "deduction", "Deduction"
        USAGE = "usage", "Usage"
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"
        REVERSAL = "reversal", "Reversal"
        ADJUSTMENT = "adjustment", "Adjustment"

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries",
    )
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=200)
    balance_after = models.BigIntegerField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(organization__isnull=False) & Q(agency__isnull=True))
                | (Q(organization__isnull=True) & Q(agency__isnull=False)),
                name="ledger_entry_one_account",
            ),
            models.UniqueConstraint(
                fields=["organization", "reference"], condition=Q(organization__isnull=False),
                name="ledger_reference_unique_per_organization",
            ),
            models.UniqueConstraint(
                fields=["agency", "reference"], condition=Q(agency__isnull=False),
                name="ledger_reference_unique_per_agency",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_nonzero"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="ledger_org_recent"),
            models.Index(fields=["agency", "-created_at"], name="ledger_agency_recent"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d} ({self.reference})"
