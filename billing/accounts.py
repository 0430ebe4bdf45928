"""Whose Stripe account a payment is on: an agency's own, or the platform's.

Clients pay their agency on the agency's account; agencies pay the platform
for call minutes on the platform's account. Each is a StripeAccount (the
credentials travel as one object, built here: agency_account and
platform_account), and everything that talks to Stripe or handles its events
takes it as `account=` without asking whose it is. The helpers here keep the
two apart wherever purchases or processed events are looked up, so an event on
one account can never touch a purchase made on another.
"""

from django.conf import settings
from django.db.models import QuerySet

from agencies.models import Agency
from core.stripe_keys import is_live_key

from .models import Purchase
from .stripe_api import StripeAccount


def is_connected(agency: Agency) -> bool:
    """Whether the agency's clients pay through Stripe Connect (an account connected and not since disconnected)."""
    return bool(agency.stripe_account_id) and agency.stripe_disconnected_at is None


def agency_account(agency: Agency) -> StripeAccount:
    """The agency's Stripe account (its clients pay there).

    A connected agency's account is reached with the platform's key and the
    Stripe-Account header (direct charges; its events arrive signed with the
    Connect endpoint's secret). Otherwise the agency's own key, which must be
    loaded or loadable.
    """
    if is_connected(agency):
        return StripeAccount(
            secret_key=settings.PLATFORM_STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_CONNECT_WEBHOOK_SECRET,
            agency_id=agency.pk,
            label=f"agency {agency.pk} (connected {agency.stripe_account_id})",
            livemode=is_live_key(settings.PLATFORM_STRIPE_SECRET_KEY),
            connected_account_id=agency.stripe_account_id,
        )
    return agency_own_account(agency)


def agency_own_account(agency: Agency) -> StripeAccount:
    """The account behind the agency's own key (pasted), connected or not: its own webhook URL's events
    (payments made before it connected, refunds of them) are verified and fetched with these."""
    return StripeAccount(
        secret_key=agency.stripe_secret_key,
        webhook_secret=agency.stripe_webhook_secret,
        agency_id=agency.pk,
        label=f"agency {agency.pk}",
        livemode=is_live_key(agency.stripe_secret_key),
    )


def platform_account() -> StripeAccount:
    """The platform's Stripe account (PLATFORM_STRIPE_* settings): agencies buy minutes there."""
    return StripeAccount(
        secret_key=settings.PLATFORM_STRIPE_SECRET_KEY,
        webhook_secret=settings.PLATFORM_STRIPE_WEBHOOK_SECRET,
        agency_id=None,
        label="the platform",
        livemode=is_live_key(settings.PLATFORM_STRIPE_SECRET_KEY),
    )


def purchases_on(account: StripeAccount) -> QuerySet[Purchase]:
    """Purchases paid on this account: the platform's minute purchases, or an agency's client purchases."""
    if account.agency_id is None:
        return Purchase.objects.filter(organization__isnull=True)
    return Purchase.objects.filter(agency_id=account.agency_id, organization__isnull=False)
