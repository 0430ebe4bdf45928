"""Saved payment methods and top-ups, as pages: the client's on its portal (credits on its agency's Stripe
account) and the agency admin's in the console (platform minutes on the platform's account).

One set of views serves both; `_Side` says whose balance and which layout and URLs.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies import access, tenancy
from agencies.models import Agency, Organization
from core.confirm import confirm_page, confirmed
from core.money import money_format as money

from . import payment_methods, stripe_api, topup
from .models import Purchase
from .portal_views import HttpResponseSeeOther


@dataclass(frozen=True)
class _Side:
    agency: Agency
    organization: Organization | None
    base: str  # the layout template
    ns: str  # URL names: f"{ns}:payment_methods" ...
    unit: str
    balance: int

    def url(self, name: str, *args) -> str:
        return reverse(f"{self.ns}:{name}", args=args or None)

    def absolute(self, name: str) -> str:
        path = self.url(name)
        if self.organization is None:
            return tenancy.console_url(path)
        return tenancy.portal_url(self.agency, path)


def _side(request, console: bool, *, buying: bool = False) -> _Side:
    """Whose account: the console's agency (its billing role) or the portal's organization (buy or payment methods)."""
    if console:
        agency = access.agency_or_404(request, capability="billing")
        return _Side(agency, None, "console/base.html", "console_billing", "minutes", agency.minutes_balance)
    organization = access.organization_or_404(request, capability="buy" if buying else "payment_methods")
    agency = Agency.objects.get(pk=organization.agency_id)  # with its keys, which request.agency may lack
    return _Side(agency, organization, "base.html", "billing", "credits", organization.credits_balance)


def _methods(side: _Side) -> tuple[list[payment_methods.SavedMethod], str]:
    """The saved methods, or [] and why they cannot be listed now."""
    try:
        return payment_methods.methods_list(agency=side.agency, organization=side.organization), ""
    except stripe_api.StripeUnavailable:
        return [], "Stripe could not be reached, so your saved payment methods cannot be shown. Please try again."
    except stripe_api.StripeRejected:
        return [], "Saved payment methods are not available: payments are not set up yet."


# --- Payment methods ----------------------------------------------------------------


def _payment_methods(request, console: bool):
    side = _side(request, console)
    session_id = request.GET.get("setup", "")
    if session_id:  # back from Stripe's page: the first method saved becomes the default
        account = payment_methods.buyer_account(agency=side.agency, organization=side.organization)
        try:
            session = stripe_api.session_retrieve(account=account, session_id=session_id)
            payment_methods.setup_session_completed(account=account, session=session)
        except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
            pass  # the webhook does the same
    methods, problem = _methods(side)
    context = {"side": side, "methods": methods, "problem": problem, "saved": bool(session_id)}
    return render(request, "billing/payment_methods.html", context)


def _payment_method_add(request, console: bool):
    side = _side(request, console)
    back = side.absolute("payment_methods")
    try:
        started = payment_methods.method_setup_start(
            agency=side.agency,
            organization=side.organization,
            email=request.user.email,
            success_url=back + "?setup={CHECKOUT_SESSION_ID}",
            cancel_url=back,
        )
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected) as exc:
        if isinstance(exc, stripe_api.StripeUnavailable):
            messages.error(request, "Stripe could not be reached. Please try again in a minute.")
        else:
            messages.error(request, "Payment methods cannot be saved yet: payments are not set up.")
        return redirect(side.url("payment_methods"))
    return HttpResponseSeeOther(started.url)


def _method_or_404(side: _Side, method_id: str) -> payment_methods.SavedMethod:
    try:
        return payment_methods.method_find(
            agency=side.agency, organization=side.organization, payment_method_id=method_id
        )
    except payment_methods.MethodNotFound:
        from django.http import Http404

        raise Http404("No such payment method") from None


def _payment_method_remove(request, console: bool, method_id: str):
    side = _side(request, console)
    method = _method_or_404(side, method_id)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Remove {method.label}?",
            consequences=[
                "It can no longer be charged for top-ups.",
                "If automatic reloads use it, they are switched off.",
            ],
            button="Remove payment method",
            action=side.url("payment_method_remove", method.id),
            cancel_url=side.url("payment_methods"),
            base=side.base,
        )
    payment_methods.method_detach(agency=side.agency, organization=side.organization, payment_method_id=method.id)
    messages.success(request, f"Removed {method.label}.")
    return redirect(side.url("payment_methods"))


def _payment_method_default(request, console: bool, method_id: str):
    side = _side(request, console)
    method = _method_or_404(side, method_id)
    payment_methods.method_default_set(agency=side.agency, organization=side.organization, payment_method_id=method.id)
    messages.success(request, f"{method.label} is now your default payment method.")
    return redirect(side.url("payment_methods"))


# --- Top up -------------------------------------------------------------------------


class TopupForm(forms.Form):
    amount = forms.CharField(label="Amount", max_length=12)
    payment_method = forms.ChoiceField(label="Payment method")
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, methods, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].help_text = f"At least {money(settings.TOPUP_MIN_CENTS, currency)}, e.g. 25 or 25.50."
        choice = self.fields["payment_method"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [(m.id, m.label + (" (default)" if m.default else "")) for m in methods]

    def clean_amount(self) -> int:
        raw = self.cleaned_data["amount"].strip().replace(",", ".")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError("Enter an amount such as 25 or 25.50.") from None
        if not value.is_finite() or value != value.quantize(Decimal("0.01")) or value <= 0:
            raise forms.ValidationError("Enter an amount such as 25 or 25.50.")
        return int(value * 100)


def _currency(side: _Side) -> str:
    if side.organization is None:
        return settings.PLATFORM_CURRENCY
    rate = topup.topup_rate(agency=side.agency)
    return rate[1] if rate else "EUR"


def _topup_page(request, side, form, methods, problem="", outcome=None, status=200):
    context = {"side": side, "form": form, "methods": methods, "problem": problem, "outcome": outcome}
    if side.organization is not None:
        context["rate"] = topup.topup_rate(agency=side.agency)
    else:
        context["rate"] = (settings.PLATFORM_MINUTE_PRICE_CENTS, settings.PLATFORM_CURRENCY)
    return render(request, "billing/topup.html", context, status=status)


def _topup(request, console: bool):
    side = _side(request, console, buying=True)
    methods, problem = _methods(side)
    currency = _currency(side)
    reference = request.GET.get("topup", "")
    outcome = None
    if reference:  # back from authenticating the payment at the bank
        mine = Purchase.objects.filter(agency=side.agency, organization=side.organization)
        purchase = get_object_or_404(mine.exclude(kind=Purchase.Kind.CHECKOUT), reference=reference)
        outcome = topup.topup_outcome(purchase=topup.topup_confirm(purchase=purchase))
    if request.method != "POST":
        form = TopupForm(methods=methods, currency=currency, initial={"token": uuid.uuid4().hex})
        return _topup_page(request, side, form, methods, problem, outcome)
    form = TopupForm(request.POST, methods=methods, currency=currency)
    if not form.is_valid():
        return _topup_page(request, side, form, methods, problem, status=400)
    try:
        outcome = topup.topup_charge(
            agency=side.agency,
            organization=side.organization,
            amount_cents=form.cleaned_data["amount"],
            currency=currency,
            payment_method_id=form.cleaned_data["payment_method"],
            idempotency_key=f"page-{form.cleaned_data['token']}",  # the same form submitted twice charges once
            buyer=request.user,
        )
    except topup.TopupRefused as exc:
        field = "payment_method" if exc.code == "payment_method_not_found" else "amount"
        form.add_error(field if exc.code != "stripe_not_configured" else None, str(exc))
        return _topup_page(request, side, form, methods, problem, status=400)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        form.add_error(None, "Stripe could not be reached. Nothing was charged; please try again in a minute.")
        return _topup_page(request, side, form, methods, problem, status=503)
    if outcome.status == "declined":
        form.add_error(
            "payment_method", f"Your payment method was declined ({outcome.decline_code}). {outcome.message}"
        )
        return _topup_page(request, side, form, methods, problem, outcome=outcome, status=402)
    if outcome.status in ("succeeded", "processing"):
        return redirect(side.url("topup") + f"?topup={outcome.purchase.reference}")
    status = 402 if outcome.status == "authentication_required" else 502
    return _topup_page(request, side, form, methods, problem, outcome=outcome, status=status)


# --- The agency's top-up price for its clients ---------------------------------------


class TopupRateForm(forms.Form):
    rate = forms.DecimalField(
        label="Top-up price per credit",
        required=False,
        min_value=Decimal("0.01"),
        max_digits=7,
        decimal_places=2,
        help_text="What a client pays per credit when it tops up a saved card, in your packages' currency, "
        "e.g. 0.40. Leave empty to use your best package's price per credit, rounded up.",
        error_messages={"min_value": "Enter at least 0.01.", "invalid": "Enter a price such as 0.40."},
    )

    def clean_rate(self) -> int | None:
        rate = self.cleaned_data["rate"]
        return None if rate is None else int(rate * 100)


@login_required
def topup_rate(request):
    """Console: set the price per credit a client pays on a top-up (empty: the best package's rate)."""
    agency = access.agency_or_404(request, write="packages")
    initial = {"rate": Decimal(agency.topup_rate_cents) / 100 if agency.topup_rate_cents else None}
    form = TopupRateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        topup.topup_rate_set(agency=agency, rate_cents=form.cleaned_data["rate"], actor=request.user)
        messages.success(request, "Top-up price saved.")
        return redirect("console_billing:topup_rate")
    found = topup.topup_rate(agency=agency)
    context = {
        "form": form,
        "rate": found,
        "custom": agency.topup_rate_cents is not None,
        "min_cents": settings.TOPUP_MIN_CENTS,
        "currency": found[1] if found else "EUR",
    }
    return render(request, "billing/console/topup_rate.html", context, status=400 if form.errors else 200)


# --- Routes: the client's portal and the agency's console ---------------------------


@never_cache
@login_required
def payment_methods_page(request):
    return _payment_methods(request, console=False)


@login_required
@require_POST
def payment_method_add(request):
    return _payment_method_add(request, console=False)


@login_required
@require_POST
def payment_method_remove(request, method_id):
    return _payment_method_remove(request, False, method_id)


@login_required
@require_POST
def payment_method_default(request, method_id):
    return _payment_method_default(request, False, method_id)


@never_cache
@login_required
def topup_page(request):
    return _topup(request, console=False)


@never_cache
@login_required
def console_payment_methods(request):
    return _payment_methods(request, console=True)


@login_required
@require_POST
def console_payment_method_add(request):
    return _payment_method_add(request, console=True)


@login_required
@require_POST
def console_payment_method_remove(request, method_id):
    return _payment_method_remove(request, True, method_id)


@login_required
@require_POST
def console_payment_method_default(request, method_id):
    return _payment_method_default(request, True, method_id)


@never_cache
@login_required
def console_topup(request):
    return _topup(request, console=True)
