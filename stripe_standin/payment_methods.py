"""PaymentMethods: Stripe's test tokens, attaching to and detaching from customers, a customer's default.

A test token (pm_card_visa, pm_card_chargeDeclined, ...) is accepted wherever
Stripe accepts a PaymentMethod id; like Stripe, using or attaching one makes a
new pm_... object of that card (or SEPA account). How the card behaves when
charged (succeeds, declines with a decline code, asks for 3-D Secure, settles
later) is kept on the object, private to the stand-in.

Stand-in deviation: Stripe refuses to attach its "declined" test cards
(4000000000000002 ...); here they attach, and decline when charged, so a saved
card can be made to decline. pm_card_chargeCustomerFail is Stripe's own card for that.
"""

import time

from .resources import _metadata, _new, emit, listing, public
from .state import Account, StripeError, now

ID = r"([A-Za-z0-9_]+)"
SUCCEEDS, DECLINES, AUTHENTICATES, SETTLES_LATER = "succeeds", "declines", "authenticates", "settles_later"

# token -> (brand, last4, behaviour, decline_code)
CARDS = {
    "pm_card_visa": ("visa", "4242", SUCCEEDS, None),
    "pm_card_mastercard": ("mastercard", "4444", SUCCEEDS, None),
    "pm_card_amex": ("amex", "8431", SUCCEEDS, None),
    "pm_card_chargeDeclined": ("visa", "0002", DECLINES, "generic_decline"),
    "pm_card_chargeCustomerFail": ("visa", "0341", DECLINES, "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", DECLINES, "insufficient_funds"),
    "pm_card_chargeDeclinedLostCard": ("visa", "9987", DECLINES, "lost_card"),
    "pm_card_chargeDeclinedStolenCard": ("visa", "9979", DECLINES, "stolen_card"),
    "pm_card_chargeDeclinedFraudulent": ("visa", "0019", DECLINES, "fraudulent"),
    "pm_card_authenticationRequired": ("visa", "3184", AUTHENTICATES, None),
}
# A SEPA Direct Debit account (Stripe's test IBAN DE89370400440532013000): payments settle later.
SEPA_TOKENS = ("pm_sepa_debit", "pm_sepaDebit")
BRAND_NAMES = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}
REUSE_REFUSED = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared "
    "with a connected account without Customer attachment, or was detached from a Customer. It may not be used "
    "again. To use a PaymentMethod multiple times, you must attach it to a Customer first."
)


def is_token(value: str) -> bool:
    return value in CARDS or value in SEPA_TOKENS


def _billing_details() -> dict:
    address = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
    return {"address": address, "email": None, "name": None, "phone": None, "tax_id": None}


