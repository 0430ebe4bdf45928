"""The platform as a seller: the call minutes agencies buy from it.

The platform's details come from settings (PLATFORM_LEGAL_NAME,
PLATFORM_ADDRESS, PLATFORM_COUNTRY, PLATFORM_VAT_ID); the buyer is the
agency, with the billing details it keeps in the console. Its invoices and
credit notes carry `organization` empty and are numbered in the platform's
own gapless sequences (scope "platform", prefix PLATFORM_INVOICE_PREFIX).
Reads only: invoices.services issues the documents.
"""

from django.conf import settings

from agencies.models import Agency

from . import selectors, vat
from .selectors import CheckoutTerms

SCOPE = "platform"


def seller_party() -> dict:
    """The seller fields a platform invoice copies."""
    address = "\n".join(line.strip() for line in settings.PLATFORM_ADDRESS.split("\n") if line.strip())
    return {
        "seller_name": settings.PLATFORM_LEGAL_NAME,
        "seller_address": address,
        "seller_country": settings.PLATFORM_COUNTRY,
        "seller_vat_id": settings.PLATFORM_VAT_ID,
    }


def decision_for(*, agency: Agency) -> vat.Decision:
    buyer = selectors.billing_details(agency_id=agency.pk)
    return vat.decide(
        seller_country=settings.PLATFORM_COUNTRY,
        buyer_country=buyer.country if buyer else "",
        buyer_vat_id=buyer.vat_id if buyer else "",
    )


def minute_terms(*, agency: Agency, price_cents: int) -> CheckoutTerms:
    """What an agency pays for minutes priced `price_cents`, with the VAT its billing details call for now."""
    decision = decision_for(agency=agency)
    include = settings.PLATFORM_PRICES_INCLUDE_VAT
    amounts = vat.amounts_from_price(price=price_cents, rate_bp=decision.rate_bp, prices_include_vat=include)
    return CheckoutTerms(prices_include_vat=include, decision=decision, amounts=amounts)
