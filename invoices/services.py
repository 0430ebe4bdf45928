"""Writes: billing and seller details, issuing invoices and credit notes, the Stripe customer's id.

invoice_issue_for_purchase and credit_note_issue_for_refunds run inside the
transaction that credits or refunds the purchase (billing.checkout and
billing.refunds call them with the purchase row locked), so a purchase is
credited if and only if it is invoiced. Numbers come from a DocumentCounter
row locked last, after the purchase and the client's balance, so issuers
queue without deadlocking and a rolled-back issue leaves no gap.
"""

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from agencies.models import Agency, Organization

from . import platform, selectors, vat
from .models import BillingDetails, CreditNote, DocumentCounter, Invoice, SellerDetails

if TYPE_CHECKING:  # for annotations only: billing is a higher layer (lint-imports ignores type-only imports)
    from billing.models import Purchase

DETAIL_FIELDS = ["company_name", "address_line1", "address_line2", "postal_code", "city", "country", "vat_id"]
SELLER_FIELDS = DETAIL_FIELDS + ["invoice_prefix", "prices_include_vat"]


# --- Details --------------------------------------------------------------------


def billing_details_save(
    *, data: dict[str, Any], organization: Organization | None = None, agency: Agency | None = None
) -> BillingDetails:
    """Create or replace a buyer's billing details (already validated by BillingDetailsForm)."""
    owner = {"organization": organization} if organization is not None else {"agency": agency}
    details, _ = BillingDetails.objects.update_or_create(**owner, defaults={f: data[f] for f in DETAIL_FIELDS})
    return details


def seller_details_save(*, agency: Agency, data: dict[str, Any]) -> SellerDetails:
    details, _ = SellerDetails.objects.update_or_create(agency=agency, defaults={f: data[f] for f in SELLER_FIELDS})
    return details


# --- Numbers --------------------------------------------------------------------


