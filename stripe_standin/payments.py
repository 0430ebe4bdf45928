"""PaymentIntents made through the API: charging a saved card or SEPA account, on or off session.

As on Stripe in test mode, the PaymentMethod decides the outcome
(payment_methods.CARDS):
- a card that succeeds: `succeeded`, a charge, charge.succeeded and payment_intent.succeeded;
- a declined card: HTTP 402 card_error `card_declined` with its decline_code and the
  PaymentIntent (back to `requires_payment_method`, with last_payment_error),
  charge.failed and payment_intent.payment_failed;
- pm_card_authenticationRequired off session: HTTP 402 card_error
  `authentication_required`, the PaymentIntent `requires_payment_method`;
  confirmed on session (with a return_url): `requires_action` with
  next_action.redirect_to_url pointing at the stand-in's authentication page
  (authenticate.py), which succeeds or fails the payment;
- SEPA Direct Debit: `processing` (payment_intent.processing) until the bank
  decides: `POST /_standin/payment_intents/{id}/settle` with outcome=succeeded|failed.
"""

from . import payment_methods as methods, resources as res
from .resources import _int, _metadata, _new, emit, listing, public
from .state import Account, StripeError, new_id, now

ID = r"([A-Za-z0-9_]+)"
CONFIRM_PARAMS = set(
    "payment_method off_session return_url mandate mandate_data expand error_on_requires_action use_stripe_sdk "
    "payment_method_options receipt_email setup_future_usage".split()
)
CREATE_PARAMS = CONFIRM_PARAMS | set(
    "amount currency customer payment_method_types confirm metadata description application_fee_amount "
    "statement_descriptor statement_descriptor_suffix capture_method confirmation_method automatic_payment_methods".split()
)
DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}
MINIMUM_AMOUNT = 50


def _check(params: dict, allowed: set) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise StripeError(400, f"Received unknown parameter: {unknown[0]}", param=unknown[0])


def _flag(params: dict, name: str) -> bool:
    return str(params.get(name, "")).lower() == "true"


def _application_fee(account: Account, params: dict) -> int | None:
    if params.get("application_fee_amount") in (None, ""):
        return None
    if not account.platforms:
        raise StripeError(
            400,
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment "
            "(using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).",
            param="application_fee_amount",
        )
    return _int(params["application_fee_amount"], "application_fee_amount")


def intent_create(account: Account, params: dict, public_base: str) -> tuple[dict, list[dict]]:
    """POST /v1/payment_intents. Returns the intent; raises the 402 of a declined confirmation."""
    _check(params, CREATE_PARAMS)
    amount = _int(res._required(params, "amount"), "amount")
    if amount < MINIMUM_AMOUNT:
        raise StripeError(400, "Amount must be at least €0.50 eur", code="amount_too_small", param="amount")
    currency = str(res._required(params, "currency")).lower()
    customer = None
    if params.get("customer"):
        customer = account.get("customer", "customer", params["customer"], "customer")["id"]
    method = None
    if params.get("payment_method"):
        method = methods.resolve(account, params["payment_method"], customer=customer)
    if _flag(params, "off_session") and not _flag(params, "confirm"):
        raise StripeError(400, "off_session can only be used when confirm=true.", param="off_session")
    types = params.get("payment_method_types") or [method["type"] if method else "card"]
    intent = _new(
        account,
        "pi_",
        "payment_intent",
        amount=amount,
        amount_capturable=0,
        amount_received=0,
        application_fee_amount=_application_fee(account, params),
        automatic_payment_methods=None,
        canceled_at=None,
        cancellation_reason=None,
        capture_method="automatic",
        confirmation_method="automatic",
        currency=currency,
        customer=customer,
        description=params.get("description"),
        last_payment_error=None,
        latest_charge=None,
        metadata=_metadata(params),
        next_action=None,
        on_behalf_of=None,
        payment_method=method["id"] if method else None,
        payment_method_types=types if isinstance(types, list) else [types],
        processing=None,
        receipt_email=params.get("receipt_email"),
        setup_future_usage=params.get("setup_future_usage"),
        statement_descriptor=params.get("statement_descriptor"),
        status="requires_confirmation" if method else "requires_payment_method",
    )
    intent["client_secret"] = f"{intent['id']}_secret_{new_id('', 25)}"
    pending = emit(account, "payment_intent.created", public(intent))
    if _flag(params, "confirm"):
        if method is None:
            raise_after(
                pending,
                StripeError(
                    400,
                    "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the "
                    "PaymentIntent with a payment method, pass `payment_method`.",
                    code="payment_intent_unexpected_state",
                ),
            )
        pending += intent_confirm(account, intent, params, public_base)
    return intent, pending


