"""The Stripe objects the portal uses, with Stripe's shapes and Stripe's refusals.

Every function runs under the store lock and returns plain dicts. Functions
that make Stripe send events return them too; the server delivers them after
releasing the lock (delivery is an HTTP call to someone else's server).
"""

import copy
import hashlib
import hmac
import json

from . import events as event_lists
from .state import Account, StripeError, new_id, now

API_VERSION = "2026-10-28.endive"
DISPUTE_OPEN = {"warning_needs_response", "warning_under_review", "needs_response", "under_review"}


def _required(params: dict, name: str):
    value = params.get(name)
    if value in (None, ""):
        raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
    return value


def _int(value, param: str, *, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param) from None
    if number < minimum:
        raise StripeError(400, f"This value must be greater than or equal to {minimum}.", param=param)
    return number


def _metadata(params: dict) -> dict:
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    return {str(k): str(v) for k, v in metadata.items()}


def _new(account: Account, prefix: str, object_type: str, **fields) -> dict:
    obj = {"id": new_id(prefix), "object": object_type, "livemode": account.livemode, "created": now(), **fields}
    account.objects[obj["id"]] = obj
    return obj


def account_public(account: Account) -> dict:
    """The account as GET /v1/account (and /v1/accounts/{id}) shows it."""
    profile = account.profile
    name = profile.get("business_name", "")
    return {
        "id": account.id,
        "object": "account",
        "type": profile.get("type", "standard"),
        "email": profile.get("email"),
        "country": profile.get("country", "NL"),
        "default_currency": profile.get("default_currency", "eur"),
        "business_profile": {"name": name or None},
        "settings": {"dashboard": {"display_name": name or None}},
        "charges_enabled": profile.get("charges_enabled", True),
        "payouts_enabled": profile.get("payouts_enabled", True),
        "details_submitted": profile.get("details_submitted", True),
        "requirements": {
            "currently_due": list(profile.get("currently_due", [])),
            "eventually_due": list(profile.get("currently_due", [])),
            "past_due": [],
            "disabled_reason": profile.get("disabled_reason"),
        },
        "metadata": dict(profile.get("metadata", {})),
        "created": profile.get("created", now()),
    }


def listing(url: str, items: list[dict]) -> dict:
    return {"object": "list", "data": items, "has_more": False, "url": url}


# --- Events and their delivery -------------------------------------------------


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's signature scheme: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    timestamp = now() if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def emit(account: Account, event_type: str, obj: dict) -> list[dict]:
    """Record an event with a snapshot of `obj`; return the deliveries to make."""
    event = _new(
        account,
        "evt_",
        "event",
        type=event_type,
        api_version=API_VERSION,
        data={"object": copy.deepcopy(obj)},
        pending_webhooks=0,
        request={"id": None, "idempotency_key": None},
    )
    if account.platforms:
        event["account"] = account.id  # as the platforms see it (GET /v1/events with Stripe-Account)
    account.events.append(event)
    # The account's own endpoints, then (Connect) every endpoint of its platforms that listens to connected accounts.
    targets = [(account, e) for e in account.of_type("webhook_endpoint") if not e.get("_connect")]
    for platform_id in sorted(account.platforms):
        platform = account.directory.get(platform_id)
        if platform is not None:
            targets += [(platform, e) for e in platform.of_type("webhook_endpoint") if e.get("_connect")]
    return deliveries_make(account, event, targets)


