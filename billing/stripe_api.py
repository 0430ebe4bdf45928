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
    # Top-ups of saved payment methods (billing.topup): a SEPA debit settles later, a 3-D Secure
    # payment when the customer authenticates.
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
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


class StripeCardError(StripeRejected):
    """Stripe declined a payment (HTTP 402): `code` card_declined, authentication_required, ...;
    `decline_code` the bank's reason; `payment_intent_id` the PaymentIntent it left unpaid."""

    def __init__(self, *, code: str, decline_code: str, message: str, payment_intent_id: str, operation: str):
        super().__init__("card", message, operation=operation)
        self.code, self.decline_code, self.payment_intent_id = code, decline_code, payment_intent_id


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
    except stripe.CardError as exc:
        error = exc.error
        intent = getattr(error, "payment_intent", None) if error is not None else None
        logger.info("Stripe %s: declined (%s)", operation, exc.code)
        raise StripeCardError(
            code=exc.code or "card_declined",
            decline_code=(getattr(error, "decline_code", None) if error is not None else None) or "",
            message=exc.user_message or "The payment was declined.",
            payment_intent_id=intent.id if intent is not None else "",
            operation=operation,
        ) from None
    except stripe.StripeError as exc:
        if exc.http_status is None or exc.http_status >= 500:
            logger.warning("Stripe %s: failed on Stripe's side (%s)", operation, exc.http_status)
            raise StripeUnavailable(operation) from None
        kind = "missing" if exc.code == "resource_missing" else "invalid"
        logger.warning("Stripe %s: rejected (%s, %s)", operation, exc.http_status, exc.code)
        raise StripeRejected(kind, exc.user_message or "", operation=operation) from None


def missing_as_none(func):
    """func()'s answer, or None when Stripe says the object does not exist (any other refusal is raised)."""
    try:
        return func()
    except StripeRejected as exc:
        if exc.kind == "missing":
            return None
        raise


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


def key_check(*, account: StripeAccount) -> None:
    """The cheapest call a key with read access to prices may make: raises when the key is refused."""
    _call("key check", account, lambda c: c.v1.prices.list({"limit": 1}))


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


def payment_method_retrieve(*, account: StripeAccount, payment_method_id: str):
    return _call("payment method retrieve", account, lambda c: c.v1.payment_methods.retrieve(payment_method_id))


def setup_intent_retrieve(*, account: StripeAccount, setup_intent_id: str):
    return _call("setup intent retrieve", account, lambda c: c.v1.setup_intents.retrieve(setup_intent_id))


def customer_retrieve(*, account: StripeAccount, customer_id: str):
    return _call("customer retrieve", account, lambda c: c.v1.customers.retrieve(customer_id))


def customer_payment_methods(*, account: StripeAccount, customer_id: str) -> list:
    """The customer's saved cards and SEPA mandates."""

    def listed(client):
        found = []
        for kind in ("card", "sepa_debit"):
            params = {"customer": customer_id, "type": kind, "limit": 100}
            found += list(client.v1.payment_methods.list(params).auto_paging_iter())
        return found

    return _call("payment methods list", account, listed)


# --- Writes -----------------------------------------------------------------------


def customer_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    return _call(
        "customer create", account, lambda c: c.v1.customers.create(params, {"idempotency_key": idempotency_key})
    )


def customer_default_method_set(*, account: StripeAccount, customer_id: str, payment_method_id: str | None):
    params = {"invoice_settings": {"default_payment_method": payment_method_id or ""}}
    return _call("customer update", account, lambda c: c.v1.customers.update(customer_id, params))


def payment_method_detach(*, account: StripeAccount, payment_method_id: str):
    return _call("payment method detach", account, lambda c: c.v1.payment_methods.detach(payment_method_id))


def payment_intent_create(*, account: StripeAccount, params: dict, idempotency_key: str):
    """Create (and with confirm=true, charge) a PaymentIntent; a decline raises StripeCardError."""
    return _call(
        "payment intent create",
        account,
        lambda c: c.v1.payment_intents.create(params, {"idempotency_key": idempotency_key}),
    )


def payment_intent_confirm(*, account: StripeAccount, payment_intent_id: str, params: dict):
    return _call("payment intent confirm", account, lambda c: c.v1.payment_intents.confirm(payment_intent_id, params))


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
