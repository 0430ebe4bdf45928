"""Top-ups: charging a saved payment method off-session and crediting it exactly once.

topup_charge records the Purchase (kind topup or auto_reload) under the caller's idempotency key
before Stripe is asked, then creates the PaymentIntent (off_session, confirm) with a Stripe
idempotency key derived from the caller's, so a retry, a replay or a concurrent call with the same
key makes one payment. A PaymentIntent that succeeded is credited by topup_fulfil, which the
webhook (payment_intent.succeeded, after a SEPA debit settles or a 3-D Secure payment completes)
calls too; it credits through checkout.purchase_credit, the one crediting function, under the
purchase's row lock, so the synchronous answer and the webhook credit once.
"""

import hashlib
import json
import logging
import math
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse

from agencies import roles, tenancy
from agencies.audit import audited_field_set
from agencies.models import Agency, CreditPackage, Organization
from core.money import money_format as money
from invoices import platform as platform_invoices, selectors as invoice_terms

from . import connect, payment_methods, stripe_api
from .models import Purchase
from .stripe_api import StripeAccount
from .topup_settle import topup_confirm as topup_confirm, topup_fulfil  # topup_confirm: for the pages

logger = logging.getLogger(__name__)
Status = Purchase.Status
MAX_TOPUP_CENTS = 100_000_000  # one million in major units: a bigger number is a typo


