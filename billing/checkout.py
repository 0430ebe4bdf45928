"""Buying a credit package: start a Checkout Session, fulfil it exactly once.

purchase_fulfil is the one place a Checkout payment becomes credits. The
webhook and the success page both call it with a session they fetched from
Stripe themselves; the purchase row lock and the ledger's unique reference
make concurrent calls credit once.
"""

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agencies import roles, tenancy
from agencies.models import Agency, CreditPackage
from core.money import money_format as money
from core.refs import client_reference
from invoices import selectors as invoice_terms, services as invoicing

from . import accounts, connect, customers, ledger, refunds, stripe_api
from .models import LedgerEntry, Purchase
from .stripe_api import StripeAccount

logger = logging.getLogger(__name__)
Status = Purchase.Status


@dataclass(frozen=True)
class Started:
    purchase: Purchase
    checkout_url: str


def _portal_url(agency: Agency, name: str, **kwargs) -> str:
    return tenancy.portal_url(agency, reverse(name, kwargs=kwargs or None, urlconf=settings.PORTAL_URLCONF))


def _fits(price, amount: int, currency: str) -> bool:
    return bool(
        price.active and price.type == "one_time" and price.unit_amount == amount and price.currency == currency
    )


def _line_item(agency: Agency, account: StripeAccount, package: CreditPackage, amount: int) -> dict:
    """The package's own Price (billing.provisioning) when it costs exactly `amount` (what the client pays,
    VAT included when it is added on top); else the agency's one price (Advanced set-up) when it does; else
    that amount as price_data on the portal's product.

    A connected account does not have the product and price pasted for the agency's own key; a package's
    Price made on another account than this one is not found and falls back to price_data.
    """
    currency = package.currency.lower()
    if package.stripe_price_id and amount == package.price_cents:
        try:
            price = stripe_api.price_retrieve(account=account, price_id=package.stripe_price_id)
        except stripe_api.StripeRejected as exc:
            if exc.kind != "missing":
                raise
            price = None  # deleted in Stripe, or made on another account: Check Stripe says so
        if price is not None and _fits(price, amount, currency):
            return {"price": price.id, "quantity": 1}
    own_objects = not account.connected_account_id
    if agency.stripe_price_id and own_objects:
        price = stripe_api.price_retrieve(account=account, price_id=agency.stripe_price_id)
        if (
            price.active
            and price.type == "one_time"
            and price.unit_amount == amount
            and price.currency == package.currency.lower()
        ):
            return {"price": price.id, "quantity": 1}
    price_data = {"currency": package.currency.lower(), "unit_amount": amount}
    if agency.stripe_product_id and own_objects:
        price_data["product"] = agency.stripe_product_id
    else:
        price_data["product_data"] = {"name": f"{package.credits} credits"}
    return {"price_data": price_data, "quantity": 1}


def purchase_start(*, user, package: CreditPackage) -> Started:
    """Create the Checkout Session on the agency's account, then the local Purchase.

    Stripe is asked first: if it fails (bad key, missing price, network) the
    exception propagates and nothing is written. The session is only shown to
    the customer once the Purchase exists, so a session without a Purchase is
    never paid; it expires on Stripe.
    """
    roles.require_actor(user, organization="buy")
    agency = Agency.objects.get(pk=package.agency_id)
    account = accounts.agency_account(agency)
    organization = user.organization
    # Package price, plus VAT when the agency's prices exclude it; the billing details go to Stripe's customer.
    amount = invoice_terms.checkout_amount(agency=agency, organization=organization, price_cents=package.price_cents)
    customer = customers.billing_customer_sync(account=account, organization=organization, email=user.email)
    reference = uuid.uuid4().hex
    metadata = {
        "purchase": reference,
        "organization_id": str(organization.pk),
        "package_id": str(package.pk),
        "portal": agency.slug or "",
    }
    # A connected agency's purchase may carry the platform's fee (STRIPE_APPLICATION_FEE_BPS).
    fee = connect.application_fee(agency=agency, amount_cents=amount)
    payment_intent_data: dict = {"metadata": metadata}
    if fee:
        payment_intent_data["application_fee_amount"] = fee
    session = stripe_api.session_create(
        account=account,
        idempotency_key=f"purchase-{reference}",
        params={
            "mode": "payment",
            "line_items": [_line_item(agency, account, package, amount)],
            "client_reference_id": client_reference(agency_id=agency.pk, organization_id=organization.pk),
            **({"customer": customer} if customer else {"customer_email": user.email}),
            "metadata": metadata,
            "payment_intent_data": payment_intent_data,
            "success_url": _portal_url(agency, "billing:success") + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": _portal_url(agency, "billing:cancelled", reference=reference),
        },
    )
    purchase = Purchase.objects.create(
        reference=reference,
        agency=agency,
        organization=organization,
        package=package,
        buyer=user,
        credits=package.credits,
        amount_cents=amount,
        currency=package.currency,
        livemode=bool(session.livemode),
        stripe_session_id=session.id,
        application_fee_cents=fee,
    )
    return Started(purchase=purchase, checkout_url=session.url)


def session_problem(*, account: StripeAccount, purchase: Purchase, session) -> str:
    """Why this session must not credit this purchase ("" when it may); `account` is the one the session is on."""
    metadata = session.metadata.to_dict() if session.metadata else {}
    if metadata.get("purchase") != purchase.reference or session.client_reference_id != client_reference(
        agency_id=purchase.agency_id, organization_id=purchase.organization_id
    ):
        return "The Checkout Session does not name this purchase and buyer."
    if session.mode != "payment":
        return f"The Checkout Session is in {session.mode} mode, not payment mode."
    if (session.currency or "").upper() != purchase.currency or session.amount_total != purchase.amount_cents:
        charged = money(session.amount_total or 0, (session.currency or "").upper())
        what = "the minutes cost" if purchase.is_minutes else "the package costs"
        return f"Stripe charged {charged}, {what} {money(purchase.amount_cents, purchase.currency)}."
    if account.livemode and not session.livemode:
        return "A test-mode payment cannot credit an account that uses live Stripe keys."
    return ""


