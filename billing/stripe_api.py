"""Every request the portal makes to Stripe goes through this module.

Each call is given the StripeAccount it talks to (billing.accounts builds one
for an agency and one for the platform) and never asks whose account it is.
Each call builds its own StripeClient with that account's secret key (never the
global stripe.api_key), the API base from STRIPE_API_BASE when set (the
bundled stand-in) and a timeout of STRIPE_TIMEOUT_SECONDS. Creates carry an
idempotency key. Stripe's exceptions come out as two of ours:
StripeUnavailable (try again later) and StripeRejected (Stripe said no).
Secrets are never logged and Stripe's own messages about keys never shown.
"""

import functools
import logging
from dataclasses import dataclass, field

import stripe
from django.conf import settings
from stripe._base_address import BaseAddresses  # the StripeClient(base_addresses=...) type; not re-exported

from core.money import money_format
from core.stripe_keys import key_mode

logger = logging.getLogger(__name__)

# A few quick retries of connection errors; creates are safe to retry because
# they carry an idempotency key.
NETWORK_RETRIES = 1
WEBHOOK_TOLERANCE_SECONDS = 300
# What the portal's webhook handles; what an endpoint registered for it listens to.
WEBHOOK_EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
]


@dataclass(frozen=True)
class StripeAccount:
    """The credentials of one Stripe account and what to call it in logs (pretix's api_kwargs).

    `agency_id` is the agency whose own account it is; None for the platform's
    (agencies buy minutes there). Secrets stay out of repr().
    """

    secret_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    agency_id: int | None
    label: str
    livemode: bool
    # A connected account (Stripe Connect): requests go on the platform's key with
    # the Stripe-Account header naming it. "" for an account reached with its own key.
    connected_account_id: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.secret_key)

    def __str__(self) -> str:
        return self.label


class StripeUnavailable(Exception):
    """Stripe could not be reached, timed out, rate-limited us or failed on its side."""


class StripeRejected(Exception):
    """Stripe refused the request: kind is "auth", "permission", "missing" or "invalid"."""

    def __init__(self, kind: str, detail: str = "", operation: str = ""):
        super().__init__(f"Stripe rejected the request ({kind})")
        self.kind = kind
        self.detail = detail  # Stripe's message, except for key errors (they quote the key)
        self.operation = operation  # what was asked ("price create"): a restricted key's missing permission


@functools.lru_cache(maxsize=4)
def _http_client(timeout: int) -> stripe.HTTPClient:
    # One pooled client per timeout value; it keeps a requests.Session per thread.
    return stripe.RequestsClient(timeout=timeout)


def _base_addresses() -> BaseAddresses | None:
    """The stand-in (STRIPE_API_BASE) answers both the API and Connect's OAuth routes."""
    if not settings.STRIPE_API_BASE:
        return None
    base = settings.STRIPE_API_BASE.rstrip("/")
    return {"api": base, "connect": base}


def _client(account: StripeAccount) -> stripe.StripeClient:
    if not account.secret_key:
        raise StripeRejected("auth")
    return stripe.StripeClient(
        account.secret_key,
        stripe_account=account.connected_account_id or None,
        client_id=settings.STRIPE_CONNECT_CLIENT_ID or None,
        base_addresses=_base_addresses(),
        max_network_retries=NETWORK_RETRIES,
        http_client=_http_client(settings.STRIPE_TIMEOUT_SECONDS),
    )


def _call(operation: str, account: StripeAccount, func):
    """Run func(client) on `account`, translating Stripe's errors; log without secrets."""
    try:
        return func(_client(account))
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        logger.warning("Stripe %s: unavailable (%s)", operation, type(exc).__name__)
        raise StripeUnavailable(operation) from None
    except stripe.AuthenticationError:
        logger.warning("Stripe %s: the API key was refused", operation)
        raise StripeRejected("auth", operation=operation) from None
    except stripe.PermissionError:
        logger.warning("Stripe %s: the API key may not do this", operation)
        raise StripeRejected("permission", operation=operation) from None
    except stripe.StripeError as exc:
        if exc.http_status is None or exc.http_status >= 500:
            logger.warning("Stripe %s: failed on Stripe's side (%s)", operation, exc.http_status)
            raise StripeUnavailable(operation) from None
        kind = "missing" if exc.code == "resource_missing" else "invalid"
        logger.warning("Stripe %s: rejected (%s, %s)", operation, exc.http_status, exc.code)
        raise StripeRejected(kind, exc.user_message or "", operation=operation) from None


