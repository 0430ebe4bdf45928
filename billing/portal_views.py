"""Billing pages a client sees on its agency's portal: always its own organization only."""

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies import access
from agencies.models import Agency, CreditPackage
from invoices import selectors as invoice_terms

from . import accounts, checkout, connect, selectors, stripe_api
from .models import Purchase

logger = logging.getLogger(__name__)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


@login_required
def buy(request):
    organization = access.organization_or_404(request, capability="buy")
    packages = list(CreditPackage.objects.on_sale().filter(agency_id=request.agency.pk))
    # What each costs with the VAT the client's billing details call for (the agency's seller details, once).
    terms = invoice_terms.package_checkout_terms(agency=request.agency, organization=organization, packages=packages)
    unit_prices = selectors.package_unit_prices(packages=packages)
    return render(
        request,
        "billing/buy.html",
        {
            "organization": organization,
            "offers": [(package, terms[package.pk], unit_prices[package.pk]) for package in packages],
        },
    )


@login_required
@require_POST
def buy_package(request, package_id):
    access.organization_or_404(request, capability="buy")
    package = get_object_or_404(CreditPackage.objects.on_sale(), pk=package_id, agency_id=request.agency.pk)
    if connect.payments_blocked(Agency.objects.get(pk=request.agency.pk)):
        # Stripe has disabled the connected account's charges, or the agency disconnected it: not asked.
        return render(request, "billing/checkout_error.html", {"blocked": True}, status=503)
    try:
        started = checkout.purchase_start(user=request.user, package=package)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected) as exc:
        # Nothing was written; the agency's key, price or Stripe itself is at fault, not the client.
        unavailable = isinstance(exc, stripe_api.StripeUnavailable)
        return render(
            request, "billing/checkout_error.html", {"unavailable": unavailable}, status=503 if unavailable else 502
        )
    return HttpResponseSeeOther(started.checkout_url)


@never_cache
@login_required
def purchase_success(request):
    """Where Stripe sends the client after paying: confirm with Stripe and credit, once."""
    organization = access.organization_or_404(request, capability="buy")
    purchase = get_object_or_404(
        Purchase,
        stripe_session_id=request.GET.get("session_id", ""),
        organization=organization,
    )
    agency = Agency.objects.get(pk=purchase.agency_id)  # with its secret key, which the cached one lacks
    purchase, unconfirmed = checkout.purchase_confirm(account=accounts.agency_account(agency), purchase=purchase)
    organization.refresh_from_db(fields=["credits_balance"])
    return render(
        request,
        "billing/success.html",
        {
            "organization": organization,
            "purchase": purchase,
            "unconfirmed": unconfirmed,
        },
    )


@login_required
def purchase_cancelled(request, reference):
    organization = access.organization_or_404(request, capability="buy")
    purchase = get_object_or_404(Purchase, reference=reference, organization=organization)
    purchase = checkout.purchase_cancel(purchase=purchase)
    return render(request, "billing/cancelled.html", {"organization": organization, "purchase": purchase})
