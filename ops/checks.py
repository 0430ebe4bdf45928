"""Deployment checks for the settings of pull sync, alerts and the platform's Stripe account."""

from django.conf import settings
from django.core import checks

from core.stripe_keys import key_mode


@checks.register(checks.Tags.security, deploy=True)
def outbound_private_hosts_check(app_configs, **kwargs):
    if not settings.OUTBOUND_ALLOW_PRIVATE_HOSTS:
        return []
    return [
        checks.Warning(
            "OUTBOUND_ALLOW_PRIVATE_HOSTS is on: tenants' webhook and usage-source URLs may reach loopback and "
            "private addresses of the portal's own network.",
            hint="Unset OUTBOUND_ALLOW_PRIVATE_HOSTS (it is for development and tests).",
            id="ops.W001",
        )
    ]


@checks.register(deploy=True)
def platform_stripe_check(app_configs, **kwargs):
    secret, publishable = settings.PLATFORM_STRIPE_SECRET_KEY, settings.PLATFORM_STRIPE_PUBLISHABLE_KEY
    found = []
    if secret and not settings.PLATFORM_STRIPE_WEBHOOK_SECRET:
        found.append(
            checks.Warning(
                "PLATFORM_STRIPE_SECRET_KEY is set without PLATFORM_STRIPE_WEBHOOK_SECRET: minute purchases are credited "
                "only when the agency admin comes back to the success page, and refunds and disputes are never seen.",
                hint="Add an endpoint for https://<base domain>/api/webhooks/stripe/platform in Stripe and set its "
                "signing secret.",
                id="ops.W002",
            )
        )
    if secret and publishable and key_mode(secret) != key_mode(publishable):
        found.append(
            checks.Warning(
                f"PLATFORM_STRIPE_SECRET_KEY is a {key_mode(secret)} key but PLATFORM_STRIPE_PUBLISHABLE_KEY a "
                f"{key_mode(publishable)} key.",
                hint="Use the two keys of the same mode.",
                id="ops.W003",
            )
        )
    return found