# --- Reads ------------------------------------------------------------------------


def session_retrieve(*, account: StripeAccount, session_id: str):
    return _call("session retrieve", account, lambda c: c.v1.checkout.sessions.retrieve(session_id))


def charge_retrieve(*, account: StripeAccount, charge_id: str):
    return _call("charge retrieve", account, lambda c: c.v1.charges.retrieve(charge_id))


def payment_intent_retrieve(*, account: StripeAccount, payment_intent_id: str):
    return _call("payment intent retrieve", account, lambda c: c.v1.payment_intents.retrieve(payment_intent_id))


def dispute_retrieve(*, account: StripeAccount, dispute_id: str):
    return _call("dispute retrieve", account, lambda c: c.v1.disputes.retrieve(dispute_id))


def product_retrieve(*, account: StripeAccount, product_id: str):
    return _call("product retrieve", account, lambda c: c.v1.products.retrieve(product_id))


def price_retrieve(*, account: StripeAccount, price_id: str):
    return _call("price retrieve", account, lambda c: c.v1.prices.retrieve(price_id))


def account_retrieve(*, account: StripeAccount):
    """The Stripe account the key (or the Stripe-Account header) acts on: id, names, mode."""
    return _call("account retrieve", account, lambda c: c.v1.accounts.retrieve_current())


def products_list(*, account: StripeAccount) -> list:
    return _call("products list", account, lambda c: list(c.v1.products.list({"limit": 100}).auto_paging_iter()))


def prices_list(*, account: StripeAccount, product_id: str) -> list:
    return _call(
        "prices list",
        account,
        lambda c: list(c.v1.prices.list({"product": product_id, "limit": 100}).auto_paging_iter()),
    )


def webhook_endpoints_list(*, account: StripeAccount) -> list:
    return _call(
        "webhook endpoints list",
        account,
        lambda c: list(c.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter()),
    )


def events_list(*, account: StripeAccount, types: list[str], created_gte: int) -> list:
    """Every event of these types created at `created_gte` (unix time) or later, newest first, all pages."""
    params = {"types": types, "created": {"gte": created_gte}, "limit": 100}
    return _call("events list", account, lambda c: list(c.v1.events.list(params).auto_paging_iter()))


def event_construct(*, account: StripeAccount, payload: bytes, signature: str | None) -> stripe.Event:
    """Verify Stripe-Signature over the raw body with the account's signing secret (300 s tolerance).

    Raises stripe.SignatureVerificationError or ValueError (body not UTF-8 / JSON).
    """
    if not account.webhook_secret or not account.secret_key:
        raise stripe.SignatureVerificationError("This portal has no Stripe keys or webhook signing secret.", signature)
    secret = account.webhook_secret
    try:
        return _client(account).construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except (AttributeError, TypeError) as exc:  # signed JSON that is not an object
        raise ValueError("The body is not a Stripe event.") from exc


# --- Writes -----------------------------------------------------------------------


def session_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    return _call(
        "session create",
        account,
        lambda c: c.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key}),
    )


def refund_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    return _call("refund create", account, lambda c: c.v1.refunds.create(params, {"idempotency_key": idempotency_key}))


def product_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    return _call(
        "product create",
        account,
        lambda c: c.v1.products.create(params, {"idempotency_key": idempotency_key}),
    )


def price_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    return _call("price create", account, lambda c: c.v1.prices.create(params, {"idempotency_key": idempotency_key}))


def product_update(*, account: StripeAccount, product_id: str, params: dict):
    return _call("product update", account, lambda c: c.v1.products.update(product_id, params))


def price_update(*, account: StripeAccount, price_id: str, params: dict):
    return _call("price update", account, lambda c: c.v1.prices.update(price_id, params))


def webhook_endpoint_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    """Register an endpoint; Stripe's answer is the only time it shows the signing secret (`.secret`)."""
    return _call(
        "webhook endpoint create",
        account,
        lambda c: c.v1.webhook_endpoints.create(params, {"idempotency_key": idempotency_key}),
    )


def webhook_endpoint_update(*, account: StripeAccount, endpoint_id: str, params: dict):
    return _call("webhook endpoint update", account, lambda c: c.v1.webhook_endpoints.update(endpoint_id, params))