def deliveries_make(account: Account, event: dict, targets: list) -> list[dict]:
    """Signed deliveries of `event` (on `account`) to each (endpoint owner, endpoint) that listens to it.

    A delivery to another account's endpoint (a platform's Connect endpoint)
    names the account the event happened on, and is listed on both accounts.
    """
    event_type = event["type"]
    pending = []
    for owner, endpoint in targets:
        events = endpoint["enabled_events"]
        if endpoint["status"] != "enabled" or ("*" not in events and event_type not in events):
            continue
        payload = json.dumps({**event, "account": account.id} if owner is not account else event, indent=2)
        delivery = {
            "id": new_id("dlv_"),
            "event": event["id"],
            "type": event_type,
            "endpoint": endpoint["id"],
            "url": endpoint["url"],
            "payload": payload,
            "signature": sign(payload, endpoint["_secret"]),
            "status": None,
            "error": None,
        }
        event["pending_webhooks"] += 1
        account.deliveries.append(delivery)
        if owner is not account:
            owner.deliveries.append(delivery)
        if not event_lists.delivery_drop(endpoint, delivery):  # a drop asked for by /_standin/.../drop is never sent
            pending.append(delivery)
    return pending


# --- Products and prices --------------------------------------------------------


def product_create(account: Account, params: dict) -> dict:
    name = _required(params, "name")
    product_id = params.get("id") or new_id("prod_", 14)
    if product_id in account.objects:
        raise StripeError(400, f"Product already exists: {product_id}", code="resource_already_exists", param="id")
    product = {
        "id": product_id,
        "object": "product",
        "livemode": account.livemode,
        "created": now(),
        "name": name,
        "active": params.get("active", "true") != "false",
        "description": params.get("description"),
        "metadata": _metadata(params),
        "default_price": None,
        "type": "service",
    }
    account.objects[product_id] = product
    return product


def price_create(account: Account, params: dict) -> dict:
    currency = str(_required(params, "currency")).lower()
    unit_amount = _int(_required(params, "unit_amount"), "unit_amount")
    if params.get("product_data"):
        product_id = product_create(account, params["product_data"])["id"]
    else:
        product_id = account.get("product", "product", _required(params, "product"), "product")["id"]
    recurring = params.get("recurring")
    if recurring:
        recurring = {
            "interval": _required(recurring, "interval"),
            "interval_count": _int(recurring.get("interval_count", 1), "recurring[interval_count]", minimum=1),
        }
    return _new(
        account,
        "price_",
        "price",
        active=params.get("active", "true") != "false",
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        product=product_id,
        type="recurring" if recurring else "one_time",
        recurring=recurring or None,
        billing_scheme="per_unit",
        metadata=_metadata(params),
        nickname=params.get("nickname"),
    )


# --- Checkout -------------------------------------------------------------------


def _line_item(account: Account, item: dict, index: int, mode: str) -> dict:
    param = f"line_items[{index}]"
    quantity = _int(item.get("quantity", 1), f"{param}[quantity]", minimum=1)
    if item.get("price"):
        price = account.objects.get(item["price"])
        if price is None or price.get("object") != "price":
            raise StripeError(
                400, f"No such price: '{item['price']}'", code="resource_missing", param=f"{param}[price]"
            )
        if not price["active"]:
            raise StripeError(
                400, "The price specified is inactive. This field only accepts active prices.", param=f"{param}[price]"
            )
        if price["type"] == "recurring" and mode == "payment":
            raise StripeError(
                400,
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
                param=f"{param}[price]",
            )
        return _priced_item(price, quantity)
    data = item.get("price_data")
    if not data:
        raise StripeError(400, "You must specify either `price` or `price_data` in each line item.", param=param)
    currency = str(_required(data, "currency")).lower()
    unit_amount = _int(_required(data, "unit_amount"), f"{param}[price_data][unit_amount]")
    if data.get("product"):
        product = account.objects.get(data["product"])
        if product is None or product.get("object") != "product":
            raise StripeError(
                400,
                f"No such product: '{data['product']}'",
                code="resource_missing",
                param=f"{param}[price_data][product]",
            )
        product_id = product["id"]
    elif data.get("product_data"):
        product_id = product_create(account, data["product_data"])["id"]
    else:
        raise StripeError(400, "You must specify either `product` or `product_data`.", param=f"{param}[price_data]")
    # Like Stripe, price_data makes an inline price that cannot be used again.
    price = _new(
        account,
        "price_",
        "price",
        active=False,
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        product=product_id,
        type="one_time",
        recurring=None,
        billing_scheme="per_unit",
        metadata={},
        nickname=None,
    )
    return _priced_item(price, quantity)


