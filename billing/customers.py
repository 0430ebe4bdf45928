"""The client's Stripe customer on its agency's account, kept in line with its billing details.

Billing owns every Stripe call; invoices owns the billing details (read with
its selectors, the customer id remembered with its service).
"""

import hashlib
import json

from agencies.models import Organization
from invoices import selectors as invoice_details, services as invoicing, vat
from invoices.models import BillingDetails

from . import stripe_api
from .stripe_api import StripeAccount

# Stripe's tax id types for the VAT IDs the portal accepts.
STRIPE_TAX_ID_TYPES = {"GB": "gb_vat", "CH": "ch_vat", "NO": "no_vat"}


def _stripe_tax_id(details: BillingDetails) -> dict | None:
    if not details.vat_id:
        return None
    kind = "eu_vat" if details.country in vat.EU_COUNTRIES else STRIPE_TAX_ID_TYPES.get(details.country)
    return {"type": kind, "value": details.vat_id} if kind else None


def billing_customer_sync(*, account: StripeAccount, organization: Organization, email: str) -> str:
    """Bring the organization's Stripe customer on `account` in line with its billing details.

    Returns the customer id for the Checkout Session, or "" when the
    organization has no billing details (Checkout then takes the email alone).
    Stripe errors propagate (StripeUnavailable / StripeRejected): checkout
    stops before anything is written.
    """
    details = invoice_details.billing_details(organization_id=organization.pk)
    if details is None:
        return ""
    params = {
        "name": details.company_name,
        "email": email,
        "address": {
            "line1": details.address_line1,
            "line2": details.address_line2,
            "postal_code": details.postal_code,
            "city": details.city,
            "country": details.country,
        },
        "metadata": {"organization_id": str(organization.pk)},
    }
    tax_id = _stripe_tax_id(details)
    digest = hashlib.sha256(json.dumps([params, tax_id], sort_keys=True).encode()).hexdigest()[:24]
    customer_id = stripe_api.customer_sync(
        account=account,
        customer_id=details.stripe_customer_id,
        params=params,
        tax_id=tax_id,
        idempotency_key=f"customer-{organization.pk}-{digest}",
    )
    if customer_id != details.stripe_customer_id:
        invoicing.stripe_customer_remember(details=details, customer_id=customer_id)
    return customer_id
