"""Reads for billing pages."""

from django.db.models import QuerySet

from agencies.models import Agency, Organization

from .models import ABANDONED, LedgerEntry, Purchase, Refund, StripeReconciliation


def ledger_history(*, organization: Organization) -> QuerySet[LedgerEntry]:
    """An organization's ledger entries, newest first, with who made them."""
    return LedgerEntry.objects.filter(organization=organization).select_related("actor").order_by("-created_at", "-pk")


def agency_purchases(*, agency: Agency) -> QuerySet[Purchase]:
    """The agency's clients' purchases, newest first, with client and package in the same query.

    Minutes the agency bought from the platform are its own purchases, listed by billing.minutes."""
    return (
        Purchase.objects.filter(agency=agency, organization__isnull=False)
        .select_related("organization", "package", "buyer")
        .order_by("-created_at", "-pk")
    )


# What the console's purchases list shows: by default not the checkouts a client cancelled or let expire.
PURCHASE_FILTERS = {"": "Open and paid", "abandoned": "Cancelled or expired", "all": "All"}


def agency_purchases_shown(*, agency: Agency, show: str) -> QuerySet[Purchase]:
    """The agency's clients' purchases for the console list and its CSV; `show` is a PURCHASE_FILTERS key."""
    purchases = agency_purchases(agency=agency)
    if show == "all":
        return purchases
    if show == "abandoned":
        return purchases.filter(status__in=ABANDONED)
    return purchases.exclude(status__in=ABANDONED)


def reconciliation(*, agency: Agency | None) -> StripeReconciliation | None:
    """The record of the last reconciliation of the agency's Stripe account; None: the platform's."""
    return StripeReconciliation.objects.filter(agency=agency).first()


def purchase_refunds(*, purchase: Purchase) -> QuerySet[Refund]:
    """Refunds made from the console for this purchase, oldest first, with who made them."""
    return purchase.refunds.select_related("actor").order_by("created_at", "pk")
