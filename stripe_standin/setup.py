"""Saving a payment method for later: SetupIntents, and Checkout Sessions in `setup` mode.

A setup-mode session's hosted page (/c/pay/{id}, as for payments) lists
Stripe's test cards and a SEPA account; choosing one and pressing Save makes
the PaymentMethod, attaches it to the session's customer, records a succeeded
SetupIntent (usage off_session) on the session and completes it, sending
payment_method.attached, setup_intent.created, setup_intent.succeeded and
checkout.session.completed (in that order, before the browser goes back to
success_url). `POST /_standin/checkout/sessions/{id}/save` with
payment_method=<test token> does the same without a browser.
"""

from html import escape
from urllib.parse import parse_qsl

from . import customers as cus, pages, payment_methods as methods
from .resources import _metadata, _new, _required, emit, listing, public
from .state import Account, StripeError, new_id, now

ID = r"([A-Za-z0-9_]+)"
SESSION_TTL_SECONDS = 24 * 3600
METHOD_TYPES = ("card", "sepa_debit")
USAGES = ("off_session", "on_session")
# What the hosted page offers, in its order.
CHOICES = [token for token in methods.CARDS if token != "pm_card_chargeCustomerFail"] + ["pm_sepa_debit"]


def _types(params: dict, param: str = "payment_method_types") -> list[str]:
    types = params.get(param) or list(METHOD_TYPES)
    if not isinstance(types, list):
        types = [types]
    for kind in types:
        if kind not in METHOD_TYPES:
            raise StripeError(400, f"Invalid {param}: {kind} (the stand-in knows card and sepa_debit).", param=param)
    return types


def session_create(account: Account, params: dict, public_base: str) -> dict:
    """POST /v1/checkout/sessions with mode=setup."""
    if params.get("line_items"):
        raise StripeError(400, "You cannot pass `line_items` in `setup` mode.", param="line_items")
    success_url = _required(params, "success_url")
    customer = None
    if params.get("customer"):
        customer = account.get("customer", "customer", params["customer"], "customer")["id"]
    creation = params.get("customer_creation") or None
    if creation and creation not in ("always", "if_required"):
        raise StripeError(400, f"Invalid customer_creation: {creation}", param="customer_creation")
    if customer and creation:
        raise StripeError(
            400, "You may only specify one of these parameters: customer, customer_creation.", param="customer_creation"
        )
    session_id = new_id(f"cs_{account.mode}_", 40)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "livemode": account.livemode,
        "created": now(),
        "expires_at": now() + SESSION_TTL_SECONDS,
        "mode": "setup",
        "status": "open",
        "payment_status": "no_payment_required",
        "amount_subtotal": None,
        "amount_total": None,
        "currency": str(params["currency"]).lower() if params.get("currency") else None,
        "client_reference_id": params.get("client_reference_id"),
        "customer": customer,
        "customer_creation": creation,
        "customer_email": params.get("customer_email"),
        "customer_details": None,
        "metadata": _metadata(params),
        "payment_intent": None,
        "payment_method_types": _types(params),
        "setup_intent": None,
        "success_url": success_url,
        "cancel_url": params.get("cancel_url"),
        "url": f"{public_base}/c/pay/{session_id}",
        "_setup_intent_metadata": _metadata(params.get("setup_intent_data") or {}),
        "_line_items": [],
    }
    account.objects[session_id] = session
    return session


def _intent_new(account: Account, *, customer: str | None, params: dict) -> tuple[dict, list[dict]]:
    usage = params.get("usage") or "off_session"
    if usage not in USAGES:
        raise StripeError(400, f"Invalid usage: {usage}", param="usage")
    intent = _new(
        account,
        "seti_",
        "setup_intent",
        application=None,
        cancellation_reason=None,
        customer=customer,
        description=params.get("description"),
        last_setup_error=None,
        latest_attempt=None,
        mandate=None,
        metadata=_metadata(params),
        next_action=None,
        on_behalf_of=None,
        payment_method=None,
        payment_method_types=_types(params),
        single_use_mandate=None,
        status="requires_payment_method",
        usage=usage,
    )
    intent["client_secret"] = f"{intent['id']}_secret_{new_id('', 25)}"
    return intent, emit(account, "setup_intent.created", public(intent))


