""" "Use a test Stripe account": a connected account made on the bundled stand-in in one click.

Only offered when STRIPE_API_BASE points at the stand-in (it answers
/_standin/health). The account is created through the Accounts API on the
platform's key, its onboarding is completed through a stand-in control (what
the agency would do on Stripe's hosted page), then it is connected with the
same service as the OAuth return.
"""

import uuid

from django.conf import settings

from agencies.models import Agency

from . import accounts, connect, stripe_api


def standin_available() -> bool:
    """Whether STRIPE_API_BASE is the stand-in (a real Stripe has no /_standin/ routes)."""
    from stripe_standin.client import call  # the stand-in's own controls, not Stripe's API

    if not settings.STRIPE_API_BASE or not connect.is_available():
        return False
    try:
        return bool(call(settings.STRIPE_API_BASE, "/_standin/health", method="GET").get("ok"))
    except (OSError, RuntimeError, ValueError):
        return False


def _onboarding_complete(account_id: str) -> None:
    from stripe_standin.client import call

    try:
        call(
            settings.STRIPE_API_BASE,
            f"/_standin/accounts/{account_id}/onboard",
            key=settings.PLATFORM_STRIPE_SECRET_KEY,
        )
    except (OSError, RuntimeError):
        raise stripe_api.StripeUnavailable("stand-in onboarding") from None


def test_account_connect(*, agency: Agency, actor) -> Agency:
    """Create a test account on the stand-in, finish its onboarding and connect it to the agency."""
    created = stripe_api.connected_account_create(
        account=accounts.platform_account(),
        idempotency_key=f"test-account-{agency.pk}-{uuid.uuid4().hex}",
        params={
            "type": "standard",
            "business_profile": {"name": f"{agency.company_name} (test)"},
            "metadata": {"portal_agency_id": str(agency.pk)},
        },
    )
    _onboarding_complete(created.id)
    # The views provision the product and prices once connected (connect_views._provision).
    return connect.account_connect(agency=agency, account_id=created.id, actor=actor)
