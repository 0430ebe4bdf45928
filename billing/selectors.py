"""Reads for billing pages."""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from django.db.models import QuerySet

from agencies.models import Agency, CreditPackage, Organization
from core.money import round_ratio

from .models import ABANDONED, LedgerEntry, Purchase, Refund, StripeReconciliation


def ledger_history(*, organization: Organization) -> QuerySet[LedgerEntry]:
    """An organization's ledger entries, newest first, with who made them."""
    return LedgerEntry.objects.filter(organization=organization).select_related("actor").order_by("-created_at", "-pk")


def pending_purchases(*, organization: Organization) -> QuerySet[Purchase]:
    """The client's purchases paid by a delayed method (a bank debit) and not settled yet, newest first.

    They credit nothing until Stripe confirms the payment, so the balance alone would hide them."""
    return Purchase.objects.filter(organization=organization, status=Purchase.Status.PROCESSING).order_by(
        "-created_at", "-pk"
    )


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


@dataclass(frozen=True)
class UnitPrice:
    per_minute_cents: int  # the package price per credit (minute), rounded half up to a minor unit
    best_value: bool  # the lowest price per credit among the packages in its currency, when there is a choice


def package_unit_prices(*, packages: Sequence[CreditPackage]) -> dict[int, UnitPrice]:
    """Each package's price per credit, by package id, and which is the best value in its currency.

    Compared exactly (Fractions); of equal prices per credit the larger package is the best value."""
    best: dict[str, CreditPackage] = {}
    counts: dict[str, int] = {}
    for package in packages:
        key = (Fraction(package.price_cents, package.credits), -package.credits)
        counts[package.currency] = counts.get(package.currency, 0) + 1
        current = best.get(package.currency)
        if current is None or key < (Fraction(current.price_cents, current.credits), -current.credits):
            best[package.currency] = package
    return {
        package.pk: UnitPrice(
            round_ratio(Fraction(package.price_cents, package.credits)),
            counts[package.currency] > 1 and best[package.currency].pk == package.pk,
        )
        for package in packages
    }
