"""Whose Stripe account a payment is on: an agency's own, or the platform's.

Clients pay their agency on the agency's account; agencies pay the platform
for call minutes on the platform's account. stripe_api builds every request
from the object it is given (`stripe_secret_key`, and `stripe_webhook_secret`
to verify webhooks), so the platform is passed around as a PlatformAccount
built from settings, where an agency would be. The helpers here keep the two
apart wherever purchases or processed events are looked up, so an event on
one account can never touch a purchase made on another.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet

from agencies.models import Agency

from .models import Purchase


@dataclass(frozen=True)
class PlatformAccount:
    """The platform's Stripe account (PLATFORM_STRIPE_* settings). Secrets stay out of repr()."""

    stripe_secret_key: str = field(repr=False)
    stripe_webhook_secret: str = field(repr=False)
    stripe_publishable_key: str = ""
    pk = None  # log lines name "agency None" rather than fail

    @property
    def configured(self) -> bool:
        return bool(self.stripe_secret_key)

    def __str__(self) -> str:
        return "platform"


def platform_account() -> PlatformAccount:
    return PlatformAccount(
        stripe_secret_key=settings.PLATFORM_STRIPE_SECRET_KEY,
        stripe_webhook_secret=settings.PLATFORM_STRIPE_WEBHOOK_SECRET,
        stripe_publishable_key=settings.PLATFORM_STRIPE_PUBLISHABLE_KEY,
    )


def is_platform(account) -> bool:
    return isinstance(account, PlatformAccount)


def purchases_on(account) -> QuerySet[Purchase]:
    """Purchases paid on this account: the platform's minute purchases, or an agency's client purchases."""
    if is_platform(account):
        return Purchase.objects.filter(organization__isnull=True)
    return Purchase.objects.filter(agency=account, organization__isnull=False)


def event_owner(account) -> Agency | None:
    """The StripeEvent.agency value for events of this account (None: the platform's)."""
    return None if is_platform(account) else account
