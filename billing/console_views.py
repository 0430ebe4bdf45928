"""Billing pages of the agency console: purchases, manual credits, minutes from the platform; own agency only."""

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies import access
from agencies.models import Organization
from core.confirm import confirm_page, confirmed
from core.csv_export import csv_response, decimal_amount
from core.money import money_format as money

from . import accounts, checkout, ledger, minutes, refund_requests, selectors, stripe_api
from .forms import AllocationForm, MinutesForm, RefundForm
from .portal_views import HttpResponseSeeOther

PURCHASES_PAGE_SIZE = 50
HISTORY_SHOWN = 20


def _purchases_show(request) -> str:
    show = request.GET.get("show", "")
    return show if show in selectors.PURCHASE_FILTERS else ""


@login_required
def purchases(request):
    agency = access.agency_or_404(request)
    show = _purchases_show(request)
    shown = selectors.agency_purchases_shown(agency=agency, show=show)
    page = Paginator(shown, PURCHASES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/console/purchases.html",
        {
            "agency": agency,
            "page": page,
            "show": show,
            "filters": selectors.PURCHASE_FILTERS.items(),
            "query": urlencode({"show": show}) if show else "",
            "reconciliation": selectors.reconciliation(agency=agency),
        },
    )


PURCHASES_CSV_HEADER = [
    "date",
    "reference",
    "client",
    "buyer_email",
    "credits",
    "amount",
    "currency",
    "refunded",
    "status",
    "paid_at",
]


@login_required
def purchases_csv(request):
    """The purchases the list shows (same filter), all pages, as CSV."""
    agency = access.agency_or_404(request, capability="exports")
    shown = selectors.agency_purchases_shown(agency=agency, show=_purchases_show(request))
    rows = (
        (
            p.created_at,
            p.reference,
            p.organization.name if p.organization else "",
            p.buyer.email if p.buyer else "",
            p.credits,
            decimal_amount(p.amount_cents),
            p.currency,
            decimal_amount(p.refunded_cents),
            p.get_status_display(),
            p.fulfilled_at,
        )
        for p in shown.iterator(chunk_size=500)
    )
    return csv_response(filename=f"purchases-{agency.slug}.csv", header=PURCHASES_CSV_HEADER, rows=rows)


def _purchase_page(request, agency, purchase, form=None, *, plan=None, status=200):
    """The purchase, its ledger entries and refunds, and the refund form (or why there is none)."""
    return render(
        request,
        "billing/console/purchase.html",
        {
            "agency": agency,
            "purchase": purchase,
            "entries": purchase.ledger_entries.order_by("created_at", "pk"),
            "refunds": selectors.purchase_refunds(purchase=purchase),
            "refusal": refund_requests.refund_refusal(purchase=purchase),
            "remaining_cents": purchase.amount_cents - purchase.refunded_cents,
            "form": form or RefundForm(initial={"token": uuid.uuid4().hex}),
            "plan": plan,
        },
        status=status,
    )


@login_required
def purchase_detail(request, purchase_id):
    agency = access.agency_or_404(request)
    purchase = get_object_or_404(selectors.agency_purchases(agency=agency), pk=purchase_id)
    return _purchase_page(request, agency, purchase)


def _renew_token(posted: QueryDict) -> None:
    # Stripe keeps a refused request's answer under its idempotency key: the next try needs a new one.
    posted["token"] = uuid.uuid4().hex
    posted["confirm"] = ""


def _refund_rejected(exc: stripe_api.StripeRejected) -> str:
    if exc.kind == "auth":
        return "Stripe refused your Stripe key: check it on the Stripe settings page."
    if exc.kind == "permission":
        return "Your Stripe key may not make refunds: give it write access to Refunds in Stripe."
    return f"Stripe refused the refund: {exc.detail}" if exc.detail else "Stripe refused the refund."


