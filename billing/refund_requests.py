"""Refunds an agency makes from its console: checked and explained first, then sent to Stripe once.

purchase_refresh first applies refunds Stripe knows and the portal does not
yet (made in Stripe's dashboard, webhook still on its way). refund_plan then
says what a refund would do before anything is sent: how much is
left to refund (a larger amount is refused with the figures) and how many
credits it removes; when the client has spent them, the balance goes negative
and the console asks to confirm. refund_send calls Stripe's Refunds API on the
purchase's own account with an idempotency key made from the form's token, so
a form submitted twice refunds once. The credits then come off exactly as for
a refund made in Stripe's dashboard: the charge is fetched again and
refunds.refund_record applies Stripe's running total, whichever of this
follow-up and the charge.refunded webhook comes first.
"""

import logging
from dataclasses import dataclass

from django.db import transaction

from agencies import roles
from agencies.audit import audit_record
from agencies.models import Agency, Organization
from core.money import money_format as money

from . import accounts, refunds, stripe_api
from .models import Purchase, Refund

logger = logging.getLogger(__name__)
Dispute = Purchase.DisputeStatus


class RefundRefused(Exception):
    """The refund cannot be made; the message says why, in the agency's words."""


@dataclass(frozen=True)
class RefundPlan:
    amount_cents: int
    remaining_cents: int
    credits_removed: int
    balance: int  # the client's credits now

    @property
    def shortfall(self) -> int:
        """How far below zero the refund takes the client's balance (0: it stays at or above zero)."""
        return max(0, self.credits_removed - self.balance)


@dataclass(frozen=True)
class RefundSent:
    refund: Refund
    purchase: Purchase
    credits_pending: bool  # Stripe refunded, but the charge could not be fetched again yet


def refund_refusal(*, purchase: Purchase) -> str:
    """Why this purchase cannot be refunded from the console; "" when it can."""
    if purchase.is_minutes:
        return "Minutes bought from the platform are refunded by the platform."
    if purchase.fulfilled_at is None:
        return f"Only a paid purchase can be refunded; this one is “{purchase.get_status_display()}”."
    if purchase.dispute_status in (Dispute.OPEN, Dispute.LOST):
        return "This payment is disputed: Stripe does not refund a disputed payment. Answer the dispute in Stripe."
    if purchase.refunded_cents >= purchase.amount_cents:
        return "This purchase is refunded in full already."
    if not purchase.stripe_payment_intent_id:
        return "Stripe has not told the portal which payment this was yet; try again in a minute."
    return ""


def purchase_refresh(*, purchase: Purchase) -> Purchase:
    """The purchase with Stripe's refunds of its charge applied (one made in Stripe's dashboard whose
    webhook has not arrived yet), so a plan works from Stripe's figures. As it is when Stripe cannot say."""
    if purchase.is_minutes or purchase.fulfilled_at is None or not purchase.stripe_payment_intent_id:
        return purchase
    account = accounts.agency_account(Agency.objects.get(pk=purchase.agency_id))
    try:
        intent = stripe_api.payment_intent_retrieve(
            account=account, payment_intent_id=purchase.stripe_payment_intent_id
        )
        if not intent.latest_charge:
            return purchase
        charge = stripe_api.charge_retrieve(account=account, charge_id=intent.latest_charge)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return purchase  # Stripe itself refuses a refund larger than what remains
    if charge.amount_refunded <= purchase.refunded_cents:
        return purchase
    return refunds.refund_record(purchase_id=purchase.pk, charge=charge)


def refund_plan(*, purchase: Purchase, amount_cents: int | None) -> RefundPlan:
    """What refunding `amount_cents` (None: all that remains) would do; RefundRefused when it cannot be done."""
    refusal = refund_refusal(purchase=purchase)
    if refusal:
        raise RefundRefused(refusal)
    remaining = purchase.amount_cents - purchase.refunded_cents
    amount = remaining if amount_cents is None else amount_cents
    if amount > remaining:
        refunded = (
            f"{money(purchase.refunded_cents, purchase.currency)} refunded already"
            if purchase.refunded_cents
            else "nothing refunded yet"
        )
        raise RefundRefused(
            f"You can refund at most {money(remaining, purchase.currency)}: "
            f"{money(purchase.amount_cents, purchase.currency)} paid, {refunded}. "
            f"You asked for {money(amount, purchase.currency)}."
        )
    removed = refunds.credits_refunded_for(purchase, purchase.refunded_cents + amount) - purchase.credits_refunded
    organization_id = purchase.organization_id
    assert organization_id is not None  # refund_refusal turned a minute purchase away
    balance = Organization.objects.values_list("credits_balance", flat=True).get(pk=organization_id)
    return RefundPlan(amount_cents=amount, remaining_cents=remaining, credits_removed=removed, balance=balance)


def refund_send(*, purchase: Purchase, plan: RefundPlan, reason: str, note: str, token: str, actor) -> RefundSent:
    """Refund on Stripe (once per form token), then take the credits off as Stripe's charge now says.

    Raises StripeUnavailable / StripeRejected when Stripe did not refund; nothing is written then.
    """
    roles.require_actor(actor, agency="billing")
    account = accounts.agency_account(Agency.objects.get(pk=purchase.agency_id))
    metadata = {"purchase": purchase.reference, "refunded_by": f"user {actor.pk}"}
    if note:
        metadata["note"] = note
    refund = stripe_api.refund_create(
        account=account,
        params={
            "payment_intent": purchase.stripe_payment_intent_id,
            "amount": plan.amount_cents,
            "reason": reason,
            "metadata": metadata,
        },
        idempotency_key=f"refund-{purchase.reference}-{token}",
    )
    with transaction.atomic():
        row, created = Refund.objects.get_or_create(
            stripe_refund_id=refund.id,
            defaults={
                "purchase": purchase,
                "amount_cents": refund.amount,
                "currency": purchase.currency,
                "reason": reason,
                "note": note,
                "actor": actor,
            },
        )
        if created:
            audit_record(
                actor=actor,
                action="purchase.refund",
                agency_id=purchase.agency_id,
                organization_id=purchase.organization_id,
                obj=purchase,
                object_repr=purchase.reference,
                changes={
                    "refunded_cents": [purchase.refunded_cents, purchase.refunded_cents + refund.amount],
                    "reason": ["", reason],
                    "note": ["", note],
                },
            )
    if created:
        logger.info("Purchase %s: refund %s of %s sent by user %s", purchase.pk, refund.id, refund.amount, actor.pk)
    try:
        charge = stripe_api.charge_retrieve(account=account, charge_id=refund.charge)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        # Refunded on Stripe: the charge.refunded webhook, or the next reconciliation, takes the credits off.
        return RefundSent(refund=row, purchase=purchase, credits_pending=True)
    return RefundSent(
        refund=row, purchase=refunds.refund_record(purchase_id=purchase.pk, charge=charge), credits_pending=False
    )