class TopupRefused(ValueError):
    """The top-up cannot be asked for as given (nothing was sent to Stripe). `code` is the API error code
    (amount_too_small, currency_mismatch, payment_method_not_found, no_topup_rate, ...), str() the message."""

    def __init__(self, code: str, message: str, *, status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class TopupQuote:
    units: int  # credits (a client) or minutes (an agency) the top-up buys
    amount_cents: int  # the price of those units, in the seller's price convention (units x rate)
    charged_cents: int  # what the card is charged: amount_cents, plus VAT when prices exclude it
    currency: str  # ISO code, upper case


@dataclass(frozen=True)
class TopupOutcome:
    purchase: Purchase
    # "succeeded" (credited), "processing" (credited when Stripe reports it), "declined",
    # "authentication_required", "failed"
    status: str
    decline_code: str = ""  # Stripe's decline_code (or its error code) when declined
    message: str = ""  # for people: why it did not succeed
    authentication_url: str = ""  # where the customer confirms on-session, when authentication_required
    replayed: bool = False  # the idempotency key was used before: this is that call's outcome


# --- Prices -------------------------------------------------------------------------


def topup_rate(*, agency: Agency) -> tuple[int, str] | None:
    """(price per credit in minor units, currency) a client of `agency` tops up at; None when it has no price.

    Agency.topup_rate_cents when set, else its best package's per-credit price rounded up; the
    currency is its packages' (EUR when it has none).
    """
    packages = list(CreditPackage.objects.filter(agency=agency).on_sale()) or list(
        CreditPackage.objects.filter(agency=agency).current()
    )
    currency = packages[0].currency if packages else "EUR"
    if agency.topup_rate_cents:
        return agency.topup_rate_cents, currency
    same = [p for p in packages if p.currency == currency]
    if not same:
        return None
    best = min(same, key=lambda p: (p.price_cents / p.credits, p.pk))
    return math.ceil(best.price_cents / best.credits), currency


def topup_rate_set(*, agency: Agency, rate_cents: int | None, actor=None) -> None:
    """The agency's top-up price per credit (minor units), or None for its best package's rate."""
    if rate_cents is not None and rate_cents < 1:
        raise ValueError("A top-up rate is at least 1 cent a credit.")
    audited_field_set(
        obj=agency,
        field="topup_rate_cents",
        value=rate_cents,
        actor=actor,
        action="packages.topup_price",
        agency_id=agency.pk,
    )
    agency.topup_rate_cents = rate_cents


def topup_quote(*, agency: Agency, organization: Organization | None, amount_cents: int, currency: str) -> TopupQuote:
    """What `amount_cents` buys: a client's credits at its agency's top-up rate, or an agency's platform minutes."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents > MAX_TOPUP_CENTS:
        raise TopupRefused("invalid_field", f"amount must be a whole number of cents up to {MAX_TOPUP_CENTS}.")
    if organization is None:
        rate, expected = settings.PLATFORM_MINUTE_PRICE_CENTS, settings.PLATFORM_CURRENCY
    else:
        found = topup_rate(agency=agency)
        if found is None:
            raise TopupRefused("no_topup_rate", "Top-ups are not available: the agency has no credit price.")
        rate, expected = found
    if (currency or "").upper() != expected:
        raise TopupRefused("currency_mismatch", f"Top-ups are paid in {expected}.")
    minimum = settings.TOPUP_MIN_CENTS
    units = amount_cents // rate
    if amount_cents < minimum or units < 1:
        raise TopupRefused("amount_too_small", f"The smallest top-up is {money(max(minimum, rate), expected)}.")
    price = units * rate
    if organization is None:
        charged = platform_invoices.minute_terms(agency=agency, price_cents=price).amounts.gross
    else:
        charged = invoice_terms.checkout_amount(agency=agency, organization=organization, price_cents=price)
    return TopupQuote(units=units, amount_cents=price, charged_cents=charged, currency=expected)


# --- Outcomes -----------------------------------------------------------------------


def topup_outcome(*, purchase: Purchase, replayed: bool = False) -> TopupOutcome:
    """What a top-up's purchase says happened, as topup_charge answers it."""
    if purchase.fulfilled_at is not None:
        status = "succeeded"
    elif purchase.status == Status.PROCESSING:
        status = "processing"
    elif purchase.decline_code == "authentication_required" and purchase.status == Status.PENDING:
        status = "authentication_required"
    elif purchase.status == Status.FAILED and purchase.decline_code:
        status = "declined"
    elif purchase.status in (Status.FAILED, Status.MISMATCH):
        status = "failed"
    else:
        status = "processing"  # asked of Stripe, no answer recorded yet
    return TopupOutcome(
        purchase=purchase,
        status=status,
        decline_code=purchase.decline_code if status in ("declined", "authentication_required") else "",
        message=purchase.failure_message or purchase.mismatch_reason,
        authentication_url=purchase.authentication_url if status == "authentication_required" else "",
        replayed=replayed,
    )


def _fingerprint(**request) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _by_key(*, agency: Agency, organization: Organization | None, idempotency_key: str) -> Purchase | None:
    found = Purchase.objects.filter(idempotency_key=idempotency_key)
    if organization is None:
        return found.filter(agency=agency, organization__isnull=True).first()
    return found.filter(organization=organization).first()


def _return_url(*, agency: Agency, organization: Organization | None, reference: str) -> str:
    """Where the customer comes back after authenticating a payment on-session: the top-up page."""
    try:
        if organization is None:
            path = reverse("console_billing:topup", urlconf=settings.ROOT_URLCONF)
            return tenancy.console_url(path) + f"?topup={reference}"
        path = reverse("billing:topup", urlconf=settings.PORTAL_URLCONF)
        return tenancy.portal_url(agency, path) + f"?topup={reference}"
    except NoReverseMatch:  # pragma: no cover - the pages are always mounted
        return tenancy.console_url("/")


# --- Charging -----------------------------------------------------------------------


def topup_charge(
    *,
    agency: Agency,
    organization: Organization | None,
    amount_cents: int,
    currency: str,
    payment_method_id: str,
    idempotency_key: str,
    kind: str = "topup",
    description: str = "",
    buyer=None,
) -> TopupOutcome:
    """Charge a saved payment method off-session (PaymentIntent off_session=true, confirm=true) and credit it
    through the exactly-once fulfilment, with an invoice. organization=None: the agency buys platform minutes.
    `kind` "topup" or "auto_reload"; `description` becomes the ledger entry's (auto-reload says why).
    The same idempotency_key (per buyer) charges once and answers the first outcome with replayed=True.
    Raises TopupRefused before Stripe is asked; stripe_api.StripeUnavailable when Stripe cannot be reached."""
    roles.require_actor(buyer, agency="billing", organization="buy")
    if kind not in (Purchase.Kind.TOPUP, Purchase.Kind.AUTO_RELOAD):
        raise ValueError(f"not a top-up kind: {kind}")
    if not idempotency_key or len(idempotency_key) > 255:
        raise TopupRefused("invalid_idempotency_key", "The idempotency key must be 1 to 255 characters.")
    fingerprint = _fingerprint(
        agency=agency.pk,
        organization=organization.pk if organization else None,
        amount=amount_cents,
        currency=(currency or "").upper(),
        payment_method=payment_method_id,
        kind=kind,
    )
    # The key first: a replay answers the first outcome even if prices or methods changed since.
    purchase = _by_key(agency=agency, organization=organization, idempotency_key=idempotency_key)
    replayed = purchase is not None
    account = payment_methods.buyer_account(agency=agency, organization=organization)
    if purchase is None:
        quote = topup_quote(agency=agency, organization=organization, amount_cents=amount_cents, currency=currency)
        if not account.configured:
            raise TopupRefused("stripe_not_configured", "Payments are not set up yet.", status=409)
        _method_check(account=account, agency=agency, organization=organization, payment_method_id=payment_method_id)
        purchase, replayed = _purchase_claim(
            agency=agency,
            organization=organization,
            quote=quote,
            account=account,
            buyer=buyer,
            kind=kind,
            description=description,
            payment_method_id=payment_method_id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            requested_cents=amount_cents,
        )
    if purchase.request_fingerprint != fingerprint:
        raise TopupRefused(
            "idempotency_key_reused", "This Idempotency-Key was used with a different request.", status=409
        )
    if replayed and (purchase.stripe_payment_intent_id or purchase.status != Status.PENDING):
        return topup_outcome(purchase=purchase, replayed=True)
    # New, or the first call with this key never heard back from Stripe: ask (again) with the same key.
    return _charge(account=account, purchase=purchase, replayed=replayed)


def _method_check(*, account: StripeAccount, agency: Agency, organization: Organization | None, payment_method_id: str):
    """The method must be saved on this buyer's own customer (else it is another tenant's: not found)."""
    missing = TopupRefused("payment_method_not_found", "No such payment method for this account.", status=404)
    customer_id = payment_methods.customer_find(agency=agency, organization=organization, account=account)
    if not customer_id or not payment_method_id.startswith("pm_"):
        raise missing
    method = stripe_api.missing_as_none(
        lambda: stripe_api.payment_method_retrieve(account=account, payment_method_id=payment_method_id)
    )
    if method is None or method.customer != customer_id:
        raise missing


def _default_description(quote: TopupQuote, organization: Organization | None) -> str:
    unit = "minutes" if organization is None else "credits"
    return f"Top-up: {quote.units:,} {unit} ({money(quote.charged_cents, quote.currency)})"


def _purchase_claim(*, agency, organization, quote, account, buyer, kind, description, payment_method_id,
                    idempotency_key, fingerprint, requested_cents) -> tuple[Purchase, bool]:  # fmt: skip
    """Record the top-up under its idempotency key; (purchase, replayed) — a concurrent call may have won."""
    fee = connect.application_fee(agency=agency, amount_cents=quote.charged_cents) if organization else 0
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                reference=uuid.uuid4().hex,
                agency=agency,
                organization=organization,
                package=None,
                buyer=buyer,
                credits=quote.units,
                amount_cents=quote.charged_cents,
                currency=quote.currency,
                livemode=account.livemode,
                kind=kind,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                requested_cents=requested_cents,
                description=(description or _default_description(quote, organization))[:300],
                stripe_payment_method_id=payment_method_id,
                application_fee_cents=fee,
            )
        return purchase, False
    except IntegrityError:
        found = _by_key(agency=agency, organization=organization, idempotency_key=idempotency_key)
        if found is None:
            raise
        return found, True


