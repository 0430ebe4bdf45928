"""Refunds and disputes take back the credits a purchase gave.

The purchase row records what Stripe says (refunded amount so far, the
dispute's amount and state); credits_sync then moves the client's balance to
match with ledger entries. Because it works from Stripe's running totals and
not from one event's news, partial refunds add up, a redelivered or
out-of-order event removes nothing twice, and a refund reported before the
payment is applied when the payment lands. Balances may go negative. The same holds for the minutes an
agency bought from the platform: their purchase moves the agency's minutes.
"""

from django.db import transaction

from core.money import money_format as money
from invoices import services as invoicing

from . import ledger
from .models import LedgerEntry, Purchase

Status = Purchase.Status
Dispute = Purchase.DisputeStatus
Kind = LedgerEntry.Kind
# Stripe's dispute states, by what they mean for the credits.
DISPUTE_WON = {"won", "warning_closed"}
DISPUTE_LOST = {"lost"}


def _share(credits: int, cents: int, of_cents: int) -> int:
    """The credits `cents` of `of_cents` paid for; all of them for the whole amount."""
    return credits if cents >= of_cents else credits * cents // of_cents


def credits_refunded_for(purchase: Purchase, refunded_cents: int) -> int:
    """The credits a purchase gives back once `refunded_cents` of it are refunded in all."""
    return _share(purchase.credits, refunded_cents, purchase.amount_cents)


def _post(purchase: Purchase, *, amount: int, kind: str, reference: str, description: str) -> None:
    posted = ledger.entry_post(
        **purchase.ledger_account(),
        amount=amount,
        kind=kind,
        reference=reference,
        description=description,
        purchase=purchase,
    )
    if not posted.created:
        # The counters on the locked purchase said this change was not made yet.
        raise RuntimeError(f"ledger reference {reference} already used: purchase {purchase.pk} is out of step")


def credits_sync(purchase: Purchase) -> None:
    """Post the entries that bring the credits a fulfilled purchase holds in line with
    its refunds and dispute. Call inside a transaction, with the purchase row locked."""
    if purchase.fulfilled_at is None:
        return
    refunded = credits_refunded_for(purchase, purchase.refunded_cents)
    held = 0
    if purchase.dispute_status in (Dispute.OPEN, Dispute.LOST):
        held = min(_share(purchase.credits, purchase.dispute_cents, purchase.amount_cents), purchase.credits - refunded)
    if refunded > purchase.credits_refunded:
        removed = refunded - purchase.credits_refunded
        _post(
            purchase,
            amount=-removed,
            kind=Kind.REFUND,
            reference=f"purchase:{purchase.pk}:refunded:{refunded}",
            description=f"Refund ({money(purchase.refunded_cents, purchase.currency)} refunded so far): "
            f"{removed:,} {purchase.unit} removed",
        )
        purchase.credits_refunded = refunded
    if held > purchase.credits_disputed:
        _post(
            purchase,
            amount=-(held - purchase.credits_disputed),
            kind=Kind.DISPUTE,
            reference=f"purchase:{purchase.pk}:dispute:{purchase.dispute_id}:held:{held}",
            description=f"Payment disputed: {held - purchase.credits_disputed:,} {purchase.unit} held",
        )
    elif held < purchase.credits_disputed:
        _post(
            purchase,
            amount=purchase.credits_disputed - held,
            kind=Kind.REVERSAL,
            reference=f"purchase:{purchase.pk}:dispute:{purchase.dispute_id}:released:{held}",
            description=f"Dispute won: {purchase.credits_disputed - held:,} {purchase.unit} returned",
        )
    purchase.credits_disputed = held
    purchase.status = _status(purchase)


def _status(purchase: Purchase) -> str:
    if purchase.dispute_status == Dispute.OPEN:
        return Status.DISPUTED
    if purchase.dispute_status == Dispute.LOST:
        return Status.DISPUTE_LOST
    if purchase.refunded_cents >= purchase.amount_cents:
        return Status.REFUNDED
    return Status.PARTIALLY_REFUNDED if purchase.refunded_cents else Status.PAID


def _link_payment(purchase: Purchase, payment_intent_id: str, charge_id: str) -> None:
    if payment_intent_id and not purchase.stripe_payment_intent_id:
        purchase.stripe_payment_intent_id = payment_intent_id
    if charge_id:
        purchase.stripe_charge_id = charge_id


def refund_record(*, purchase_id: int, charge) -> Purchase:
    """Stripe says `charge` (fetched from Stripe) has amount_refunded refunded in all."""
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
        _link_payment(purchase, charge.payment_intent, charge.id)
        # Totals only grow: an older view of the charge changes nothing.
        purchase.refunded_cents = max(purchase.refunded_cents, min(charge.amount_refunded, purchase.amount_cents))
        credits_sync(purchase)
        invoicing.credit_note_issue_for_refunds(purchase=purchase)  # same transaction as the credits
        purchase.save()
    return purchase


def _dispute_state(stripe_status: str) -> str:
    if stripe_status in DISPUTE_WON:
        return Dispute.WON
    return Dispute.LOST if stripe_status in DISPUTE_LOST else Dispute.OPEN


def dispute_record(*, purchase_id: int, dispute) -> Purchase:
    """Stripe says `dispute` (fetched from Stripe) is open, won or lost: hold, release or keep removed."""
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().get(pk=purchase_id)
        _link_payment(purchase, dispute.payment_intent, dispute.charge)
        state = _dispute_state(dispute.status)
        closed = purchase.dispute_id == dispute.id and purchase.dispute_status in (Dispute.WON, Dispute.LOST)
        if not closed:  # a closed dispute stays closed, whatever an older view says
            purchase.dispute_id = dispute.id
            purchase.dispute_status = state
            purchase.dispute_cents = min(dispute.amount, purchase.amount_cents)
        credits_sync(purchase)
        purchase.save()
    return purchase
