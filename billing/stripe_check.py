"""Check Stripe: is the agency's Stripe account still set up the way the portal needs it?

stripe_check asks Stripe (with the agency's own StripeAccount) and answers a
list of plain sentences, each one problem with its fix; [] when all is well.
It verifies the key (valid, of the portal's mode), the portal's product and the
Price of every package on sale (present, active, the package's amount), and,
for an agency on its own key, the webhook endpoint the portal registered
(present, enabled, listening to every event the portal handles, pointing at
this portal's URL). The result is stored on the agency (stripe_checked_at,
stripe_check_problems). The Stripe page's "Check Stripe" button, activation
and the daily task (stripe_check_daily) run it.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from agencies import services as agency_services
from agencies.models import Agency
from core import periodic
from core.money import money_format

from . import accounts, stripe_api
from .accounts import is_connected
from .provisioning import portal_mode, rejected_message, webhook_url
from .stripe_api import StripeAccount, StripeRejected, StripeUnavailable

REPAIR = "press “Set up again” on the Stripe page"


def _prices(agency: Agency, account: StripeAccount) -> list[str]:
    problems = []
    provisioned = bool(agency.stripe_webhook_endpoint_id)
    for package in agency.packages.on_sale():
        name = f"{package.credits:,} credits for {money_format(package.price_cents, package.currency)}"
        if not package.stripe_price_id:
            if provisioned:
                problems.append(f"The package {name} has no price in Stripe yet: {REPAIR}.")
            continue
        price = stripe_api.missing_as_none(
            lambda p=package: stripe_api.price_retrieve(account=account, price_id=p.stripe_price_id)
        )
        if price is None:
            problems.append(f"The price {package.stripe_price_id} of the package {name} is gone from Stripe: {REPAIR}.")
        elif not price.active:
            problems.append(f"The price {price.id} of the package {name} is archived in Stripe: {REPAIR}.")
        elif price.unit_amount != package.price_cents or price.currency != package.currency.lower():
            shown = money_format(price.unit_amount or 0, price.currency.upper())
            problems.append(f"The price {price.id} is {shown} in Stripe but the package is {name}: {REPAIR}.")
    return problems


def _advanced_price(agency: Agency, account: StripeAccount) -> list[str]:
    """The one price typed under "Advanced": Checkout asks Stripe for it, so it must be there."""
    if not agency.stripe_price_id:
        return []
    price = stripe_api.missing_as_none(
        lambda: stripe_api.price_retrieve(account=account, price_id=agency.stripe_price_id)
    )
    if price is None:
        return [f"The price {agency.stripe_price_id} entered under Advanced is not in Stripe: correct it, or {REPAIR}."]
    if not price.active:
        return [f"The price {price.id} entered under Advanced is archived in Stripe: correct it, or {REPAIR}."]
    return []


def _product(agency: Agency, account: StripeAccount) -> list[str]:
    if not agency.stripe_product_id:
        return [] if agency.stripe_price_id else [f"The portal has no product in Stripe yet: {REPAIR}."]
    product = stripe_api.missing_as_none(
        lambda: stripe_api.product_retrieve(account=account, product_id=agency.stripe_product_id)
    )
    if product is None:
        return [f"The product {agency.stripe_product_id} is gone from Stripe: {REPAIR}."]
    if not product.active:
        return [f"The product {product.id} is archived in Stripe: {REPAIR}."]
    return []


def _webhook(agency: Agency, account: StripeAccount) -> list[str]:
    url = webhook_url(agency)
    endpoints = stripe_api.webhook_endpoints_list(account=account)
    stored = agency.stripe_webhook_endpoint_id
    if stored:
        endpoint = next((e for e in endpoints if e.id == stored), None)
        if endpoint is None:
            return [f"The webhook endpoint {stored} was deleted in Stripe, so payments are not reported: {REPAIR}."]
    else:
        endpoint = next((e for e in endpoints if e.url == url), None)
        if endpoint is None:
            return [f"No webhook endpoint in Stripe sends events to {url}: {REPAIR}."]
    problems = []
    if endpoint.url != url:
        problems.append(f"The webhook endpoint {endpoint.id} sends events to {endpoint.url}, not to {url}: {REPAIR}.")
    if endpoint.status != "enabled":
        problems.append(
            f"The webhook endpoint {endpoint.id} is disabled in Stripe: enable it in Stripe → Developers → "
            f"Webhooks, or {REPAIR}."
        )
    listened = set(endpoint.enabled_events)
    missing = [t for t in stripe_api.WEBHOOK_EVENTS if t not in listened and "*" not in listened]
    if missing:
        problems.append(f"The webhook endpoint {endpoint.id} does not send {', '.join(missing)}: {REPAIR}.")
    return problems


def _problems(agency: Agency) -> list[str]:
    account = accounts.agency_account(agency)
    if not account.configured:
        return ["No Stripe key is set: paste a secret key (a restricted key is best) on the Stripe page."]
    mode, portal = ("live" if account.livemode else "test"), portal_mode()
    if mode != portal:
        return [f"The Stripe key is a {mode} key but this portal takes {portal} keys: save a {portal} key."]
    try:
        stripe_api.account_retrieve(account=account)
        if is_connected(agency):
            # Connect: Checkout needs no object of ours on the account (price_data), the platform's Connect
            # endpoint carries the events, and whether Stripe lets it take charges is activation's own check.
            return []
        problems = _product(agency, account) + _advanced_price(agency, account) + _prices(agency, account)
        problems += _webhook(agency, account)
    except StripeRejected as exc:
        return [rejected_message(exc, mode=mode)]
    except StripeUnavailable:
        return ["Stripe could not be reached to check the set-up: try again in a minute."]
    return problems


def stripe_check(*, agency: Agency) -> list[str]:
    """Ask Stripe whether the agency's set-up works; store and return the problems (one sentence each)."""
    problems = _problems(agency)
    agency_services.agency_update_stripe_setup(
        agency=agency, values={"stripe_checked_at": timezone.now(), "stripe_check_problems": problems}
    )
    return problems


# --- Daily, in the worker ------------------------------------------------------------


def stripe_check_due(*, now=None) -> list[int]:
    """Check every agency with Stripe set up whose last check is older than STRIPE_CHECK_EVERY_HOURS; their ids."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.STRIPE_CHECK_EVERY_HOURS)
    due = (
        Agency.objects.exclude(stripe_secret_key="", stripe_account_id="")
        .filter(is_active=True)
        .exclude(stripe_checked_at__gt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    checked = []
    for pk in due:
        stripe_check(agency=Agency.objects.get(pk=pk))
        checked.append(pk)
    return checked


@task()
def stripe_check_daily() -> int:
    """Queue the next sweep, then check the agencies due a check."""
    periodic.sweep_continue(task=stripe_check_daily)
    return len(stripe_check_due())


periodic.periodic_register(task=stripe_check_daily, every="STRIPE_CHECK_SWEEP_SECONDS")
