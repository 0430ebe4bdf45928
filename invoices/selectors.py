"""Reads: details, the VAT terms of a sale, and the documents a tenant may see."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from agencies.models import Agency, CreditPackage, Organization

from . import vat
from .countries import country_name
from .models import BillingDetails, CreditNote, Invoice, SellerDetails


def seller_of(*, agency: Agency) -> SellerDetails | None:
    return SellerDetails.objects.filter(agency=agency).first()


def billing_details(*, organization_id: int | None = None, agency_id: int | None = None) -> BillingDetails | None:
    if organization_id is not None:
        return BillingDetails.objects.filter(organization_id=organization_id).first()
    if agency_id is None:  # filter(agency_id=None) would match an organization's details
        return None
    return BillingDetails.objects.filter(agency_id=agency_id).first()


def invoice_prefix(*, agency: Agency) -> str:
    """The agency's own prefix, else one made from its slug (ACME-CALLS -> ACMECALLS)."""
    seller = seller_of(agency=agency)
    if seller is not None:
        return seller.invoice_prefix
    return re.sub(r"[^A-Z0-9]", "", (agency.slug or "").upper())[:10] or "INV"


def vat_decision(*, seller: SellerDetails | None, buyer: BillingDetails | None) -> vat.Decision:
    return vat.decide(
        seller_country=seller.country if seller else "",
        buyer_country=buyer.country if buyer else "",
        buyer_vat_id=buyer.vat_id if buyer else "",
    )


@dataclass(frozen=True)
class CheckoutTerms:
    prices_include_vat: bool
    decision: vat.Decision
    amounts: vat.Amounts

    @property
    def vat_label(self) -> str:
        if self.decision.rate_bp == 0:
            return "no VAT (reverse charge)" if self.decision.treatment == vat.Treatment.REVERSE_CHARGE else "no VAT"
        return f"{vat.format_rate(self.decision.rate_bp)} VAT ({country_name(self.decision.country)})"


@dataclass(frozen=True)
class PriceVat:
    """How VAT splits the agency's package prices when sold in its own country: the margin calculator's estimate."""

    prices_include_vat: bool
    rate_bp: int  # 0: no VAT (no seller country, or outside the EU)
    country: str

    def amounts(self, price_cents: int) -> vat.Amounts:
        """Net, VAT and gross of a package priced `price_cents`: what an invoice of a sale at home would say."""
        return vat.amounts_from_price(
            price=price_cents, rate_bp=self.rate_bp, prices_include_vat=self.prices_include_vat
        )

    @property
    def rate_display(self) -> str:
        return vat.format_rate(self.rate_bp)


def price_vat_estimate(*, agency: Agency) -> PriceVat:
    """The VAT of a sale to a client in the agency's own country, with its seller details (one query).

    Clients elsewhere may pay another rate (or none): this is the sensible estimate of what a price
    leaves after VAT, by the same rules and rounding as the invoices.
    """
    seller = seller_of(agency=agency)
    decision = vat_decision(seller=seller, buyer=None)
    return PriceVat(seller.prices_include_vat if seller else True, decision.rate_bp, decision.country)


def _terms_pricer(*, agency: Agency, organization: Organization) -> Callable[[int], CheckoutTerms]:
    """Checkout terms by price, with the VAT the client's details call for now (read once, here)."""
    seller = seller_of(agency=agency)
    decision = vat_decision(seller=seller, buyer=billing_details(organization_id=organization.pk))
    include = seller.prices_include_vat if seller else True

    def terms(price_cents: int) -> CheckoutTerms:
        amounts = vat.amounts_from_price(price=price_cents, rate_bp=decision.rate_bp, prices_include_vat=include)
        return CheckoutTerms(prices_include_vat=include, decision=decision, amounts=amounts)

    return terms


def checkout_terms(*, agency: Agency, organization: Organization, price_cents: int) -> CheckoutTerms:
    """What a client pays for a package priced `price_cents`, with the VAT its details call for now."""
    return _terms_pricer(agency=agency, organization=organization)(price_cents)


def package_checkout_terms(
    *, agency: Agency, organization: Organization, packages: Iterable[CreditPackage]
) -> dict[int, CheckoutTerms]:
    """checkout_terms of each package, by id; the seller's and buyer's details are read once for all."""
    terms = _terms_pricer(agency=agency, organization=organization)
    return {package.pk: terms(package.price_cents) for package in packages}


def checkout_amount(*, agency: Agency, organization: Organization, price_cents: int) -> int:
    """The amount Checkout charges for a package: its price, plus VAT when the agency's prices exclude it."""
    return checkout_terms(agency=agency, organization=organization, price_cents=price_cents).amounts.gross


def seller_party(*, agency: Agency, seller: SellerDetails | None) -> dict[str, str]:
    """The seller fields an invoice copies: the agency's seller details, or its name alone."""
    if seller is None:
        return {"seller_name": agency.company_name, "seller_address": "", "seller_country": "", "seller_vat_id": ""}
    return {
        "seller_name": seller.company_name,
        "seller_address": "\n".join(seller.address_lines()),
        "seller_country": seller.country,
        "seller_vat_id": seller.vat_id,
    }