def webhook_endpoint_delete(*, account: StripeAccount, endpoint_id: str):
    return _call("webhook endpoint delete", account, lambda c: c.v1.webhook_endpoints.delete(endpoint_id))


def webhook_endpoint_replace(*, account: StripeAccount, url: str, idempotency_key: str) -> str:
    """Delete the account's endpoints for `url` and register one anew; return its signing secret.

    Stripe shows a signing secret only when an endpoint is created, so an
    endpoint whose secret we no longer know is replaced rather than reused.
    """

    def replace(client):
        for endpoint in client.v1.webhook_endpoints.list({"limit": 100}).data:
            if endpoint.url == url:
                client.v1.webhook_endpoints.delete(endpoint.id)
        created = client.v1.webhook_endpoints.create(
            {"url": url, "enabled_events": WEBHOOK_EVENTS, "description": "Reseller portal: credit purchases"},
            {"idempotency_key": idempotency_key},
        )
        return created.secret

    return _call("webhook endpoint replace", account, replace)


def customer_sync(
    *, account: StripeAccount, customer_id: str, params: dict, tax_id: dict | None, idempotency_key: str
) -> str:
    """Update the customer (name, email, address) and its one tax id, or create it; return its id.

    A customer id Stripe does not know (another account, test keys swapped for
    live ones) is replaced by a new customer.
    """

    def sync(client):
        if customer_id:
            try:
                customer = client.v1.customers.update(customer_id, params)
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_missing":
                    raise
            else:
                kept = False
                for existing in client.v1.customers.tax_ids.list(customer.id, {"limit": 100}).data:
                    if tax_id and (existing.type, existing.value) == (tax_id["type"], tax_id["value"]):
                        kept = True
                    else:
                        client.v1.customers.tax_ids.delete(customer.id, existing.id)
                if tax_id and not kept:
                    client.v1.customers.tax_ids.create(
                        customer.id, tax_id, {"idempotency_key": f"{idempotency_key}-tax"}
                    )
                return customer.id
        created = {**params, "tax_id_data": [tax_id]} if tax_id else params
        return client.v1.customers.create(created, {"idempotency_key": idempotency_key}).id

    return _call("customer sync", account, sync)


# --- Stripe Connect (on the platform's key) ----------------------------------------


def connect_authorize_url(*, state: str, redirect_uri: str) -> str:
    """Where to send an agency's browser to connect its Stripe account (Connect OAuth, standard accounts).

    Built by the stripe package from the same base addresses as every call
    (STRIPE_API_BASE when set), so the stand-in serves the page in development.
    """
    client = stripe.StripeClient(
        settings.PLATFORM_STRIPE_SECRET_KEY or "sk_unused",  # the URL needs no key; the client wants one
        client_id=settings.STRIPE_CONNECT_CLIENT_ID,
        base_addresses=_base_addresses() or {},
    )
    return client.oauth.authorize_url(
        {"response_type": "code", "scope": "read_write", "state": state, "redirect_uri": redirect_uri}
    )


def oauth_token(*, account: StripeAccount, code: str) -> str:
    """Exchange an OAuth code for the connected account's id. The access token Stripe also returns is dropped."""
    token = _call("oauth token", account, lambda c: c.oauth.token({"grant_type": "authorization_code", "code": code}))
    return token.stripe_user_id


def oauth_deauthorize(*, account: StripeAccount, connected_account_id: str) -> None:
    _call("oauth deauthorize", account, lambda c: c.oauth.deauthorize({"stripe_user_id": connected_account_id}))


def connected_account_retrieve(*, account: StripeAccount, connected_account_id: str):
    return _call("account retrieve", account, lambda c: c.v1.accounts.retrieve(connected_account_id))


def connected_account_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    return _call(
        "account create", account, lambda c: c.v1.accounts.create(params, {"idempotency_key": idempotency_key})
    )


def account_link_create(*, account: StripeAccount, connected_account_id: str, refresh_url: str, return_url: str) -> str:
    """A single-use link to Stripe's hosted onboarding for the connected account; returns its URL."""
    params = {
        "account": connected_account_id,
        "type": "account_onboarding",
        "refresh_url": refresh_url,
        "return_url": return_url,
    }
    return _call("account link create", account, lambda c: c.v1.account_links.create(params)).url


# --- Checking an agency's settings ------------------------------------------------


