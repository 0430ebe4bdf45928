"""/api/v1/billing/payment-methods and /api/v1/billing/topup: saved cards and SEPA mandates, and off-session top-ups.

A client key acts for its organization (credits, on its agency's Stripe account); an agency key for
the agency's platform minutes (the platform's account) or, with organization_id, for one of its clients.
billing.payment_methods and billing.topup do the work; this module reads requests and writes JSON.
"""

import uuid
from contextlib import contextmanager

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse

from agencies import tenancy
from agencies.models import Organization
from billing import payment_methods as methods, stripe_api, topup as topups
from billing.models import LedgerEntry, Purchase
from invoices.models import Invoice

from .api import ApiError, Caller, api_endpoint, json_body, organization_for, query_int
from .api_views import _timestamp

MAX_URL = 2000


@contextmanager
def _stripe_errors():
    """Stripe's troubles as API errors: unreachable → 503, no keys or refused keys → 409."""
    try:
        yield
    except stripe_api.StripeUnavailable:
        raise ApiError(503, "stripe_unavailable", "Stripe could not be reached. Please retry shortly.") from None
    except stripe_api.StripeRejected as exc:
        if exc.kind in ("auth", "permission"):
            raise ApiError(409, "stripe_not_configured", "Payments are not set up for this account.") from None
        raise ApiError(502, "stripe_error", exc.detail or "Stripe refused the request.") from None


def _money(amount: int | None, currency: str) -> dict | None:
    return None if amount is None else {"amount": amount, "currency": currency}


def _body(request) -> dict:
    if not request.body:
        return {}
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body


def _buyer(caller: Caller, organization_id) -> Organization | None:
    return organization_for(caller, organization_id, required=False)


def _query_buyer(request, caller: Caller) -> Organization | None:
    return _buyer(caller, query_int(request, "organization_id"))


def _method_json(method: methods.SavedMethod) -> dict:
    return {
        "id": method.id,
        "type": method.type,
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "default": method.default,
        "created_at": _timestamp(method.created_at),
    }


def _not_found() -> ApiError:
    return ApiError(404, "payment_method_not_found", "No such payment method for this account.")


def _page_url(caller: Caller, organization: Organization | None) -> str:
    """The payment methods page a customer returns to from Stripe's page when no return_url is given."""
    if organization is None:
        return tenancy.console_url(reverse("console_billing:payment_methods", urlconf=settings.ROOT_URLCONF))
    path = reverse("billing:payment_methods", urlconf=settings.PORTAL_URLCONF)
    return tenancy.portal_url(caller.agency, path)


@api_endpoint("GET", "POST")
def payment_methods(request, caller: Caller):
    caller.require(client="payment_methods", agency="billing")
    if request.method == "GET":
        organization = _query_buyer(request, caller)
        with _stripe_errors():
            found = methods.methods_list(agency=caller.agency, organization=organization)
        return JsonResponse({"data": [_method_json(m) for m in found]})
    body = _body(request)
    organization = _buyer(caller, body.get("organization_id"))
    return_url = body.get("return_url")
    if return_url is not None and (
        not isinstance(return_url, str)
        or not return_url.startswith(("https://", "http://"))
        or len(return_url) > MAX_URL
        or any(c.isspace() for c in return_url)
    ):
        raise ApiError(400, "invalid_field", "return_url must be an http(s) URL.")
    page = _page_url(caller, organization)
    success = return_url or page + "?setup={CHECKOUT_SESSION_ID}"
    with _stripe_errors():
        started = methods.method_setup_start(
            agency=caller.agency,
            organization=organization,
            email=_email(caller, organization),
            success_url=success,
            cancel_url=return_url or page,
        )
    body = {"url": started.url, "session_id": started.session_id, "expires_at": _timestamp(started.expires_at)}
    return JsonResponse(body, status=201)


def _email(caller: Caller, organization: Organization | None) -> str:
    """The customer's email at Stripe: the organization's owner, or the agency's admin."""
    if organization is not None:
        owner = organization.members.order_by("pk").first()
        return owner.email if owner else ""
    admin = caller.agency.admins.order_by("pk").first()
    return admin.email if admin else ""


