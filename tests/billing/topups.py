"""Saved payment methods and top-ups in the billing tests: a buyer with a test card on the stand-in."""

from billing import payment_methods
from billing.payment_methods import buyer_account


def saved_method(agency, organization, token: str = "pm_card_visa", *, stand_in=None) -> str:
    """Save Stripe's test `token` on the buyer's customer (as a completed setup would); returns its pm_ id.

    `stand_in` is the StandInAccount the buyer pays on (default: agency.stripe; the platform's for minutes).
    """
    account = buyer_account(agency=agency, organization=organization)
    email = organization.members.first().email if organization is not None else agency.admin.email
    customer = payment_methods.customer_ensure(agency=agency, organization=organization, account=account, email=email)
    stand_in = stand_in or agency.stripe
    return stand_in.client.v1.payment_methods.attach(token, {"customer": customer}).id