def buyer_party(*, buyer: BillingDetails | None, fallback_name: str, email: str) -> dict[str, str]:
    if buyer is None:
        return {
            "buyer_name": fallback_name,
            "buyer_address": "",
            "buyer_country": "",
            "buyer_vat_id": "",
            "buyer_email": email,
        }
    return {
        "buyer_name": buyer.company_name,
        "buyer_address": "\n".join(buyer.address_lines()),
        "buyer_country": buyer.country,
        "buyer_vat_id": buyer.vat_id,
        "buyer_email": email,
    }


# --- Documents, scoped to who may see them --------------------------------------


def organization_invoices(*, organization: Organization) -> QuerySet[Invoice]:
    return Invoice.objects.filter(organization=organization, agency_id=organization.agency_id)


def organization_credit_notes(*, organization: Organization) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(organization=organization, agency_id=organization.agency_id).select_related(
        "invoice"
    )


def agency_invoices(*, agency: Agency) -> QuerySet[Invoice]:
    """Every invoice of the agency: to its clients, and (later) the platform's to it."""
    return Invoice.objects.filter(agency=agency).select_related("organization", "purchase")


def agency_credit_notes(*, agency: Agency) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(agency=agency).select_related("organization", "invoice")


# --- A buyer's documents, for the API ----------------------------------------------------

INVOICE, CREDIT_NOTE = 0, 1  # rank in the keyset order (issued_at, rank, pk), newest first


def buyer_invoices(*, agency: Agency, organization: Organization | None) -> QuerySet[Invoice]:
    """The invoices a buyer received: a client's from its agency, or (organization None) the platform's to the agency."""
    if organization is not None:
        return Invoice.objects.filter(agency=agency, organization=organization)
    return Invoice.objects.filter(agency=agency, organization__isnull=True)


def buyer_credit_notes(*, agency: Agency, organization: Organization | None) -> QuerySet[CreditNote]:
    if organization is not None:
        return CreditNote.objects.filter(agency=agency, organization=organization)
    return CreditNote.objects.filter(agency=agency, organization__isnull=True)


def buyer_document(
    *, agency: Agency, organization: Organization | None, document_id: str
) -> Invoice | CreditNote | None:
    """ "inv_<pk>" or "cn_<pk>" of this buyer; None for anything else (another tenant's looks unknown)."""
    prefix, _, number = document_id.partition("_")
    if not number.isascii() or not number.isdigit() or len(number) > 18:
        return None
    if prefix == "inv":
        return buyer_invoices(agency=agency, organization=organization).filter(pk=int(number)).first()
    if prefix == "cn":
        notes = buyer_credit_notes(agency=agency, organization=organization).select_related("invoice")
        return notes.filter(pk=int(number)).first()
    return None


DocumentKey = tuple[datetime, int, int]


def buyer_documents_page(
    *, agency: Agency, organization: Organization | None, after: DocumentKey | None, limit: int
) -> tuple[list[Invoice | CreditNote], DocumentKey | None]:
    """One page of a buyer's invoices and credit notes, newest first, after the key `after`; and the next key.

    Keyset pages on (issued_at, rank, pk): two queries a page, none per document.
    """
    invoices = buyer_invoices(agency=agency, organization=organization).select_related("purchase")
    notes = buyer_credit_notes(agency=agency, organization=organization)
    if after is not None:
        moment, rank, pk = after
        same_instant = Q(issued_at=moment, pk__lt=pk)
        if rank == INVOICE:  # credit notes of that instant came before it
            invoices = invoices.filter(Q(issued_at__lt=moment) | same_instant)
            notes = notes.filter(issued_at__lt=moment)
        else:  # invoices of that instant come after it
            invoices = invoices.filter(issued_at__lte=moment)
            notes = notes.filter(Q(issued_at__lt=moment) | same_instant)
    keyed: list[tuple[DocumentKey, Invoice | CreditNote]] = [
        ((doc.issued_at, INVOICE, doc.pk), doc) for doc in invoices.order_by("-issued_at", "-pk")[: limit + 1]
    ]
    keyed += [((doc.issued_at, CREDIT_NOTE, doc.pk), doc) for doc in notes.order_by("-issued_at", "-pk")[: limit + 1]]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    if len(keyed) > limit:
        return [doc for _, doc in keyed[:limit]], keyed[limit - 1][0]
    return [doc for _, doc in keyed], None


def document_status(document: Invoice | CreditNote) -> str:
    """An invoice's payment as it stands (paid, partially_refunded, refunded, disputed, ...); a credit note: issued."""
    if isinstance(document, CreditNote):
        return "issued"
    purchase = document.purchase
    return purchase.status if purchase is not None else "issued"