@api_endpoint("DELETE")
def payment_method(request, caller: Caller, method_id: str):
    caller.require(client="payment_methods", agency="billing")
    organization = _query_buyer(request, caller)
    with _stripe_errors():
        try:
            methods.method_detach(agency=caller.agency, organization=organization, payment_method_id=method_id)
        except methods.MethodNotFound:
            raise _not_found() from None
    return HttpResponse(status=204)


@api_endpoint("POST")
def payment_method_default(request, caller: Caller, method_id: str):
    caller.require(client="payment_methods", agency="billing")
    organization = _buyer(caller, _body(request).get("organization_id"))
    with _stripe_errors():
        try:
            method = methods.method_default_set(
                agency=caller.agency, organization=organization, payment_method_id=method_id
            )
        except methods.MethodNotFound:
            raise _not_found() from None
    return JsonResponse(_method_json(method))


# --- Top-ups ------------------------------------------------------------------------


def _idempotency_key(request) -> str:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return f"generated-{uuid.uuid4().hex}"
    if not 1 <= len(raw) <= 255 or not all(" " <= c <= "~" for c in raw):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return raw


def _topup_json(purchase: Purchase, status: str) -> dict:
    entry = LedgerEntry.objects.filter(purchase=purchase, kind=LedgerEntry.Kind.PURCHASE).order_by("pk").first()
    invoice = Invoice.objects.filter(purchase=purchase).values_list("pk", flat=True).first()
    return {
        "id": f"tu_{purchase.reference}",
        "status": status,
        "amount": _money(purchase.requested_cents, purchase.currency),
        "charged": _money(purchase.amount_cents, purchase.currency),
        "units": purchase.credits,
        "unit": purchase.unit,
        "balance_after": entry.balance_after if entry else None,
        "invoice_id": f"inv_{invoice}" if invoice else None,
        "payment_intent_id": purchase.stripe_payment_intent_id or None,
        "created_at": _timestamp(purchase.created_at),
    }


def _topup_fields(body: dict) -> tuple[int, str, str]:
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1 or amount > topups.MAX_TOPUP_CENTS:
        raise ApiError(400, "invalid_field", f"amount must be an integer from 1 to {topups.MAX_TOPUP_CENTS} (cents).")
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise ApiError(400, "invalid_field", "currency must be a three-letter ISO code such as EUR.")
    method_id = body.get("payment_method_id")
    if not isinstance(method_id, str) or not method_id or len(method_id) > 255:
        raise ApiError(400, "invalid_field", "payment_method_id must be the id of a saved payment method.")
    return amount, currency.upper(), method_id


@api_endpoint("POST")
def topup(request, caller: Caller):
    caller.require(client="buy", agency="billing")
    key = _idempotency_key(request)
    body = _body(request)
    organization = _buyer(caller, body.get("organization_id"))
    amount, currency, method = _topup_fields(body)
    with _stripe_errors():
        try:
            outcome = topups.topup_charge(
                agency=caller.agency,
                organization=organization,
                amount_cents=amount,
                currency=currency,
                payment_method_id=method,
                idempotency_key=key,
            )
        except topups.TopupRefused as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    purchase = outcome.purchase
    topup_id = f"tu_{purchase.reference}"
    if outcome.status == "declined":
        raise ApiError(
            402,
            "card_declined",
            outcome.message or "The payment method was declined.",
            headers,
            {"decline_code": outcome.decline_code, "topup_id": topup_id},
        )
    if outcome.status == "authentication_required":
        raise ApiError(
            402,
            "authentication_required",
            "The bank asks the customer to confirm this payment on-session at authentication_url.",
            headers,
            {"authentication_url": outcome.authentication_url or None, "topup_id": topup_id},
        )
    if outcome.status == "failed":
        raise ApiError(402, "payment_failed", outcome.message or "The payment failed.", headers, {"topup_id": topup_id})
    response = JsonResponse(_topup_json(purchase, outcome.status), status=201)
    for name, value in headers.items():
        response[name] = value
    return response