def _next_sequence(*, scope: str, series: str, year: int) -> int:
    """Take the next number of a sequence. Call inside the issuing transaction."""
    counter, _ = DocumentCounter.objects.select_for_update().get_or_create(scope=scope, series=series, year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def _number(prefix: str, series: str, year: int, sequence: int) -> str:
    middle = "-CN" if series == DocumentCounter.Series.CREDIT_NOTE else ""
    return f"{prefix}{middle}-{year}-{sequence:06d}"


def _numbered(*, agency: Agency, series: str, by_platform: bool = False) -> dict[str, Any]:
    """Number, sequence and issue date of the next document the agency (or, by_platform, the
    platform) issues in `series`."""
    today = timezone.localdate()
    if by_platform:
        scope, prefix = platform.SCOPE, settings.PLATFORM_INVOICE_PREFIX
    else:
        scope, prefix = f"agency:{agency.pk}", selectors.invoice_prefix(agency=agency)
    sequence = _next_sequence(scope=scope, series=series, year=today.year)
    return {"number": _number(prefix, series, today.year, sequence), "sequence": sequence, "issue_date": today}


# --- Invoices and credit notes --------------------------------------------------


def invoice_issue_for_purchase(*, purchase: "Purchase") -> Invoice:
    """The invoice of a paid purchase: issued now, or the one already issued.

    Call in the transaction that credits the purchase, with its row locked.
    The VAT decision is taken here, from the seller's and buyer's details as
    they are now, and the amount Stripe charged is split into net and VAT.
    A refund reported before the payment gets its credit note at once.
    """
    existing = Invoice.objects.filter(purchase_id=purchase.pk).first()
    if existing is not None:
        return existing
    if purchase.is_minutes:
        return _minutes_invoice_issue(purchase)
    with transaction.atomic():
        agency = Agency.objects.get(pk=purchase.agency_id)
        seller = selectors.seller_of(agency=agency)
        buyer = selectors.billing_details(organization_id=purchase.organization_id)
        decision = selectors.vat_decision(seller=seller, buyer=buyer)
        amounts = vat.amounts_from_gross(gross=purchase.amount_cents, rate_bp=decision.rate_bp)
        buyer_party = selectors.buyer_party(
            buyer=buyer,
            fallback_name=purchase.organization.name if purchase.organization else "",
            email=purchase.buyer.email if purchase.buyer is not None else "",
        )
        invoice = Invoice.objects.create(
            agency=agency,
            organization_id=purchase.organization_id,
            purchase=purchase,
            **_numbered(agency=agency, series=DocumentCounter.Series.INVOICE),
            **selectors.seller_party(agency=agency, seller=seller),
            **buyer_party,
            description=f"{purchase.credits:,} call credits (1 credit = 1 minute)",
            quantity=1,
            currency=purchase.currency,
            net_cents=amounts.net,
            vat_cents=amounts.vat,
            gross_cents=amounts.gross,
            vat_rate_bp=decision.rate_bp,
            vat_treatment=decision.treatment,
            vat_country=decision.country,
            vat_rates_as_of=vat.RATES_AS_OF,
            legal_note=decision.note,
            prices_include_vat=seller.prices_include_vat if seller else True,
        )
        credit_note_issue_for_refunds(purchase=purchase)
    return invoice


def _minutes_invoice_issue(purchase: "Purchase") -> Invoice:
    """The platform's invoice to an agency for call minutes it bought (a minute purchase)."""
    with transaction.atomic():
        agency = Agency.objects.get(pk=purchase.agency_id)
        decision = platform.decision_for(agency=agency)
        amounts = vat.amounts_from_gross(gross=purchase.amount_cents, rate_bp=decision.rate_bp)
        buyer_party = selectors.buyer_party(
            buyer=selectors.billing_details(agency_id=agency.pk),
            fallback_name=agency.company_name,
            email=purchase.buyer.email if purchase.buyer is not None else "",
        )
        invoice = Invoice.objects.create(
            agency=agency,
            organization=None,
            purchase=purchase,
            **_numbered(agency=agency, series=DocumentCounter.Series.INVOICE, by_platform=True),
            **platform.seller_party(),
            **buyer_party,
            description=f"{purchase.credits:,} call minutes",
            quantity=1,
            currency=purchase.currency,
            net_cents=amounts.net,
            vat_cents=amounts.vat,
            gross_cents=amounts.gross,
            vat_rate_bp=decision.rate_bp,
            vat_treatment=decision.treatment,
            vat_country=decision.country,
            vat_rates_as_of=vat.RATES_AS_OF,
            legal_note=decision.note,
            prices_include_vat=settings.PLATFORM_PRICES_INCLUDE_VAT,
        )
        credit_note_issue_for_refunds(purchase=purchase)
    return invoice


def credit_note_issue_for_refunds(*, purchase: "Purchase") -> CreditNote | None:
    """Credit the part of the purchase's invoice refunded since the last credit note.

    Works from Stripe's running refund total on the purchase (like the
    credits), so a redelivered refund issues nothing twice. Cumulative VAT is
    rounded on the cumulative amount, so notes that add up to the whole invoice
    cancel its net and VAT exactly. Call with the purchase row locked. Does
    nothing for a purchase without an invoice.
    """
    invoice = Invoice.objects.filter(purchase_id=purchase.pk).first()
    if invoice is None:
        return None
    refunded = min(purchase.refunded_cents, invoice.gross_cents)
    before = invoice.credit_notes.aggregate(gross=Sum("gross_cents"), vat=Sum("vat_cents"))
    credited, credited_vat = before["gross"] or 0, before["vat"] or 0
    if refunded <= credited:
        return None
    vat_after = (
        invoice.vat_cents if refunded == invoice.gross_cents else vat.vat_in_gross(refunded, invoice.vat_rate_bp)
    )
    gross, vat_cents = refunded - credited, vat_after - credited_vat
    with transaction.atomic():
        agency = Agency.objects.get(pk=invoice.agency_id)
        return CreditNote.objects.create(
            invoice=invoice,
            agency=agency,
            organization_id=invoice.organization_id,
            **_numbered(agency=agency, series=DocumentCounter.Series.CREDIT_NOTE, by_platform=invoice.sold_by_platform),
            reason=f"Refund of {'the whole' if refunded == invoice.gross_cents else 'part of the'} "
            f"payment for invoice {invoice.number}",
            currency=invoice.currency,
            net_cents=gross - vat_cents,
            vat_cents=vat_cents,
            gross_cents=gross,
            vat_rate_bp=invoice.vat_rate_bp,
            vat_treatment=invoice.vat_treatment,
            credited_total_cents=refunded,
        )


# --- The Stripe customer --------------------------------------------------------


def stripe_customer_remember(*, details: BillingDetails, customer_id: str) -> None:
    """Keep the id of the buyer's Stripe customer (billing.customers syncs it with Stripe)."""
    BillingDetails.objects.filter(pk=details.pk).update(stripe_customer_id=customer_id)
    details.stripe_customer_id = customer_id
