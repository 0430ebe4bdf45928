"""What the portal does with a verified Stripe event.

An event is only a trigger (pretix): its object is fetched again from Stripe
with the account's own key before anything is believed. The account is an
agency's (its clients' credit purchases) or the platform's (agencies' minute
purchases), a StripeAccount either way (billing.accounts); each sees only its
own purchases and keeps its own record of processed events. Each handled type has a
fetch step (Stripe I/O, outside any transaction) and an apply step (database
only). The apply step and the record of the event id commit together, so an
event is either fully applied or not at all, and a redelivery changes nothing.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from . import accounts, checkout, payment_methods, refunds, stripe_api, topup_settle
from .models import Purchase, StripeEvent
from .stripe_api import StripeAccount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    fetch: Callable[[StripeAccount, Any], Any]
    apply: Callable[[StripeAccount, Any], str]


def _fetch_session(account: StripeAccount, obj):
    return stripe_api.session_retrieve(account=account, session_id=obj["id"])


def _session_outcome(purchase: Purchase | None) -> str:
    if purchase is None:
        return "ignored: not a session this portal created"
    return f"purchase {purchase.pk} {purchase.status}"


def _fetch_session_done(account: StripeAccount, obj):
    """A setup-mode session saved a payment method: its Stripe follow-up (the first becomes the default)
    is done here, outside the transaction; it changes nothing in the database."""
    session = _fetch_session(account, obj)
    if session.mode == "setup":
        return "setup", payment_methods.setup_session_completed(account=account, session=session)
    return "payment", session


def _apply_session_done(account: StripeAccount, fetched) -> str:
    mode, found = fetched
    if mode == "setup":
        return found
    return _session_outcome(checkout.purchase_fulfil(account=account, session=found))


def _apply_session_paid(account: StripeAccount, session) -> str:
    return _session_outcome(checkout.purchase_fulfil(account=account, session=session))


def _fetch_intent(account: StripeAccount, obj):
    return stripe_api.payment_intent_retrieve(account=account, payment_intent_id=obj["id"])


def _apply_intent(account: StripeAccount, intent) -> str:
    """A top-up's PaymentIntent changed (SEPA settled, 3-D Secure done, declined): settle it as Stripe says now.
    Checkout's own PaymentIntents are ignored here; their session events credit them."""
    purchase = topup_settle.topup_fulfil(account=account, intent=intent)
    if purchase is None:
        return "ignored: not a top-up of this portal"
    return f"purchase {purchase.pk} {purchase.status}"


def _apply_session_failed(account: StripeAccount, session) -> str:
    return _session_outcome(checkout.purchase_fail(account=account, session=session))


def _apply_session_expired(account: StripeAccount, session) -> str:
    return _session_outcome(checkout.purchase_expire(account=account, session=session))


def _purchase_for_payment(account: StripeAccount, payment_intent_id: str | None) -> int | None:
    """The purchase a payment intent paid for, or None when it is not ours.

    A refund or dispute can be reported before the session's completion was
    processed; then the payment intent's metadata names the purchase, and the
    purchase's own session must confirm it.
    """
    if not payment_intent_id:
        return None
    mine = accounts.purchases_on(account)
    known = mine.filter(stripe_payment_intent_id=payment_intent_id)
    found = known.values_list("pk", flat=True).first()
    if found is not None:
        return found
    intent = stripe_api.payment_intent_retrieve(account=account, payment_intent_id=payment_intent_id)
    reference = intent.metadata.to_dict().get("purchase") if intent.metadata else None
    purchase = mine.filter(reference=reference).first() if reference else None
    if purchase is None:
        return None
    if purchase.kind != Purchase.Kind.CHECKOUT:  # a top-up: the PaymentIntent just fetched names it
        return purchase.pk if purchase.stripe_payment_intent_id in ("", payment_intent_id) else None
    session = stripe_api.session_retrieve(account=account, session_id=str(purchase.stripe_session_id))
    return purchase.pk if session.payment_intent == payment_intent_id else None


def _fetch_charge(account: StripeAccount, obj):
    charge = stripe_api.charge_retrieve(account=account, charge_id=obj["id"])
    return _purchase_for_payment(account, charge.payment_intent), charge


def _apply_refund(account: StripeAccount, fetched) -> str:
    purchase_id, charge = fetched
    if purchase_id is None:
        return "ignored: not a payment for a purchase of this portal"
    purchase = refunds.refund_record(purchase_id=purchase_id, charge=charge)
    return f"purchase {purchase.pk} {purchase.status}, {purchase.credits_refunded} {purchase.unit} refunded"


def _fetch_dispute(account: StripeAccount, obj):
    dispute = stripe_api.dispute_retrieve(account=account, dispute_id=obj["id"])
    return _purchase_for_payment(account, dispute.payment_intent), dispute


def _apply_dispute(account: StripeAccount, fetched) -> str:
    purchase_id, dispute = fetched
    if purchase_id is None:
        return "ignored: not a payment for a purchase of this portal"
    purchase = refunds.dispute_record(purchase_id=purchase_id, dispute=dispute)
    return f"purchase {purchase.pk} {purchase.status}, {purchase.credits_disputed} {purchase.unit} held"


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": Handler(_fetch_session_done, _apply_session_done),
    "checkout.session.async_payment_succeeded": Handler(_fetch_session, _apply_session_paid),
    "checkout.session.async_payment_failed": Handler(_fetch_session, _apply_session_failed),
    "checkout.session.expired": Handler(_fetch_session, _apply_session_expired),
    "charge.refunded": Handler(_fetch_charge, _apply_refund),
    "charge.dispute.created": Handler(_fetch_dispute, _apply_dispute),
    "charge.dispute.closed": Handler(_fetch_dispute, _apply_dispute),
    "payment_intent.succeeded": Handler(_fetch_intent, _apply_intent),
    "payment_intent.payment_failed": Handler(_fetch_intent, _apply_intent),
}


def event_process(*, account: StripeAccount, event_id: str, event_type: str, obj) -> str:
    """Apply one verified event once. Returns what happened, for the log and the response.

    Raises StripeUnavailable (and StripeRejected for key problems) when the
    object cannot be fetched now; nothing is written and Stripe retries.
    """
    handler = HANDLERS.get(event_type)
    if handler is None:
        return "ignored: event type not handled"
    if StripeEvent.objects.filter(agency=account.agency_id, event_id=event_id).exists():
        return "duplicate: already processed"
    try:
        fetched = handler.fetch(account, obj)
    except stripe_api.StripeRejected as exc:
        if exc.kind != "missing":
            raise
        fetched, outcome = None, "ignored: the object is not in this Stripe account"
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(agency_id=account.agency_id, event_id=event_id, type=event_type)
        except IntegrityError:
            return "duplicate: processed concurrently"
        if fetched is not None:
            outcome = handler.apply(account, fetched)
        record.outcome = outcome[:200]
        record.save(update_fields=["outcome"])
    logger.info("Stripe event %s (%s) for %s: %s", event_id, event_type, account, outcome)
    return outcome
