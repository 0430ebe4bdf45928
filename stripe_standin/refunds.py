"""Refunds and disputes on the stand-in: what a merchant's dashboard or a card holder's bank does after a payment."""

from .resources import DISPUTE_OPEN, _int, _metadata, _new, _required, emit
from .state import Account, StripeError


def _charge_for(account: Account, params: dict) -> dict:
    if params.get("charge"):
        return account.get("charge", "charge", params["charge"], "charge")
    intent = account.get("payment_intent", "payment_intent", _required(params, "payment_intent"), "payment_intent")
    if not intent.get("latest_charge"):
        raise StripeError(
            400,
            f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            param="payment_intent",
        )
    charge = account.objects[intent["latest_charge"]]
    if charge["status"] != "succeeded":
        raise StripeError(
            400,
            f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
            param="payment_intent",
        )
    return charge


REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refund_create(account: Account, params: dict) -> tuple[dict, list[dict]]:
    if params.get("reason") and params["reason"] not in REFUND_REASONS:
        raise StripeError(
            400, f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", code="parameter_invalid", param="reason"
        )
    charge = _charge_for(account, params)
    if charge["status"] != "succeeded":
        raise StripeError(400, f"Charge {charge['id']} has not succeeded: there is nothing to refund.", param="charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = _int(params["amount"], "amount", minimum=1) if params.get("amount") else remaining
    if amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    refund = _new(
        account,
        "re_",
        "refund",
        amount=amount,
        charge=charge["id"],
        currency=charge["currency"],
        payment_intent=charge["payment_intent"],
        status="succeeded",
        reason=params.get("reason"),
        metadata=_metadata(params),
    )
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    return refund, emit(account, "charge.refunded", charge) + emit(account, "refund.created", refund)


def dispute_create(account: Account, charge: dict, params: dict) -> tuple[dict, list[dict]]:
    """Stand-in only: the cardholder disputes the charge with their bank."""
    amount = _int(params["amount"], "amount", minimum=1) if params.get("amount") else charge["amount"]
    dispute = _new(
        account,
        "dp_",
        "dispute",
        amount=amount,
        charge=charge["id"],
        currency=charge["currency"],
        payment_intent=charge["payment_intent"],
        status="needs_response",
        reason=params.get("reason") or "fraudulent",
        metadata={},
    )
    charge["disputed"] = True
    return dispute, emit(account, "charge.dispute.created", dispute)


def dispute_close(account: Account, dispute: dict, status: str) -> list[dict]:
    """Stand-in only: the bank decides; `status` is won or lost."""
    if status not in {"won", "lost"}:
        raise StripeError(400, "status must be won or lost", param="status")
    if dispute["status"] not in DISPUTE_OPEN:
        raise StripeError(400, f"Dispute {dispute['id']} is already closed.")
    dispute["status"] = status
    return emit(account, "charge.dispute.closed", dispute)