@login_required
@require_POST
def purchase_refund(request, purchase_id):
    """Refund (part of) a client's purchase on the agency's Stripe account; a spent balance needs confirming."""
    agency = access.agency_or_404(request, capability="billing")
    purchase = get_object_or_404(selectors.agency_purchases(agency=agency), pk=purchase_id)
    posted = request.POST.copy()  # the form shows it again; a refused try gets a new token
    form = RefundForm(posted)
    if not form.is_valid():
        return _purchase_page(request, agency, purchase, form, status=400)
    data = form.cleaned_data
    purchase = refund_requests.purchase_refresh(purchase=purchase)
    try:
        plan = refund_requests.refund_plan(purchase=purchase, amount_cents=data["amount"])
    except refund_requests.RefundRefused as refused:
        form.add_error("amount", str(refused))
        return _purchase_page(request, agency, purchase, form, status=400)
    if plan.shortfall and not data["confirm"]:
        return _purchase_page(request, agency, purchase, form, plan=plan)  # the confirm step
    try:
        sent = refund_requests.refund_send(
            purchase=purchase,
            plan=plan,
            reason=data["reason"],
            note=data["note"],
            token=data["token"],
            actor=request.user,
        )
    except stripe_api.StripeUnavailable:
        # Stripe may have refunded before the answer was lost: the same token (idempotency key) is the safe retry.
        form.add_error(
            None,
            "Stripe could not be reached, so the refund may not have been made. Submit again in a minute: "
            "this form never refunds twice.",
        )
        return _purchase_page(request, agency, purchase, form, status=503)
    except stripe_api.StripeRejected as exc:
        form.add_error(None, _refund_rejected(exc) + " Nothing was refunded.")
        _renew_token(posted)
        return _purchase_page(request, agency, purchase, form, status=400)
    amount = money(sent.refund.amount_cents, purchase.currency)
    if sent.credits_pending:
        messages.warning(
            request, f"Refunded {amount}. The credits come off as soon as Stripe confirms the refund to the portal."
        )
    else:
        removed = sent.purchase.credits_refunded - purchase.credits_refunded
        client = purchase.organization.name if purchase.organization else "the client"
        messages.success(request, f"Refunded {amount}: {removed:,} credits removed from {client}.")
    return redirect("console_billing:purchase", purchase_id=purchase.pk)


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
    agency = access.agency_or_404(request, write="clients")
    organization = get_object_or_404(Organization, pk=org_id, agency=agency)
    if request.method != "POST":
        return _allocate_page(request, agency, organization, AllocationForm(initial={"token": uuid.uuid4().hex}))
    form = AllocationForm(request.POST)
    if not form.is_valid():
        return _allocate_page(request, agency, organization, form, status=400)
    data = form.cleaned_data
    credits, description = data["credits"], data["description"]
    balance = organization.credits_balance
    if data["action"] == "deduct" and credits <= balance and not confirmed(request):
        return confirm_page(
            request,
            title=f"Deduct {credits:,} credits from {organization.name}?",
            consequences=[
                (
                    f"{organization.name}'s balance goes from {balance:,} to {balance - credits:,} credits; "
                    f"its history shows \u201c{description}\u201d. Calls it cannot pay for are refused."
                ),
                "A deduction is not undone by itself: you would add the credits back by hand.",
            ],
            button=f"Deduct {credits:,} credits",
            action=reverse("console_billing:allocate", args=[organization.pk]),
            cancel_url=reverse("console_billing:allocate", args=[organization.pk]),
            fields=[(name, str(data[name])) for name in ("action", "credits", "description", "token")],
            context={"agency": agency},
        )
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
    agency = access.agency_or_404(request, write="billing")
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
    agency = access.agency_or_404(request, capability="billing")
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
    agency = access.agency_or_404(request, capability="billing")
    purchase = get_object_or_404(minutes.minute_purchases(agency=agency), reference=reference)
    purchase = checkout.purchase_cancel(purchase=purchase)
    return render(
        request, "billing/console/minutes_done.html", {"agency": agency, "purchase": purchase, "cancelled": True}
    )