def _charge(*, account: StripeAccount, purchase: Purchase, replayed: bool) -> TopupOutcome:
    agency = Agency.objects.get(pk=purchase.agency_id)
    organization = purchase.organization
    customer_id = payment_methods.customer_find(agency=agency, organization=organization, account=account)
    owner = f"org-{organization.pk}" if organization else f"agency-{agency.pk}"
    metadata = {"purchase": purchase.reference, "kind": purchase.kind, "agency_id": str(agency.pk)}
    if organization is not None:
        metadata["organization_id"] = str(organization.pk)
    params: dict = {
        "amount": purchase.amount_cents,
        "currency": purchase.currency.lower(),
        "customer": customer_id,
        "payment_method": purchase.stripe_payment_method_id,
        "off_session": True,
        "confirm": True,
        "description": purchase.description,
        "metadata": metadata,
    }
    if purchase.application_fee_cents:
        params["application_fee_amount"] = purchase.application_fee_cents
    key = hashlib.sha256(f"{owner}:{purchase.idempotency_key}".encode()).hexdigest()[:48]
    try:
        intent = stripe_api.payment_intent_create(account=account, params=params, idempotency_key=f"topup-{key}")
    except stripe_api.StripeCardError as exc:
        if exc.code == "authentication_required":
            url = _authentication_url(account=account, purchase=purchase, payment_intent_id=exc.payment_intent_id)
            purchase = _unpaid_record(
                purchase=purchase,
                payment_intent_id=exc.payment_intent_id,
                status=Status.PENDING,
                decline_code="authentication_required",
                message="The bank asks the cardholder to confirm this payment.",
                authentication_url=url,
            )
        else:
            purchase = _unpaid_record(
                purchase=purchase,
                payment_intent_id=exc.payment_intent_id,
                status=Status.FAILED,
                decline_code=exc.decline_code or exc.code,
                message=exc.detail,
            )
        return topup_outcome(purchase=purchase, replayed=replayed)
    except stripe_api.StripeRejected as exc:
        if exc.kind in ("auth", "permission"):
            raise
        purchase = _unpaid_record(
            purchase=purchase, payment_intent_id="", status=Status.FAILED, decline_code="",
            message=exc.detail or "Stripe refused the payment.",
        )  # fmt: skip
        return topup_outcome(purchase=purchase, replayed=replayed)
    fulfilled = topup_fulfil(account=account, intent=intent)
    return topup_outcome(purchase=fulfilled or purchase, replayed=replayed)


