"""Settling a top-up's PaymentIntent as Stripe reports it: the synchronous answer (billing.topup),
the webhook (payment_intent.succeeded / payment_failed) and the page the customer returns to after
authenticating all call topup_fulfil with a PaymentIntent fetched from Stripe with the account's key.
It credits through checkout.purchase_credit under the purchase's row lock, so all of them together
credit once.
"""

import logging

from django.db import transaction
from django.db.models import Q

from agencies.models import Agency
from core.money import money_format as money

from . import accounts, checkout, payment_methods, stripe_api
from .models import Purchase
from .stripe_api import StripeAccount

logger = logging.getLogger(__name__)
Status = Purchase.Status


def _intent_problem(*, account: StripeAccount, purchase: Purchase, intent) -> str:
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    if metadata.get("purchase") != purchase.reference:
        return "The PaymentIntent does not name this top-up."
    if (intent.currency or "").upper() != purchase.currency or intent.amount != purchase.amount_cents:
        charged = money(intent.amount or 0, (intent.currency or "").upper())
        return f"Stripe charged {charged}, the top-up costs {money(purchase.amount_cents, purchase.currency)}."
    if account.livemode and not intent.livemode:
        return "A test-mode payment cannot credit an account that uses live Stripe keys."
    return ""


def topup_fulfil(*, account: StripeAccount, intent) -> Purchase | None:
    """Apply what Stripe says of a top-up's PaymentIntent (fetched with `account`'s key): credit it once when
    it succeeded, mark it processing or failed otherwise. None when the PaymentIntent is not a top-up of ours."""
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    mine = accounts.purchases_on(account).exclude(kind=Purchase.Kind.CHECKOUT)
    match = Q(stripe_payment_intent_id=intent.id)
    if metadata.get("purchase"):
        match |= Q(reference=metadata["purchase"], stripe_payment_intent_id__in=["", intent.id])
    found = mine.filter(match).values_list("pk", flat=True).first()
    if found is None:
        return None
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=found)
        if purchase.fulfilled_at is not None or purchase.status == Status.MISMATCH:
            return purchase
        purchase.stripe_payment_intent_id = purchase.stripe_payment_intent_id or intent.id
        problem = _intent_problem(account=account, purchase=purchase, intent=intent)
        if problem:
            logger.warning("Top-up %s not credited: %s", purchase.pk, problem)
            purchase.status, purchase.mismatch_reason = Status.MISMATCH, problem
        elif intent.status == "succeeded":
            purchase.decline_code = purchase.failure_message = purchase.authentication_url = ""
            checkout.purchase_credit(purchase=purchase)
        elif intent.status == "processing":
            purchase.status = Status.PROCESSING
        elif intent.status in ("requires_payment_method", "canceled") and intent.last_payment_error:
            error = intent.last_payment_error.to_dict()
            code = error.get("decline_code") or error.get("code") or "payment_failed"
            if code != "authentication_required":  # the cardholder may still confirm it on-session
                purchase.status, purchase.decline_code = Status.FAILED, code[:100]
                purchase.failure_message = (error.get("message") or "The payment failed.")[:300]
                purchase.authentication_url = ""
        purchase.save()
    return purchase


def topup_confirm(*, purchase: Purchase) -> Purchase:
    """What the top-up page does when the customer comes back from authenticating: ask Stripe and settle."""
    if purchase.fulfilled_at is not None or not purchase.stripe_payment_intent_id:
        return purchase
    agency = Agency.objects.get(pk=purchase.agency_id)
    account = payment_methods.buyer_account(agency=agency, organization=purchase.organization)
    try:
        intent = stripe_api.payment_intent_retrieve(
            account=account, payment_intent_id=purchase.stripe_payment_intent_id
        )
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return purchase
    return topup_fulfil(account=account, intent=intent) or purchase
