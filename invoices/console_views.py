"""Invoices in the agency console: seller details, the agency's own billing details, documents.

An agency admin sees its own agency's documents only; any other id is 404.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from agencies import access
from agencies.models import Agency
from core.csv_export import csv_response, decimal_amount

from . import pdf, selectors, services
from .forms import BillingDetailsForm, SellerDetailsForm
from .logo import logo_fetch
from .portal_views import pdf_response

PAGE_SIZE = 50


def _brand(agency: Agency, invoice) -> dict:
    """The platform's documents to the agency (minutes) carry the platform's name; the agency's, its own brand."""
    if invoice.sold_by_platform:
        return {"brand": settings.PLATFORM_NAME, "logo": None}
    return {"brand": agency.company_name, "logo": logo_fetch(agency.logo_url)}


@login_required
def documents(request):
    agency = access.agency_or_404(request)
    page = Paginator(selectors.agency_invoices(agency=agency), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "invoices/console_invoices.html",
        {
            "agency": agency,
            "page": page,
            "seller": selectors.seller_of(agency=agency),
            "credit_notes": selectors.agency_credit_notes(agency=agency)[:PAGE_SIZE],
        },
    )


INVOICES_CSV_HEADER = [
    "number",
    "issue_date",
    "client",
    "buyer_name",
    "buyer_country",
    "buyer_vat_id",
    "description",
    "net",
    "vat",
    "gross",
    "currency",
    "vat_rate_percent",
    "vat_treatment",
]


@login_required
def documents_csv(request):
    """Every invoice the Invoices page lists (all pages), as CSV."""
    agency = access.agency_or_404(request, capability="exports")
    rows = (
        (
            invoice.number,
            invoice.issue_date,
            invoice.organization.name if invoice.organization else "",
            invoice.buyer_name,
            invoice.buyer_country,
            invoice.buyer_vat_id,
            invoice.description,
            decimal_amount(invoice.net_cents),
            decimal_amount(invoice.vat_cents),
            decimal_amount(invoice.gross_cents),
            invoice.currency,
            decimal_amount(invoice.vat_rate_bp),  # basis points: 2100 -> 21.00 (%)
            invoice.get_vat_treatment_display(),
        )
        for invoice in selectors.agency_invoices(agency=agency).iterator(chunk_size=500)
    )
    return csv_response(filename=f"invoices-{agency.slug}.csv", header=INVOICES_CSV_HEADER, rows=rows)


@login_required
def seller(request):
    agency = access.agency_or_404(request, write="billing")
    form = SellerDetailsForm(
        request.POST or None,
        instance=selectors.seller_of(agency=agency),
        initial={"invoice_prefix": selectors.invoice_prefix(agency=agency)},
    )
    if request.method == "POST" and form.is_valid():
        services.seller_details_save(agency=agency, data=form.cleaned_data)
        messages.success(request, "Seller details saved. Invoices issued from now on carry them.")
        return redirect("console_invoices:seller")
    return render(
        request, "invoices/console_seller.html", {"agency": agency, "form": form}, status=400 if form.errors else 200
    )


@login_required
def billing(request):
    """The agency's own details as a buyer (call minutes bought from the platform)."""
    agency = access.agency_or_404(request, write="billing")
    form = BillingDetailsForm(request.POST or None, instance=selectors.billing_details(agency_id=agency.pk))
    if request.method == "POST" and form.is_valid():
        services.billing_details_save(agency=agency, data=form.cleaned_data)
        messages.success(request, "Billing details saved.")
        return redirect("console_invoices:billing")
    return render(
        request, "invoices/console_billing.html", {"agency": agency, "form": form}, status=400 if form.errors else 200
    )


@never_cache
@login_required
def invoice_download(request, invoice_id):
    agency = access.agency_or_404(request)
    invoice = get_object_or_404(selectors.agency_invoices(agency=agency), pk=invoice_id)
    content = pdf.invoice_pdf(invoice, **_brand(agency, invoice))
    return pdf_response(content, invoice.number)


@never_cache
@login_required
def credit_note_download(request, note_id):
    agency = access.agency_or_404(request)
    note = get_object_or_404(selectors.agency_credit_notes(agency=agency), pk=note_id)
    content = pdf.credit_note_pdf(note, **_brand(agency, note.invoice))
    return pdf_response(content, note.number)