@dataclass
class SettingsCheck:
    errors: dict = field(default_factory=dict)  # form field -> [message]
    warnings: list = field(default_factory=list)
    unreachable: bool = False

    def add(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)


def settings_problems(
    *, secret_key: str, product_id: str, price_id: str, packages, webhook_url: str = ""
) -> SettingsCheck:
    """Ask Stripe whether the settings work: key valid, product and price exist, the price is
    one-time, belongs to the product and costs what one of the packages costs.

    Only what is filled in is checked. A Stripe that cannot be reached sets
    `unreachable` and checks nothing.
    """
    check = SettingsCheck()
    if not secret_key:
        return check
    mode = key_mode(secret_key)
    account = StripeAccount(
        secret_key=secret_key, webhook_secret="", agency_id=None, label="a key being checked", livemode=mode == "live"
    )
    try:
        product = price = None
        if product_id:
            product = _optional(account, "product retrieve", lambda c: c.v1.products.retrieve(product_id))
            if product is None:
                check.add(
                    "stripe_product_id", f"There is no product {product_id} in this Stripe account ({mode} mode)."
                )
        if price_id:
            price = _optional(account, "price retrieve", lambda c: c.v1.prices.retrieve(price_id))
            if price is None:
                check.add("stripe_price_id", f"There is no price {price_id} in this Stripe account ({mode} mode).")
        if not (product_id or price_id):
            _call("key check", account, lambda c: c.v1.prices.list({"limit": 1}))
        if price is not None:
            _price_problems(check, price, product_id, packages)
        if webhook_url:
            _webhook_warnings(check, account, webhook_url)
    except StripeUnavailable:
        return SettingsCheck(unreachable=True)
    except StripeRejected as exc:
        message = {
            "auth": f"Stripe refused this secret key. Copy the {mode} secret key again from "
            "Stripe → Developers → API keys.",
            "permission": "This restricted key may not read products and prices. Give it read access to "
            "Products and Prices and write access to Checkout Sessions.",
        }.get(exc.kind, f"Stripe refused the check: {exc.detail}")
        return SettingsCheck(errors={"stripe_secret_key": [message]})
    return check


def _optional(account: StripeAccount, operation: str, func):
    try:
        return _call(operation, account, func)
    except StripeRejected as exc:
        if exc.kind == "missing":
            return None
        raise


def _price_problems(check: SettingsCheck, price, product_id: str, packages) -> None:
    if not price.active:
        check.add("stripe_price_id", f"The price {price.id} is archived in Stripe. Use an active price.")
    if price.type != "one_time":
        check.add(
            "stripe_price_id",
            f"The price {price.id} is a recurring (subscription) price. "
            "Credit packages are bought once: use a one-time price.",
        )
    if product_id and price.product != product_id:
        check.add("stripe_price_id", f"The price {price.id} belongs to product {price.product}, not to {product_id}.")
    packages = list(packages)
    if packages and not any(
        p.price_cents == price.unit_amount and p.currency.lower() == price.currency for p in packages
    ):
        offered = ", ".join(
            f"{p.credits} credits for {money_format(p.price_cents, p.currency, symbol=False)}" for p in packages
        )
        check.add(
            "stripe_price_id",
            f"The price {price.id} is {money_format(price.unit_amount or 0, price.currency, symbol=False)}, "
            f"but no package costs that (your packages: {offered}).",
        )


def _webhook_warnings(check: SettingsCheck, account: StripeAccount, webhook_url: str) -> None:
    try:
        endpoints = _call("webhook endpoints list", account, lambda c: c.v1.webhook_endpoints.list({"limit": 100})).data
    except StripeRejected as exc:
        if exc.kind in ("permission", "invalid"):
            return  # a restricted key may not read endpoints; nothing to say
        raise
    mine = [e for e in endpoints if e.url == webhook_url and e.status == "enabled"]
    if not mine:
        check.warnings.append(
            f"No enabled webhook endpoint in this Stripe account sends events to {webhook_url}: "
            "payments will only be credited when clients return to the portal."
        )
        return
    listened = set().union(*(set(e.enabled_events) for e in mine))
    missing = [t for t in WEBHOOK_EVENTS if t not in listened and "*" not in listened]
    if missing:
        check.warnings.append(f"The webhook endpoint for {webhook_url} does not send: {', '.join(missing)}.")
