"""Wire the demo agency, and the platform's own account, to the bundled Stripe stand-in (load_demo, under `make run`).

The stand-in keeps its state in memory, so every start is an empty Stripe:
this makes the demo key known, makes sure the product and a price matching
the first package exist, and registers the portal's webhook endpoint, storing
its fresh signing secret. Running it again converges to the same state.
"""

import uuid

from django.conf import settings
from django.urls import reverse

from agencies import services, tenancy
from agencies.models import Agency

from . import accounts, connect, stripe_api

DEMO_PRODUCT_ID = "prod_demo0001"


def _missing_is_none(func):
    try:
        return func()
    except stripe_api.StripeRejected as exc:
        if exc.kind == "missing":
            return None
        raise


def stripe_connect(agency: Agency) -> None:
    from stripe_standin.client import account_ensure  # the stand-in's own control, not Stripe's API

    account_ensure(settings.STRIPE_API_BASE, agency.stripe_secret_key)
    account = accounts.agency_account(agency)
    product_id = agency.stripe_product_id or DEMO_PRODUCT_ID
    price_id = agency.stripe_price_id
    package = agency.packages.order_by("credits", "price_cents").first()
    price = None
    if price_id:
        price = _missing_is_none(lambda: stripe_api.price_retrieve(account=account, price_id=price_id))
    fits = (
        price is not None
        and price.product == product_id
        and package is not None
        and price.unit_amount == package.price_cents
        and price.currency == package.currency.lower()
    )
    if package is not None and not fits:
        if _missing_is_none(lambda: stripe_api.product_retrieve(account=account, product_id=product_id)) is None:
            stripe_api.product_create(
                account=account,
                idempotency_key=uuid.uuid4().hex,
                params={"id": product_id, "name": f"{agency.company_name} credits"},
            )
        price = stripe_api.price_create(
            account=account,
            idempotency_key=uuid.uuid4().hex,
            params={
                "product": product_id,
                "currency": package.currency.lower(),
                "unit_amount": package.price_cents,
            },
        )
        price_id = price.id
    webhook_url = tenancy.console_url(
        reverse("api:stripe_webhook", kwargs={"slug": agency.slug}, urlconf=settings.ROOT_URLCONF)
    )
    secret = stripe_api.webhook_endpoint_replace(account=account, url=webhook_url, idempotency_key=uuid.uuid4().hex)
    services.agency_update_stripe(
        agency=agency,
        data={
            "stripe_publishable_key": agency.stripe_publishable_key,
            "stripe_product_id": product_id,
            "stripe_price_id": price_id,
            "stripe_secret_key": "",
            "stripe_webhook_secret": secret,
        },
    )


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