def from_token(account: Account, token: str) -> dict:
    """A new PaymentMethod made from a test token, not attached to anyone."""
    fields: dict = {
        "allow_redisplay": "unspecified",
        "billing_details": _billing_details(),
        "customer": None,
        "metadata": {},
    }
    if token in SEPA_TOKENS:
        fields.update(
            type="sepa_debit",
            sepa_debit={
                "bank_code": "37040044",
                "branch_code": "",
                "country": "DE",
                "fingerprint": "standinsepa3000",
                "generated_from": {"charge": None, "setup_attempt": None},
                "last4": "3000",
            },
            _behaviour=SETTLES_LATER,
            _decline_code=None,
        )
        fields["billing_details"].update(name="Jenny Rosen", email="jenny@example.com")
    else:
        brand, last4, behaviour, decline_code = CARDS[token]
        fields.update(
            type="card",
            card={
                "brand": brand,
                "display_brand": brand,
                "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                "country": "US",
                "exp_month": 12,
                "exp_year": time.gmtime(now()).tm_year + 3,
                "fingerprint": f"standin{brand}{last4}",
                "funding": "credit",
                "last4": last4,
                "networks": {"available": [brand], "preferred": None},
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            _behaviour=behaviour,
            _decline_code=decline_code,
        )
    return _new(account, "pm_", "payment_method", **fields)


def describe(method: dict) -> str:
    """How the hosted pages name a method: "Visa •••• 4242"."""
    if method["type"] == "sepa_debit":
        return f"SEPA Direct Debit •••• {method['sepa_debit']['last4']}"
    return f"{BRAND_NAMES.get(method['card']['brand'], method['card']['brand'])} •••• {method['card']['last4']}"


def token_label(token: str) -> str:
    """How the hosted pages name a test token before it is used."""
    if token in SEPA_TOKENS:
        return "SEPA Direct Debit •••• 3000 (settles later)"
    brand, last4, behaviour, decline_code = CARDS[token]
    outcome = {SUCCEEDS: "succeeds", AUTHENTICATES: "asks for authentication"}.get(
        behaviour, f"declines: {decline_code}"
    )
    return f"{BRAND_NAMES[brand]} •••• {last4} ({outcome})"


def token_type(token: str) -> str:
    return "sepa_debit" if token in SEPA_TOKENS else "card"


def resolve(account: Account, value, param: str = "payment_method", *, customer: str | None = None) -> dict:
    """The PaymentMethod a request names: a test token becomes a new object; a pm_ id must be usable."""
    value = str(value or "")
    if is_token(value):
        return from_token(account, value)
    method = account.get("payment_method", "payment_method", value, param)
    if method.get("_detached") or method.get("_consumed"):
        raise StripeError(400, REUSE_REFUSED, param=param)
    if customer and method["customer"] and method["customer"] != customer:
        raise StripeError(
            400,
            f"The provided PaymentMethod ({method['id']}) is attached to another customer: you must pass that "
            "customer's id or use a PaymentMethod attached to this customer.",
            param=param,
        )
    return method


def attach(account: Account, method: dict, customer: dict) -> list[dict]:
    """Attach `method` to `customer`; the deliveries of payment_method.attached."""
    if method["customer"] == customer["id"]:
        return []
    if method["customer"]:
        raise StripeError(
            400, "The payment method you provided has already been attached to a customer.", param="payment_method"
        )
    if method.get("_detached") or method.get("_consumed"):
        raise StripeError(400, REUSE_REFUSED, param="payment_method")
    method["customer"] = customer["id"]
    return emit(account, "payment_method.attached", public(method))


def detach(account: Account, method: dict) -> list[dict]:
    if not method["customer"]:
        raise StripeError(
            400,
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            param="payment_method",
        )
    customer = account.objects.get(method["customer"])
    if customer is not None and default_of(customer) == method["id"]:
        customer["invoice_settings"]["default_payment_method"] = None  # as Stripe clears it
    method.update(customer=None, _detached=True)
    return emit(account, "payment_method.detached", public(method))


def default_of(customer: dict) -> str | None:
    return (customer.get("invoice_settings") or {}).get("default_payment_method")


def default_set(account: Account, customer: dict, value) -> None:
    """invoice_settings[default_payment_method]: a method attached to this customer, or "" to clear it."""
    settings = customer.setdefault("invoice_settings", invoice_settings_new())
    if value in (None, ""):
        settings["default_payment_method"] = None
        return
    param = "invoice_settings[default_payment_method]"
    method = account.objects.get(str(value))
    if method is None or method.get("object") != "payment_method":
        raise StripeError(400, f"No such PaymentMethod: '{value}'", code="resource_missing", param=param)
    if method["customer"] != customer["id"]:
        raise StripeError(
            400,
            f"The customer does not have a payment method with the ID {value}. The payment method must be "
            "attached to the customer.",
            code="resource_missing",
            param=param,
        )
    settings["default_payment_method"] = method["id"]


def invoice_settings_new() -> dict:
    return {"custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None}


def of_customer(account: Account, customer_id: str, kind: str | None) -> list[dict]:
    """The customer's methods, newest first (Stripe's order), of one type if asked."""
    methods = [
        m for m in account.of_type("payment_method") if m["customer"] == customer_id and (not kind or m["type"] == kind)
    ]
    return [public(m) for m in sorted(methods, key=lambda m: m["created"], reverse=True)]


def _kind(params: dict) -> str | None:
    kind = params.get("type") or None
    if kind and kind not in ("card", "sepa_debit"):
        raise StripeError(400, f"Invalid type: {kind}", param="type")
    return kind


def routes_add(api) -> None:
    """Register this module's routes on the stand-in's router."""

    @api.add("GET", f"/v1/payment_methods/{ID}")
    def _retrieve(store, account, match, params, request):
        return public(account.get("payment_method", "payment_method", match.group(1)))

    @api.add("GET", "/v1/payment_methods")
    def _list(store, account, match, params, request):
        if not params.get("customer"):
            raise StripeError(400, "Missing required param: customer.", code="parameter_missing", param="customer")
        customer = account.get("customer", "customer", params["customer"], "customer")
        return listing("/v1/payment_methods", of_customer(account, customer["id"], _kind(params)))

    @api.add("GET", f"/v1/customers/{ID}/payment_methods")
    def _customer_list(store, account, match, params, request):
        customer = account.get("customer", "customer", match.group(1))
        url = f"/v1/customers/{customer['id']}/payment_methods"
        return listing(url, of_customer(account, customer["id"], _kind(params)))

    @api.add("GET", f"/v1/customers/{ID}/payment_methods/{ID}")
    def _customer_retrieve(store, account, match, params, request):
        customer = account.get("customer", "customer", match.group(1))
        method = account.get("payment_method", "payment_method", match.group(2))
        if method["customer"] != customer["id"]:
            raise StripeError(404, f"No such PaymentMethod: '{method['id']}'", code="resource_missing", param="id")
        return public(method)

    @api.add("POST", f"/v1/payment_methods/{ID}/attach")
    def _attach(store, account, match, params, request):
        if not params.get("customer"):
            raise StripeError(400, "Missing required param: customer.", code="parameter_missing", param="customer")
        customer = account.get("customer", "customer", params["customer"], "customer")
        value = match.group(1)
        method = (
            from_token(account, value) if is_token(value) else account.get("payment_method", "payment_method", value)
        )
        request.pending += attach(account, method, customer)
        return public(method)

    @api.add("POST", f"/v1/payment_methods/{ID}/detach")
    def _detach(store, account, match, params, request):
        method = account.get("payment_method", "payment_method", match.group(1))
        request.pending += detach(account, method)
        return public(method)

    @api.add("POST", f"/v1/payment_methods/{ID}")
    def _update(store, account, match, params, request):
        method = account.get("payment_method", "payment_method", match.group(1))
        for name in params:
            if name not in ("metadata", "allow_redisplay", "expand"):
                raise StripeError(400, f"Received unknown parameter: {name}", param=name)
        if "metadata" in params:
            method["metadata"] = {**method["metadata"], **_metadata(params)}
        if params.get("allow_redisplay"):
            method["allow_redisplay"] = params["allow_redisplay"]
        return public(method)