def intent_confirm(account: Account, intent: dict, value, public_base: str, return_url: str | None) -> list[dict]:
    """Set the method up: attach it to the intent's customer; 3-D Secure cards ask first when confirmed
    with a return_url (on session); without one the stand-in takes the setup as authenticated."""
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise StripeError(
            400,
            f"You cannot confirm this SetupIntent because it has a status of {intent['status']}.",
            code="setup_intent_unexpected_state",
        )
    method = methods.resolve(account, value, customer=intent["customer"]) if value else None
    if method is None:
        method = account.objects.get(intent["payment_method"] or "")
    if method is None:
        raise StripeError(
            400,
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
        )
    if method["type"] not in intent["payment_method_types"]:
        raise StripeError(400, f"The PaymentMethod type {method['type']} is not allowed here.", param="payment_method")
    intent["payment_method"] = method["id"]
    if method["_behaviour"] == methods.AUTHENTICATES and return_url:
        intent.update(
            status="requires_action",
            next_action={
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "url": f"{public_base}/standin/authenticate/{intent['id']}",
                    "return_url": return_url,
                },
            },
        )
        return emit(account, "setup_intent.requires_action", public(intent))
    return succeed(account, intent)


def succeed(account: Account, intent: dict) -> list[dict]:
    method = account.objects[intent["payment_method"]]
    pending: list[dict] = []
    if intent["customer"]:
        pending += methods.attach(account, method, account.objects[intent["customer"]])
    if method["type"] == "sepa_debit":
        intent["mandate"] = new_id("mandate_")
    intent.update(status="succeeded", next_action=None, last_setup_error=None)
    return pending + emit(account, "setup_intent.succeeded", public(intent))


def authentication_end(account: Account, intent: dict, *, completed: bool) -> list[dict]:
    if intent["status"] != "requires_action":
        raise StripeError(400, "This setup does not need authentication any more.")
    if completed:
        return succeed(account, intent)
    intent.update(
        status="requires_payment_method",
        next_action=None,
        last_setup_error={
            "type": "invalid_request_error",
            "code": "setup_intent_authentication_failure",
            "message": "We are unable to authenticate your payment method. Please choose a different payment "
            "method and try again.",
        },
    )
    return emit(account, "setup_intent.setup_failed", public(intent))


def session_save(account: Account, session: dict, token: str) -> list[dict]:
    """The customer chooses a test card (or SEPA) on the hosted page and presses Save."""
    if session["status"] != "open":
        raise StripeError(400, "This Checkout Session is no longer open.", code="checkout_session_not_open")
    if not methods.is_token(token):
        raise StripeError(400, f"Unknown test payment method: {token}", param="payment_method")
    if methods.token_type(token) not in session["payment_method_types"]:
        raise StripeError(400, f"This session does not accept {methods.token_type(token)}.", param="payment_method")
    customer = session["customer"]
    if customer is None and session["customer_creation"] == "always":
        customer = cus.customer_create(
            account, {"email": session["customer_email"]} if session["customer_email"] else {}
        )["id"]
        session["customer"] = customer
    intent, pending = _intent_new(
        account,
        customer=customer,
        params={"metadata": session["_setup_intent_metadata"], "payment_method_types": session["payment_method_types"]},
    )
    method = methods.from_token(account, token)
    intent["payment_method"] = method["id"]
    pending += succeed(account, intent)  # the page did any 3-D Secure itself
    session.update(
        status="complete",
        setup_intent=intent["id"],
        customer_details={"email": session["customer_email"]},
    )
    return pending + emit(account, "checkout.session.completed", public(session))


