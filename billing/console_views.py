"""Billing pages of the agency console: purchases and manual credits, own agency only."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from agencies.models import Agency, Organization

from . import ledger, selectors
from .forms import AllocationForm

PURCHASES_PAGE_SIZE = 50
HISTORY_SHOWN = 20


def _agency_or_404(request) -> Agency:
    """The agency the logged-in console user administers."""
    if request.agency is not None or request.user.managed_agency_id is None:
        raise Http404("No agency")
    return Agency.objects.get(pk=request.user.managed_agency_id)


@login_required
def purchases(request):
    agency = _agency_or_404(request)
    page = Paginator(selectors.agency_purchases(agency=agency), PURCHASES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/console/purchases.html", {"agency": agency, "page": page})


@login_required
def purchase_detail(request, purchase_id):
    agency = _agency_or_404(request)
    purchase = get_object_or_404(selectors.agency_purchases(agency=agency), pk=purchase_id)
    entries = purchase.ledger_entries.order_by("created_at", "pk")
    return render(request, "billing/console/purchase.html", {"agency": agency, "purchase": purchase, "entries": entries})


def _allocate_page(request, agency, organization, form, status=200):
    history = selectors.ledger_history(organization=organization)[:HISTORY_SHOWN]
    return render(request, "billing/console/allocate.html", {
        "agency": agency, "organization": organization, "form": form, "history": history,
    }, status=status)


@login_required
def allocate(request, org_id):
    """Add credits to a client by hand, or deduct them with a reason; recorded with the acting admin."""
    agency = _agency_or_404(request)
    organization = get_object_or_404(Organization, pk=org_id, agency=agency)
    if request.method != "POST":
        return _allocate_page(request, agency, organization, AllocationForm(initial={"token": uuid.uuid4().hex}))
    form = AllocationForm(request.POST)
    if not form.is_valid():
        return _allocate_page(request, agency, organization, form, status=400)
    data = form.cleaned_data
    credits, description = data["credits"], data["description"]
    if data["action"] == "allocate":
        posted = ledger.credits_allocate(organization=organization, amount=credits, description=description,
                                         actor=request.user, reference=f"allocation:{data['token']}")
        done = f"Added {credits:,} credits to {organization.name}."
    else:
        try:
            posted = ledger.credits_deduct(organization=organization, amount=credits, description=description,
                                           actor=request.user, reference=f"deduction:{data['token']}")
        except ledger.InsufficientBalance as exc:
            form.add_error("credits", f"{organization.name} has {exc.balance:,} credits; "
                                      f"you can deduct at most that many.")
            return _allocate_page(request, agency, organization, form, status=400)
        done = f"Deducted {credits:,} credits from {organization.name}."
    if posted.created:
        messages.success(request, done)
    else:
        messages.info(request, "This form was already submitted; nothing was added twice.")
    return redirect("console_billing:allocate", org_id=organization.pk)