def _priced_item(price: dict, quantity: int) -> dict:
    amount = price["unit_amount"] * quantity
    return {
        "id": new_id("li_"),
        "object": "item",
        "amount_subtotal": amount,
        "amount_total": amount,
        "currency": price["currency"],
        "quantity": quantity,
        "price": copy.deepcopy(price),
    }


def _session_customer(account: Account, params: dict) -> str | None:
    if not params.get("customer"):
        return None
    if params.get("customer_email"):
        raise StripeError(
            400, "You may only specify one of these parameters: customer, customer_email.", param="customer_email"
        )
    return account.get("customer", "customer", params["customer"], "customer")["id"]


def session_create(account: Account, params: dict, public_base: str) -> dict:
    mode = _required(params, "mode")
    if mode != "payment":
        raise StripeError(400, "The stand-in implements `payment` mode only.", param="mode")
    items = params.get("line_items")
    if not isinstance(items, list) or not items:
        raise StripeError(400, "Missing required param: line_items.", code="parameter_missing", param="line_items")
    success_url = _required(params, "success_url")
    line_items = [_line_item(account, item, index, mode) for index, item in enumerate(items)]
    total = sum(item["amount_total"] for item in line_items)
    currencies = {item["currency"] for item in line_items}
    if len(currencies) != 1:
        raise StripeError(400, "All line items must use the same currency.", param="line_items")
    session_id = new_id(f"cs_{account.mode}_", 40)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "livemode": account.livemode,
        "created": now(),
        "expires_at": now() + 24 * 3600,
        "mode": mode,
        "status": "open",
        "payment_status": "unpaid",
        "amount_subtotal": total,
        "amount_total": total,
        "currency": currencies.pop(),
        "client_reference_id": params.get("client_reference_id"),
        "customer": _session_customer(account, params),
        "customer_email": params.get("customer_email"),
        "customer_details": None,
        "metadata": _metadata(params),
        "payment_intent": None,
        "payment_method_types": ["card", "sepa_debit"],
        "setup_intent": None,
        "success_url": success_url,
        "cancel_url": params.get("cancel_url"),
        "url": f"{public_base}/c/pay/{session_id}",
        "_payment_intent_metadata": _metadata(params.get("payment_intent_data") or {}),
        "_application_fee_amount": _application_fee(account, params.get("payment_intent_data") or {}),
        "_line_items": line_items,
    }
    account.objects[session_id] = session
    return session


def session_pay(account: Account, session: dict, *, delayed: bool, amount_total: int | None = None) -> list[dict]:
    """The customer pays on the hosted page: by card (paid now) or a delayed method."""
    if session["mode"] != "payment":
        raise StripeError(400, "A setup-mode session saves a payment method: nothing to pay.", param="mode")
    if session["status"] != "open":
        raise StripeError(400, "This Checkout Session is no longer open.", code="checkout_session_not_open")
    if amount_total is not None:  # stand-in only: as if a discount were applied on the page
        session["amount_total"] = amount_total
    intent = _new(
        account,
        "pi_",
        "payment_intent",
        amount=session["amount_total"],
        currency=session["currency"],
        status="processing" if delayed else "succeeded",
        latest_charge=None,
        metadata=dict(session["_payment_intent_metadata"]),
        application_fee_amount=session.get("_application_fee_amount"),
        payment_method_types=["sepa_debit" if delayed else "card"],
    )
    session.update(
        status="complete",
        payment_intent=intent["id"],
        payment_status="unpaid" if delayed else "paid",
        customer_details={"email": session["customer_email"]},
        _settlement="processing" if delayed else "succeeded",
    )
    if not delayed:
        _charge_create(account, intent)
    pending = emit(account, "checkout.session.completed", public(session))
    if not delayed:
        pending += emit(account, "payment_intent.succeeded", intent)
    return pending


