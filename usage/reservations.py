"""Authorizing calls: hold minutes for a call before it happens; release what expires.

Free = balance - reserved, where reserved is the sum of the account's active,
unexpired reservations. A reservation holds minutes against the client's
credits and its agency's minutes at once. The decision is taken under the
ledger's row locks (agency, then client), so concurrent authorizations of
one agency queue up and can never reserve more than is free.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from agencies.models import Organization
from billing import crossings, ledger

from .models import Reservation

INSUFFICIENT_MESSAGE = "Insufficient credits to make outbound call. Please add credits in your billing dashboard."
PROVIDER_EXHAUSTED_MESSAGE = (
    "Calls cannot be placed right now: your provider has run out of call minutes. "
    "Your credits are untouched; the provider has been notified."
)


class InsufficientCredits(Exception):
    """The client's free credits or the agency's free minutes cannot cover one minute."""

    def __init__(self, *, client_free: int, agency_free: int):
        self.client_free = client_free
        self.agency_free = agency_free
        super().__init__(INSUFFICIENT_MESSAGE)


class ProviderMinutesExhausted(InsufficientCredits):
    """The client has credits, but its agency has no free minute left: not the client's doing."""


SUSPENDED_MESSAGE = (
    "This organization's account is suspended by its provider; calls are paused. Contact your provider to resume it."
)


class OrganizationSuspended(Exception):
    """The client's agency suspended it: no call is authorized until it is resumed."""

    def __init__(self) -> None:
        super().__init__(SUSPENDED_MESSAGE)


@dataclass(frozen=True)
class Reserved:
    agency: int
    organization: int


def reserved_minutes(*, agency_id: int, organization_id: int, now: datetime) -> Reserved:
    """What active, unexpired reservations hold against the agency and against one of its clients."""
    totals = Reservation.objects.filter(
        agency_id=agency_id,
        status=Reservation.Status.ACTIVE,
        expires_at__gt=now,
    ).aggregate(agency=Sum("minutes"), organization=Sum("minutes", filter=Q(organization_id=organization_id)))
    return Reserved(totals["agency"] or 0, totals["organization"] or 0)


def call_authorize(*, organization: Organization, max_minutes: int) -> Reservation:
    """Reserve min(max_minutes, what both the client and its agency have free), at least one minute.

    Raises OrganizationSuspended when the client is suspended; InsufficientCredits, changing
    nothing, when the client has less than one free credit; ProviderMinutesExhausted when the
    client has but its agency has less than one free minute, after recording the agency's
    exhaustion (once per episode; ops alerts the agency: billing.crossings.exhaustion_record).
    """
    if not isinstance(max_minutes, int) or isinstance(max_minutes, bool) or max_minutes < 1:
        raise ValueError("max_minutes must be a positive integer")
    if organization.suspended_at is not None:  # as read with the organization, moments ago: no extra query
        raise OrganizationSuspended()
    with transaction.atomic():
        locked = ledger.accounts_lock(agency_id=organization.agency_id, organization_ids=[organization.pk])
        now = timezone.now()
        held = reserved_minutes(agency_id=organization.agency_id, organization_id=organization.pk, now=now)
        client_free = locked.organization_balances[organization.pk] - held.organization
        agency_free = locked.agency_balance - held.agency
        minutes = min(max_minutes, client_free, agency_free)
        if minutes < 1 and client_free < 1:
            raise InsufficientCredits(client_free=client_free, agency_free=agency_free)
        if minutes < 1:
            # Recorded under the agency's lock, and committed: the refusal is raised after the block.
            crossings.exhaustion_record(
                agency_id=organization.agency_id, balance=locked.agency_balance, free=agency_free
            )
        else:
            return Reservation.objects.create(
                agency_id=organization.agency_id,
                organization=organization,
                minutes=minutes,
                created_at=now,
                # Long enough for the whole call, plus time to set it up and to report it.
                expires_at=now + timedelta(seconds=minutes * 60 + settings.RESERVATION_GRACE_SECONDS),
            )
    raise ProviderMinutesExhausted(client_free=client_free, agency_free=agency_free)


def reservations_expire(*, now: datetime | None = None) -> int:
    """Mark active reservations past their expiry as expired; returns how many.

    Bookkeeping only: an expired reservation stopped holding minutes at
    `expires_at` already, so a late run of this never lets anyone overspend.
    """
    now = now or timezone.now()
    return Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lte=now).update(
        status=Reservation.Status.EXPIRED,
        closed_at=now,
    )
