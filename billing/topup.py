"""Top-ups: charging a saved payment method off-session and crediting it exactly once.

INTERFACE ONLY (the payments work fills it in; the auto-reload work calls topup_charge).
"""

from dataclasses import dataclass

from agencies.models import Agency, Organization

from .models import Purchase


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


def topup_quote(*, agency: Agency, organization: Organization | None, amount_cents: int, currency: str) -> TopupQuote:
    """What `amount_cents` buys: a client's credits at its agency's top-up rate, or an agency's platform minutes."""
    raise NotImplementedError


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
    raise NotImplementedError