def _page(session: dict) -> str:
    action = f"/c/pay/{escape(session['id'])}"
    if session["status"] != "open":
        back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        return pages.page(
            "Saved",
            f"<h1>Payment method saved</h1><p data-testid='state'>{escape(session['status'].capitalize())}.</p>"
            f"<p><a href='{escape(back)}'>Return to the merchant</a></p>",
        )
    options = []
    offered = [token for token in CHOICES if methods.token_type(token) in session["payment_method_types"]]
    for index, token in enumerate(offered):
        label = methods.token_label(token)
        checked = " checked" if index == 0 else ""
        options.append(
            f"<p><label><input type='radio' name='payment_method' value='{escape(token)}'{checked}> "
            f"{escape(label)} <small>({escape(token)})</small></label></p>"
        )
    cancel = session.get("cancel_url")
    return pages.page(
        "Save a payment method",
        "<h1>Save a payment method</h1><p>For future payments to this merchant.</p>"
        f"<form method='post' action='{action}'><fieldset><legend>Test payment methods</legend>{''.join(options)}"
        "</fieldset><button type='submit' data-testid='setup-save'>Save</button></form>"
        + (f"<p><a href='{escape(cancel)}'>Cancel and return</a></p>" if cancel else ""),
    )


def hosted(handler, method: str, account: Account, session_id: str) -> None:
    """GET/POST /c/pay/{id} of a setup-mode session."""
    from .server import deliver  # server imports this module

    store = handler.server.store
    with store.lock:
        session = account.objects[session_id]
        if method == "GET":
            return handler._send(200, _page(session).encode(), "text/html; charset=utf-8")
        form = dict(parse_qsl(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)).decode()))
        try:
            pending = session_save(account, session, form.get("payment_method") or "pm_card_visa")
        except StripeError as exc:
            return handler._send(
                exc.status, pages.error(exc.body["error"]["message"]).encode(), "text/html; charset=utf-8"
            )
    deliver(pending)  # like Stripe, tell the merchant's server before sending the customer back
    target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
    handler._send(303, b"", "text/plain", {"Location": target})


def routes_add(api) -> None:
    """Register this module's routes on the stand-in's router."""

    @api.add("POST", "/v1/setup_intents")
    def _create(store, account, match, params, request):
        customer = None
        if params.get("customer"):
            customer = account.get("customer", "customer", params["customer"], "customer")["id"]
        intent, pending = _intent_new(account, customer=customer, params=params)
        request.pending += pending
        store.page_accounts[intent["id"]] = account
        if params.get("payment_method"):
            intent["payment_method"] = methods.resolve(account, params["payment_method"], customer=customer)["id"]
            intent["status"] = "requires_confirmation"
        if str(params.get("confirm", "")).lower() == "true":
            request.pending += intent_confirm(account, intent, None, request.public_base(), params.get("return_url"))
        return public(intent)

    @api.add("POST", f"/v1/setup_intents/{ID}/confirm")
    def _confirm(store, account, match, params, request):
        intent = account.get("setup_intent", "setup_intent", match.group(1))
        store.page_accounts[intent["id"]] = account
        request.pending += intent_confirm(
            account, intent, params.get("payment_method"), request.public_base(), params.get("return_url")
        )
        return public(intent)

    @api.add("GET", f"/v1/setup_intents/{ID}")
    def _retrieve(store, account, match, params, request):
        return public(account.get("setup_intent", "setup_intent", match.group(1)))

    @api.add("GET", "/v1/setup_intents")
    def _list(store, account, match, params, request):
        intents = [public(i) for i in account.of_type("setup_intent")]
        if params.get("customer"):
            intents = [i for i in intents if i["customer"] == params["customer"]]
        return listing("/v1/setup_intents", sorted(intents, key=lambda i: i["created"], reverse=True))

    @api.add("POST", f"/_standin/checkout/sessions/{ID}/save")
    def _save(store, account, match, params, request):
        session = account.get("checkout.session", "checkout.session", match.group(1))
        if session["mode"] != "setup":
            raise StripeError(400, "Only a setup-mode session saves a payment method.")
        request.pending += session_save(account, session, _required(params, "payment_method"))
        return public(session)