def _authentication_url(*, account: StripeAccount, purchase: Purchase, payment_intent_id: str) -> str:
    """Confirm the PaymentIntent on-session so Stripe gives the page where the cardholder authenticates."""
    if not payment_intent_id:
        return ""
    return_url = _return_url(agency=purchase.agency, organization=purchase.organization, reference=purchase.reference)
    try:
        intent = stripe_api.payment_intent_confirm(
            account=account,
            payment_intent_id=payment_intent_id,
            params={"payment_method": purchase.stripe_payment_method_id, "return_url": return_url},
        )
    except stripe_api.StripeRejected:
        logger.warning("Top-up %s: Stripe gave no authentication page", purchase.pk)
        return ""
    action = intent.next_action
    if intent.status == "requires_action" and action and action.type == "redirect_to_url":
        return action.redirect_to_url.url
    return ""


def _unpaid_record(*, purchase: Purchase, payment_intent_id: str, status: str, decline_code: str, message: str,
                   authentication_url: str = "") -> Purchase:  # fmt: skip
    """Record why a top-up is not paid, unless the webhook has settled it meanwhile."""
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().get(pk=purchase.pk)
        if locked.fulfilled_at is not None or locked.status == Status.MISMATCH:
            return locked
        if payment_intent_id and not locked.stripe_payment_intent_id:
            locked.stripe_payment_intent_id = payment_intent_id
        locked.status, locked.decline_code = status, decline_code[:100]
        locked.failure_message, locked.authentication_url = message[:300], authentication_url[:1000]
        locked.save()
    return locked
