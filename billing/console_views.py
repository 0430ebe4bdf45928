"""Billing pages of the agency console: purchases, manual credits, minutes from the platform; own agency only."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from agencies import access
from agencies.models import Organization

from . import accounts, checkout, ledger, minutes, selectors, stripe_api
from .forms import AllocationForm, MinutesForm
from .portal_views import HttpResponseSeeOther

PURCHASES_PAGE_SIZE = 50
HISTORY_SHOWN = 20


@login_required
def purchases(request):
    agency = access.agency_or_404(request)
    page = Paginator(selectors.agency_purchases(agency=agency), PURCHASES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/console/purchases.html", {"agency": agency, "page": page})


@login_required
def purchase_detail(request, purchase_id):
    agency = access.agency_or_404(request)
    purchase = get_object_or_404(selectors.agency_purchases(agency=agency), pk=purchase_id)
    entries = purchase.ledger_entries.order_by("created_at", "pk")
    return render(
        request, "billing/console/purchase.html", {"agency": agency, "purchase": purchase, "entries": entries}
    )


def _allocate_page(request, agency, organization, form, status=200):
    history = selectors.ledger_history(organization=organization)[:HISTORY_SHOWN]
    return render(
        request,
        "billing/console/allocate.html",
        {
            "agency": agency,
            "organization": organization,
            "form": form,
            "history": history,
        },
        status=status,
    )


@login_required
def allocate(request, org_id):
    """Add credits to a client by hand, or deduct them with a reason; recorded with the acting admin."""
    agency = access.agency_or_404(request)
    organization = get_object_or_404(Organization, pk=org_id, agency=agency)
    if request.method != "POST":
        return _allocate_page(request, agency, organization, AllocationForm(initial={"token": uuid.uuid4().hex}))
    form = AllocationForm(request.POST)
    if not form.is_valid():
        return _allocate_page(request, agency, organization, form, status=400)
    data = form.cleaned_data
    credits, description = data["credits"], data["description"]
    if data["action"] == "allocate":
        posted = ledger.credits_allocate(
            organization=organization,
            amount=credits,
            description=description,
            actor=request.user,
            reference=f"allocation:{data['token']}",
        )
        done = f"Added {credits:,} credits to {organization.name}."
    else:
        try:
            posted = ledger.credits_deduct(
                organization=organization,
                amount=credits,
                description=description,
                actor=request.user,
                reference=f"deduction:{data['token']}",
            )
        except ledger.InsufficientBalance as exc:
            form.add_error(
                "credits", f"{organization.name} has {exc.balance:,} credits; you can deduct at most that many."
            )
            return _allocate_page(request, agency, organization, form, status=400)
        done = f"Deducted {credits:,} credits from {organization.name}."
    if posted.created:
        messages.success(request, done)
    else:
        messages.info(request, "This form was already submitted; nothing was added twice.")
    return redirect("console_billing:allocate", org_id=organization.pk)


# --- Call minutes bought from the platform ----------------------------------------


def _minutes_page(request, agency, form, status=200):
    quote = None
    if form.is_bound and form.is_valid():
        quote = minutes.minutes_quote(agency=agency, minutes=form.cleaned_data["minutes"])
    return render(
        request,
        "billing/console/minutes.html",
        {
            "agency": agency,
            "form": form,
            "quote": quote,
            "example": minutes.minutes_quote(agency=agency, minutes=settings.PLATFORM_MINUTES_MIN_PURCHASE),
            "available": accounts.platform_account().configured,
            "price_cents": settings.PLATFORM_MINUTE_PRICE_CENTS,
            "currency": settings.PLATFORM_CURRENCY,
            "min_minutes": settings.PLATFORM_MINUTES_MIN_PURCHASE,
            "purchases": minutes.minute_purchases(agency=agency)[:PURCHASES_PAGE_SIZE],
        },
        status=status,
    )


@login_required
def minutes_buy(request):
    """Buy call minutes from the platform: Checkout on the platform's Stripe account."""
    agency = access.agency_or_404(request)
    if request.method != "POST":
        return _minutes_page(request, agency, MinutesForm(initial={"minutes": settings.PLATFORM_MINUTES_MIN_PURCHASE}))
    form = MinutesForm(request.POST)
    if not form.is_valid():
        return _minutes_page(request, agency, form, status=400)
    try:
        started = minutes.minutes_purchase_start(agency=agency, user=request.user, minutes=form.cleaned_data["minutes"])
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected) as exc:
        # Nothing was written: the platform's Stripe account is at fault, not the agency.
        if isinstance(exc, stripe_api.StripeUnavailable):
            form.add_error(None, "Stripe could not be reached. Nothing was charged; please try again in a minute.")
        else:
            form.add_error(
                None,
                "Buying minutes is not available right now: the platform's payment account is "
                "not set up. Nothing was charged; please contact the platform.",
            )
        status = 503 if isinstance(exc, stripe_api.StripeUnavailable) else 502
        return _minutes_page(request, agency, form, status=status)
    return HttpResponseSeeOther(started.checkout_url)


@never_cache
@login_required
def minutes_success(request):
    """Where Stripe sends the agency admin after paying: confirm with Stripe and credit, once."""
    agency = access.agency_or_404(request)
    purchase = get_object_or_404(
        minutes.minute_purchases(agency=agency), stripe_session_id=request.GET.get("session_id", "")
    )
    purchase, unconfirmed = checkout.purchase_confirm(account=accounts.platform_account(), purchase=purchase)
    agency.refresh_from_db(fields=["minutes_balance"])
    return render(
        request,
        "billing/console/minutes_done.html",
        {
            "agency": agency,
            "purchase": purchase,
            "unconfirmed": unconfirmed,
        },
    )


@login_required
def minutes_cancelled(request, reference):
    agency = access.agency_or_404(request)
    purchase = get_object_or_404(minutes.minute_purchases(agency=agency), reference=reference)
    return render(
        request, "billing/console/minutes_done.html", {"agency": agency, "purchase": purchase, "cancelled": True}
    )
