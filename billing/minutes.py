"""Agencies buying call minutes from the platform, through Checkout on the platform's Stripe account.

minutes_purchase_start asks Stripe for a session with the platform's key
(PLATFORM_STRIPE_SECRET_KEY), then records the Purchase: no organization, no
package, `credits` counting minutes, the agency as buyer. From there it is
the client purchases' own machinery, called with the platform's StripeAccount: the
webhook at /api/webhooks/stripe/platform and the console's success page both
run checkout.purchase_fulfil (credited once, invoiced by the platform in the
same transaction); refunds and disputes take minutes back through refunds.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from agencies import roles, tenancy
from agencies.models import Agency
from core.refs import client_reference
from invoices import platform as platform_invoices

from . import accounts, stripe_api
from .checkout import Started
from .models import Purchase


class MinutesRefused(ValueError):
    """The amount of minutes cannot be bought; the message says why, for the agency admin."""


@dataclass(frozen=True)
class MinutesQuote:
    minutes: int
    price_cents: int  # minutes x PLATFORM_MINUTE_PRICE_CENTS
    terms: platform_invoices.CheckoutTerms

    @property
    def amount_cents(self) -> int:
        """What Checkout charges: the price, plus VAT when the platform's prices exclude it."""
        return self.terms.amounts.gross

    @property
    def currency(self) -> str:
        return settings.PLATFORM_CURRENCY


def minutes_validate(minutes) -> int:
    """A whole number of minutes within the purchase limits, or MinutesRefused."""
    low, high = settings.PLATFORM_MINUTES_MIN_PURCHASE, settings.PLATFORM_MINUTES_MAX_PURCHASE
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise MinutesRefused("Enter the minutes as a whole number.")
    if minutes < low:
        raise MinutesRefused(f"The smallest purchase is {low:,} minutes.")
    if minutes > high:
        raise MinutesRefused(f"The largest purchase is {high:,} minutes; buy more in several purchases.")
    return minutes


def minutes_quote(*, agency: Agency, minutes: int) -> MinutesQuote:
    price = minutes * settings.PLATFORM_MINUTE_PRICE_CENTS
    return MinutesQuote(minutes, price, platform_invoices.minute_terms(agency=agency, price_cents=price))


def _console_url(name: str, **kwargs) -> str:
    return tenancy.console_url(reverse(name, kwargs=kwargs or None, urlconf=settings.ROOT_URLCONF))


def minutes_purchase_start(*, agency: Agency, user, minutes: int) -> Started:
    """Create the Checkout Session on the platform's account, then the local Purchase.

    Raises MinutesRefused for an amount outside the limits, and
    StripeRejected("auth") when the platform has no Stripe key; Stripe's own
    errors propagate and nothing is written (as for client purchases).
    """
    roles.require_actor(user, agency="billing")
    minutes = minutes_validate(minutes)
    account = accounts.platform_account()
    if not account.configured:
        raise stripe_api.StripeRejected("auth")
    quote = minutes_quote(agency=agency, minutes=minutes)
    reference = uuid.uuid4().hex
    metadata = {"purchase": reference, "agency_id": str(agency.pk), "minutes": str(minutes)}
    session = stripe_api.session_create(
        account=account,
        idempotency_key=f"minutes-{reference}",
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": quote.currency.lower(),
                        "unit_amount": quote.amount_cents,
                        "product_data": {"name": f"{minutes:,} call minutes"},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": client_reference(agency_id=agency.pk, organization_id=None),
            "customer_email": user.email,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": _console_url("console_billing:minutes_success") + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": _console_url("console_billing:minutes_cancelled", reference=reference),
        },
    )
    purchase = Purchase.objects.create(
        reference=reference,
        agency=agency,
        organization=None,
        package=None,
        buyer=user,
        credits=minutes,
        amount_cents=quote.amount_cents,
        currency=quote.currency,
        livemode=bool(session.livemode),
        stripe_session_id=session.id,
    )
    return Started(purchase=purchase, checkout_url=session.url)


def minute_purchases(*, agency: Agency):
    """The agency's minute purchases, newest first."""
    return Purchase.objects.filter(agency=agency, organization__isnull=True).select_related("buyer")