def session_settle(account: Account, session: dict, *, succeeded: bool) -> list[dict]:
    """A delayed payment method finally succeeds or fails."""
    intent = account.objects.get(session.get("payment_intent") or "")
    if (
        session["status"] != "complete"
        or session["payment_status"] != "unpaid"
        or not intent
        or intent["status"] != "processing"
    ):
        raise StripeError(400, "This Checkout Session has no payment in progress.")
    if succeeded:
        intent["status"] = "succeeded"
        _charge_create(account, intent)
        session.update(payment_status="paid", _settlement="succeeded")
        return emit(account, "checkout.session.async_payment_succeeded", public(session))
    intent["status"] = "requires_payment_method"
    session["_settlement"] = "failed"
    return emit(account, "checkout.session.async_payment_failed", public(session))


def session_expire(account: Account, session: dict) -> list[dict]:
    """POST /v1/checkout/sessions/<id>/expire, or the session's 24 hours running out unpaid."""
    if session["status"] != "open":
        raise StripeError(
            400, "Only Checkout Sessions with a status in [open] can be expired.", code="checkout_session_not_open"
        )
    session["status"] = "expired"
    return emit(account, "checkout.session.expired", public(session))


def _charge_create(account: Account, intent: dict) -> dict:
    charge = _new(
        account,
        "ch_",
        "charge",
        amount=intent["amount"],
        amount_captured=intent["amount"],
        amount_refunded=0,
        currency=intent["currency"],
        paid=True,
        captured=True,
        refunded=False,
        disputed=False,
        status="succeeded",
        payment_intent=intent["id"],
        metadata=dict(intent["metadata"]),
        application_fee_amount=intent.get("application_fee_amount"),
        application_fee=None,
    )
    intent["latest_charge"] = charge["id"]
    charge["balance_transaction"] = _balance_transaction_create(account, charge)["id"]
    if charge["application_fee_amount"]:
        _application_fee_collect(account, charge)
    return charge


def _balance_transaction_create(account: Account, charge: dict) -> dict:
    """The charge's money on the balance: Stripe's fee for a European card (1.5% + 0.25) taken off."""
    fee = (charge["amount"] * 15 + 500) // 1000 + 25
    return _new(
        account,
        "txn_",
        "balance_transaction",
        amount=charge["amount"],
        fee=fee,
        net=charge["amount"] - fee,
        currency=charge["currency"],
        type="charge",
        reporting_category="charge",
        source=charge["id"],
        status="pending",
        available_on=now() + 2 * 24 * 3600,
        fee_details=[
            {
                "amount": fee,
                "currency": charge["currency"],
                "type": "stripe_fee",
                "description": "Stripe processing fees",
            }
        ],
    )


def _application_fee(account: Account, payment_intent_data: dict) -> int | None:
    """payment_intent_data[application_fee_amount]: only on a connected account (a direct charge)."""
    if payment_intent_data.get("application_fee_amount") in (None, ""):
        return None
    if not account.platforms:
        raise StripeError(
            400,
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment "
            "(using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).",
            param="payment_intent_data[application_fee_amount]",
        )
    return _int(payment_intent_data["application_fee_amount"], "payment_intent_data[application_fee_amount]")


def _application_fee_collect(account: Account, charge: dict) -> None:
    """The platform's share of a direct charge: an application_fee object on the platform's account."""
    platform = account.directory.get(sorted(account.platforms)[0]) if account.platforms else None
    if platform is None:
        return
    fee = _new(platform, "fee_", "application_fee", amount=charge["application_fee_amount"])
    fee.update(
        account=account.id,
        amount_refunded=0,
        currency=charge["currency"],
        charge=charge["id"],
        originating_transaction=charge["id"],
        refunded=False,
    )
    charge["application_fee"] = fee["id"]


def public(obj: dict) -> dict:
    """An object as the API shows it: without the stand-in's private fields."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