class Pending(StripeError):
    """A refusal that still sends the events of what happened before it (a decline is an event too)."""

    def __init__(self, pending: list[dict], error: StripeError):
        super().__init__(error.status, str(error))
        self.body = error.body
        self.pending = pending


def raise_after(pending: list[dict], error: StripeError):
    raise Pending(pending, error)


def intent_confirm(account: Account, intent: dict, params: dict, public_base: str) -> list[dict]:
    """Confirm the intent with its payment method; the deliveries, or Pending(402) on a decline."""
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise StripeError(
            400,
            f"This PaymentIntent's status is {intent['status']}, but it must be one of requires_payment_method, "
            "requires_confirmation, or requires_action to be confirmed.",
            code="payment_intent_unexpected_state",
        )
    if params.get("payment_method"):
        method = methods.resolve(account, params["payment_method"], customer=intent["customer"])
        intent["payment_method"] = method["id"]
    elif intent["payment_method"]:
        method = account.objects[intent["payment_method"]]
    else:
        raise StripeError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    if not method["customer"]:
        method["_consumed"] = True  # Stripe: an unattached method is used once
    intent.update(last_payment_error=None, next_action=None)
    off_session = _flag(params, "off_session")
    behaviour = method["_behaviour"]
    if behaviour == methods.SUCCEEDS:
        return succeed(account, intent)
    if behaviour == methods.SETTLES_LATER:
        intent["status"] = "processing"
        return emit(account, "payment_intent.processing", public(intent))
    if behaviour == methods.DECLINES:
        _decline(account, intent, method, "card_declined", method["_decline_code"])
    if off_session:
        _decline(account, intent, method, "authentication_required", "authentication_required")
    url = f"{public_base}/standin/authenticate/{intent['id']}"
    return_url = params.get("return_url")
    if return_url:
        next_action = {"type": "redirect_to_url", "redirect_to_url": {"url": url, "return_url": return_url}}
    else:  # as Stripe: left to Stripe.js, whose stripe_js URL is the authentication page
        next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": new_id("src_")},
        }
    intent.update(status="requires_action", next_action=next_action)
    return emit(account, "payment_intent.requires_action", public(intent))


def _failed_charge(account: Account, intent: dict, method: dict, code: str, decline_code: str) -> dict:
    """A declined attempt: Stripe keeps it as a failed charge (no money moved, no fee)."""
    charge = _new(
        account,
        "ch_",
        "charge",
        amount=intent["amount"],
        amount_captured=0,
        amount_refunded=0,
        currency=intent["currency"],
        paid=False,
        captured=False,
        refunded=False,
        disputed=False,
        status="failed",
        payment_intent=intent["id"],
        metadata=dict(intent["metadata"]),
        application_fee_amount=intent.get("application_fee_amount"),
        application_fee=None,
        balance_transaction=None,
        failure_code=code,
        failure_message=DECLINE_MESSAGES.get(decline_code, "Your card was declined."),
        outcome={"network_status": "declined_by_network", "reason": decline_code, "type": "issuer_declined"},
    )
    intent["latest_charge"] = charge["id"]
    _charge_details(charge, intent, method)
    return charge


def _decline(account: Account, intent: dict, method: dict, code: str, decline_code: str):
    """The bank declines: record it on the intent, send the events, raise Stripe's 402 card_error."""
    charge = _failed_charge(account, intent, method, code, decline_code)
    message = DECLINE_MESSAGES.get(decline_code, "Your card was declined.")
    error = {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": message,
        "charge": charge["id"],
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "payment_method": public(method),
    }
    intent.update(status="requires_payment_method", last_payment_error=dict(error))
    pending = emit(account, "charge.failed", public(charge))
    pending += emit(account, "payment_intent.payment_failed", public(intent))
    refusal = StripeError(402, message, type="card_error", code=code)
    refusal.body = {"error": {**error, "payment_intent": public(intent)}}
    raise_after(pending, refusal)


def _charge_details(charge: dict, intent: dict, method: dict | None) -> None:
    charge.update(
        customer=intent.get("customer"),
        description=intent.get("description"),
        payment_method=method["id"] if method else None,
        payment_method_details={"type": method["type"], method["type"]: dict(method[method["type"]])}
        if method
        else None,
    )


def succeed(account: Account, intent: dict) -> list[dict]:
    """The payment goes through: a charge, and the events Stripe sends for it."""
    charge = res._charge_create(account, intent)
    method = account.objects.get(intent.get("payment_method") or "")
    _charge_details(charge, intent, method)
    intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None, next_action=None)
    return emit(account, "charge.succeeded", public(charge)) + emit(account, "payment_intent.succeeded", public(intent))


