"""Settings > Billing on an agency's portal: a client's billing details and its invoices.

A client sees its own organization's documents only; any other id is 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from agencies import access

from . import pdf, selectors, services
from .forms import BillingDetailsForm
from .logo import logo_fetch


def pdf_response(content: bytes, number: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{number}.pdf"'
    return response


@login_required
def billing_settings(request):
    organization = access.organization_or_404(request, capability="invoices")
    details = selectors.billing_details(organization_id=organization.pk)
    form = BillingDetailsForm(request.POST or None, instance=details)
    if request.method == "POST" and form.is_valid():
        services.billing_details_save(organization=organization, data=form.cleaned_data)
        messages.success(request, "Billing details saved. Your next invoices will carry them.")
        return redirect("invoices:settings")
    return render(
        request,
        "invoices/portal_billing.html",
        {
            "organization": organization,
            "form": form,
            "invoices": selectors.organization_invoices(organization=organization),
            "credit_notes": selectors.organization_credit_notes(organization=organization),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
def invoice_download(request, invoice_id):
    organization = access.organization_or_404(request, capability="invoices")
    invoice = get_object_or_404(selectors.organization_invoices(organization=organization), pk=invoice_id)
    content = pdf.invoice_pdf(invoice, brand=request.agency.company_name, logo=logo_fetch(request.agency.logo_url))
    return pdf_response(content, invoice.number)


@never_cache
@login_required
def credit_note_download(request, note_id):
    organization = access.organization_or_404(request, capability="invoices")
    note = get_object_or_404(selectors.organization_credit_notes(organization=organization), pk=note_id)
    content = pdf.credit_note_pdf(note, brand=request.agency.company_name, logo=logo_fetch(request.agency.logo_url))
    return pdf_response(content, note.number)