def purchase_credit(*, purchase: Purchase) -> LedgerEntry:
    """Credit a paid purchase and invoice it: the one place a payment becomes credits or minutes.

    Checkout (purchase_fulfil) and top-ups (billing.topup) both call it, inside their transaction
    with the purchase row locked and not yet fulfilled; the caller saves the purchase. The ledger's
    unique reference per account is the last guard against a second credit.
    """
    description = purchase.description or (
        f"Bought {purchase.credits:,} {purchase.unit} ({money(purchase.amount_cents, purchase.currency)})"
    )
    posted = ledger.entry_post(
        **purchase.ledger_account(),
        amount=purchase.credits,
        kind=LedgerEntry.Kind.PURCHASE,
        reference=f"purchase:{purchase.pk}",
        purchase=purchase,
        description=description[:300],
    )
    if not posted.created:
        raise RuntimeError(f"purchase {purchase.pk} was credited but not marked fulfilled")
    purchase.status, purchase.fulfilled_at = Status.PAID, timezone.now()
    invoicing.invoice_issue_for_purchase(purchase=purchase)  # same transaction: credited iff invoiced
    # A refund or dispute that Stripe reported before this payment applies now.
    refunds.credits_sync(purchase)
    return posted.entry


def purchase_fulfil(*, account: StripeAccount, session) -> Purchase | None:
    """Credit a paid Checkout Session exactly once; None when the session is not ours.

    `account` is the Stripe account: an agency's (a client's credit purchase)
    or the platform's (an agency's minute purchase). `session` must come
    from Stripe with that account's key, not from a request. Credits only
    when payment_status is paid, the session names this purchase and the
    amount and currency are what it cost; a mismatch is recorded on the
    purchase and credits nothing.
    """
    found = accounts.purchases_on(account).filter(stripe_session_id=session.id).values_list("pk", flat=True).first()
    if found is None:
        return None
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=found)
        if purchase.fulfilled_at is not None or purchase.status == Status.MISMATCH:
            return purchase
        if session.payment_intent and not purchase.stripe_payment_intent_id:
            purchase.stripe_payment_intent_id = session.payment_intent
        problem = session_problem(account=account, purchase=purchase, session=session)
        if problem:
            logger.warning("Purchase %s not credited: %s", purchase.pk, problem)
            purchase.status, purchase.mismatch_reason = Status.MISMATCH, problem
        elif session.payment_status == "paid":
            purchase_credit(purchase=purchase)
        elif session.status == "complete" and purchase.status in (Status.PENDING, Status.CANCELLED):
            purchase.status = Status.PROCESSING  # a delayed payment method: paid later, or not
        purchase.save()
    return purchase


def purchase_confirm(*, account: StripeAccount, purchase: Purchase) -> tuple[Purchase, bool]:
    """What a success page does: ask Stripe about the purchase's session and fulfil it.

    Returns the purchase and whether Stripe could not be asked (the webhook
    will still credit it). `account` is the Stripe account, as for purchase_fulfil.
    """
    if purchase.fulfilled_at is not None or purchase.status == Status.MISMATCH or not purchase.stripe_session_id:
        return purchase, False
    try:
        session = stripe_api.session_retrieve(account=account, session_id=purchase.stripe_session_id)
        return purchase_fulfil(account=account, session=session) or purchase, False
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return purchase, True


def _purchase_end_unpaid(*, account: StripeAccount, session, status: str, only_from: tuple) -> Purchase | None:
    """Mark a purchase that was never paid `status`, if it is still in one of `only_from`.

    A session Stripe says is paid is fulfilled instead (a stale event); None when the session is not ours.
    """
    if session.payment_status == "paid":
        return purchase_fulfil(account=account, session=session)
    found = accounts.purchases_on(account).filter(stripe_session_id=session.id).values_list("pk", flat=True).first()
    if found is None:
        return None
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=found)
        if purchase.status in only_from:
            purchase.status = status
            purchase.save(update_fields=["status", "updated_at"])
    return purchase


def purchase_fail(*, account: StripeAccount, session) -> Purchase | None:
    """A delayed payment failed: mark the purchase failed (it never credited anything)."""
    return _purchase_end_unpaid(
        account=account, session=session, status=Status.FAILED, only_from=(Status.PENDING, Status.PROCESSING)
    )


def purchase_expire(*, account: StripeAccount, session) -> Purchase | None:
    """The buyer left the Checkout page unpaid until Stripe expired the session: mark the purchase expired.

    Only a purchase still awaiting payment changes.
    """
    return _purchase_end_unpaid(
        account=account,
        session=session,
        status=Status.EXPIRED,
        only_from=(Status.PENDING,) if session.status == "expired" else (),
    )


def purchase_cancel(*, purchase: Purchase) -> Purchase:
    """The buyer came back through Checkout's cancel link: a purchase still awaiting payment is cancelled.

    Only a label for the agency's list: should the buyer go back and pay after all, the
    payment's webhook (or reconciliation) credits it like any other.
    """
    with transaction.atomic():
        locked = Purchase.objects.select_for_update().get(pk=purchase.pk)
        if locked.status == Status.PENDING:
            locked.status = Status.CANCELLED
            locked.save(update_fields=["status", "updated_at"])
    return locked