def settle(account: Account, intent: dict, *, succeeded: bool) -> list[dict]:
    """The bank decides a SEPA debit (stand-in control)."""
    if intent["status"] != "processing":
        raise StripeError(400, f"PaymentIntent {intent['id']} is not processing (status {intent['status']}).")
    if succeeded:
        return succeed(account, intent)
    method = account.objects[intent["payment_method"]]
    charge = _failed_charge(account, intent, method, "insufficient_funds", "insufficient_funds")
    intent.update(
        status="requires_payment_method",
        last_payment_error={
            "type": "card_error",
            "code": "insufficient_funds",
            "message": "The customer's account has insufficient funds to cover this payment.",
            "payment_method": public(method),
        },
    )
    return emit(account, "charge.failed", public(charge)) + emit(
        account, "payment_intent.payment_failed", public(intent)
    )


def authentication_end(account: Account, intent: dict, *, completed: bool) -> list[dict]:
    """The customer completes or fails 3-D Secure on the authentication page."""
    if intent["status"] != "requires_action":
        raise StripeError(400, "This payment does not need authentication any more.")
    if completed:
        return succeed(account, intent)
    method = account.objects[intent["payment_method"]]
    intent.update(
        status="requires_payment_method",
        next_action=None,
        last_payment_error={
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "We are unable to authenticate your payment method. Please choose a different payment "
            "method and try again.",
            "payment_method": public(method),
        },
    )
    return emit(account, "payment_intent.payment_failed", public(intent))


CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


def intent_cancel(account: Account, intent: dict, reason: str | None) -> list[dict]:
    if intent["status"] not in CANCELABLE:
        raise StripeError(
            400,
            f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. Only a "
            f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.",
            code="payment_intent_unexpected_state",
        )
    if reason and reason not in CANCELLATION_REASONS:
        raise StripeError(400, f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
    intent.update(status="canceled", canceled_at=now(), cancellation_reason=reason or None, next_action=None)
    return emit(account, "payment_intent.canceled", public(intent))


def routes_add(api) -> None:
    """Register this module's routes on the stand-in's router (before the generic retrieve)."""

    @api.add("POST", "/v1/payment_intents")
    def _create(store, account, match, params, request):
        try:
            intent, pending = intent_create(account, params, request.public_base())
        except Pending as refused:
            request.pending += refused.pending
            raise
        request.pending += pending
        store.page_accounts[intent["id"]] = account
        return public(intent)

    @api.add("POST", f"/v1/payment_intents/{ID}/confirm")
    def _confirm(store, account, match, params, request):
        intent = account.get("payment_intent", "payment_intent", match.group(1))
        _check(params, CONFIRM_PARAMS)
        store.page_accounts[intent["id"]] = account
        try:
            request.pending += intent_confirm(account, intent, params, request.public_base())
        except Pending as refused:
            request.pending += refused.pending
            raise
        return public(intent)

    @api.add("POST", f"/v1/payment_intents/{ID}/cancel")
    def _cancel(store, account, match, params, request):
        intent = account.get("payment_intent", "payment_intent", match.group(1))
        request.pending += intent_cancel(account, intent, params.get("cancellation_reason"))
        return public(intent)

    @api.add("POST", f"/v1/payment_intents/{ID}")
    def _update(store, account, match, params, request):
        intent = account.get("payment_intent", "payment_intent", match.group(1))
        _check(params, {"metadata", "description", "expand", "receipt_email"})
        if "metadata" in params:
            intent["metadata"] = {**intent["metadata"], **_metadata(params)}
        for name in ("description", "receipt_email"):
            if name in params:
                intent[name] = params[name] or None
        return public(intent)

    @api.add("GET", "/v1/payment_intents")
    def _list(store, account, match, params, request):
        intents = [public(i) for i in account.of_type("payment_intent")]
        if params.get("customer"):
            intents = [i for i in intents if i.get("customer") == params["customer"]]
        return listing("/v1/payment_intents", sorted(intents, key=lambda i: i["created"], reverse=True))

    @api.add("POST", f"/_standin/payment_intents/{ID}/settle")
    def _settle(store, account, match, params, request):
        intent = account.get("payment_intent", "payment_intent", match.group(1))
        request.pending += settle(account, intent, succeeded=params.get("outcome") == "succeeded")
        return public(intent)

    @api.add("POST", f"/_standin/payment_intents/{ID}/authenticate")
    def _authenticate(store, account, match, params, request):
        intent = account.get("payment_intent", "payment_intent", match.group(1))
        request.pending += authentication_end(account, intent, completed=params.get("outcome") != "failed")
        return public(intent)
