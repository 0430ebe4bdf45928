"""Wire the demo agency, and the platform's own account, to the bundled Stripe stand-in (load_demo, under `make run`).

The stand-in keeps its state in memory, so every start is an empty Stripe:
this makes the demo key known to it, then lets the portal set the account up
as it does for any agency's key (billing.provisioning: a product, a price per
package, the webhook endpoint and its fresh signing secret). Running it again
converges to the same state.
"""

from django.conf import settings
from django.urls import reverse

from agencies import tenancy
from agencies.models import Agency

from . import connect, provisioning, stripe_api


def stripe_connect(agency: Agency) -> None:
    from stripe_standin.client import account_ensure  # the stand-in's own control, not Stripe's API

    account_ensure(settings.STRIPE_API_BASE, agency.stripe_secret_key)
    try:
        provisioning.stripe_provision(agency=agency)
    except provisioning.ProvisionError as exc:
        raise RuntimeError(str(exc)) from None


def platform_connect() -> bool:
    """Make the platform's own Stripe account (agencies buy minutes on it) work on the stand-in.

    Its keys and webhook signing secret are settings, so the endpoint for
    /api/webhooks/stripe/platform is registered with that very secret (a
    stand-in control; on real Stripe the operator copies Stripe's secret into
    PLATFORM_STRIPE_WEBHOOK_SECRET). False when the platform has no keys.
    """
    from stripe_standin.client import account_ensure, webhook_endpoint_set

    if not (settings.PLATFORM_STRIPE_SECRET_KEY and settings.PLATFORM_STRIPE_WEBHOOK_SECRET):
        return False
    account_ensure(settings.STRIPE_API_BASE, settings.PLATFORM_STRIPE_SECRET_KEY)
    webhook_endpoint_set(
        settings.STRIPE_API_BASE,
        settings.PLATFORM_STRIPE_SECRET_KEY,
        url=tenancy.console_url(reverse("api:platform_stripe_webhook", urlconf=settings.ROOT_URLCONF)),
        signing_secret=settings.PLATFORM_STRIPE_WEBHOOK_SECRET,
        events=stripe_api.WEBHOOK_EVENTS,
    )
    if settings.STRIPE_CONNECT_WEBHOOK_SECRET:
        # The platform's one Connect endpoint: every connected agency's events, signed with the setting.
        webhook_endpoint_set(
            settings.STRIPE_API_BASE,
            settings.PLATFORM_STRIPE_SECRET_KEY,
            url=tenancy.console_url(reverse("api:connect_stripe_webhook", urlconf=settings.ROOT_URLCONF)),
            signing_secret=settings.STRIPE_CONNECT_WEBHOOK_SECRET,
            events=connect.CONNECT_WEBHOOK_EVENTS,
            connect=True,
        )
    return True
