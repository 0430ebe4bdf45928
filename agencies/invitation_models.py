"""Invitations to join an agency (a console account) or a client organization (a portal account).

Imported by agencies.models, so Django sees the model as part of the agencies app.
"""

import hashlib
import secrets
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .models import AGENCY_ROLES, ORGANIZATION_ROLES, Agency, Organization, Role, User

VALID_FOR = timedelta(days=7)


def invitation_token_new() -> tuple[str, str]:
    """(token for the link, its hash for the database): 256 random bits; only the hash is kept."""
    token = secrets.token_urlsafe(32)
    return token, invitation_token_hash(token)


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An owner's invitation to `email`, with a role: single use, for 7 days, revocable.

    With an organization it is a portal invitation (an account of `agency`'s portal, in that
    organization); without one a console invitation (a console account managing `agency`). The link
    carries a random token; only its SHA-256 is stored, so a database read cannot forge a link, and
    resending replaces it (the old link stops working).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        EXPIRED = "expired", "Expired"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254, help_text="Lowercased.")
    role = models.CharField(max_length=10, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now, help_text="When the current link was made.")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="invitation_email_lowercase"),
            models.CheckConstraint(
                condition=(Q(organization__isnull=True) & Q(role__in=AGENCY_ROLES))
                | (Q(organization__isnull=False) & Q(role__in=ORGANIZATION_ROLES)),
                name="invitation_role_known",
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_accepted_or_revoked",
            ),
            # One open invitation per address and tenant: a second one is a resend.
            models.UniqueConstraint(
                fields=["agency", "email"],
                condition=Q(organization__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_unique_agency",
            ),
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(organization__isnull=False, accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_unique_organization",
            ),
        ]

    def __str__(self):
        return f"{self.email} ({self.get_role_display()})"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if timezone.now() >= self.expires_at:
            return self.Status.EXPIRED
        return self.Status.PENDING

    @property
    def is_open(self) -> bool:
        """Neither accepted nor revoked (it may have expired: a resend opens it again)."""
        return self.accepted_at is None and self.revoked_at is None

    @property
    def tenant_name(self) -> str:
        return self.organization.name if self.organization is not None else self.agency.company_name
