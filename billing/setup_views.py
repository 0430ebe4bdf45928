"""The console's Stripe page (/console/stripe/) and activation: set Stripe up, check it, go live.

The agency pastes one key and the portal does the rest (billing.provisioning);
"Check Stripe" asks Stripe whether the set-up still works (billing.stripe_check),
as activation does before a portal goes live. The five values of the seed's
set-up stay under "Advanced" and are checked against Stripe as before.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from agencies import access, services, tenancy
from agencies.forms import StripeForm
from core.confirm import confirm_page, confirmed

from . import accounts, advanced_check, provisioning, readiness, stripe_api, stripe_check
from .forms import StripeKeyForm


def _page(request, agency, *, key_form=None, form=None, status=200):
    webhook_url = tenancy.console_url(f"/api/webhooks/stripe/{agency.slug}") if agency.slug else None
    context = {
        "agency": agency,
        "key_form": key_form or StripeKeyForm(agency=agency),
        "form": form or StripeForm(agency=agency),
        "advanced_open": bool(form is not None and form.errors),
        "permissions": provisioning.KEY_PERMISSIONS,
        "webhook_url": webhook_url,
        "webhook_events": stripe_api.WEBHOOK_EVENTS,
        "portal_mode": provisioning.portal_mode(),
        "connected": accounts.is_connected(agency),
    }
    return render(request, "billing/console/stripe.html", context, status=status)


def _report(request, report: provisioning.ProvisionReport) -> None:
    messages.success(request, "Stripe is set up. " + " ".join(report.sentences()))


# Error reports (500 pages, admin emails) mask the secrets a request carries.
@sensitive_post_parameters("secret_key", "stripe_secret_key", "stripe_webhook_secret")
@login_required
def stripe_settings(request):
    agency = access.agency_or_404(request, capability="stripe")
    if request.method != "POST":
        return _page(request, agency)
    if "secret_key" in request.POST:
        return _key_save(request, agency)
    return _advanced_save(request, agency)


def _key_save(request, agency):
    key_form = StripeKeyForm(request.POST, agency=agency)
    if not key_form.is_valid():
        return _page(request, agency, key_form=key_form, status=400)
    try:
        report = provisioning.stripe_key_set(
            agency=agency, secret_key=key_form.cleaned_data["secret_key"], actor=request.user
        )
    except provisioning.ProvisionError as exc:
        key_form.add_error("secret_key", str(exc))
        return _page(request, agency, key_form=key_form, status=400)
    _report(request, report)
    return redirect("stripe_setup:stripe")


def _advanced_save(request, agency):
    form = StripeForm(request.POST, agency=agency)
    webhook_url = tenancy.console_url(f"/api/webhooks/stripe/{agency.slug}") if agency.slug else ""
    if not form.is_valid():
        return _page(request, agency, form=form, status=400)
    data = form.cleaned_data
    # Ask Stripe before saving: a key, product or price that cannot work is refused with
    # the reason. When Stripe cannot be reached the settings are saved unchecked (their
    # format is valid, and an outage must not lock the agency out) and the page says so.
    check = advanced_check.settings_problems(
        secret_key=data["stripe_secret_key"] or agency.stripe_secret_key,
        product_id=data["stripe_product_id"],
        price_id=data["stripe_price_id"],
        packages=agency.packages.on_sale(),
        webhook_url=webhook_url,
    )
    for field, errors in check.errors.items():
        for error in errors:
            form.add_error(field, error)
    if form.errors:
        return _page(request, agency, form=form, status=400)
    services.agency_update_stripe(agency=agency, data=data, actor=request.user)
    if check.unreachable:
        messages.warning(
            request,
            "Stripe settings saved. Stripe could not be reached to check them; save again later to have them checked.",
        )
    else:
        messages.success(request, "Stripe settings saved.")
    for warning in check.warnings:
        messages.warning(request, warning)
    return redirect("stripe_setup:stripe")


@login_required
@require_POST
def stripe_repair(request):
    """Run provisioning again with the stored key: what Check Stripe's sentences ask for."""
    agency = access.agency_or_404(request, capability="stripe")
    try:
        report = provisioning.stripe_provision(agency=agency, actor=request.user)
    except provisioning.ProvisionError as exc:
        messages.error(request, str(exc))
    else:
        _report(request, report)
    return redirect("stripe_setup:stripe")


@login_required
@require_POST
def stripe_check_now(request):
    agency = access.agency_or_404(request, capability="stripe")
    problems = stripe_check.stripe_check(agency=agency)
    if problems:
        messages.error(request, f"Check Stripe found {len(problems)} problem{'s' if len(problems) > 1 else ''}.")
    else:
        messages.success(request, "Check Stripe: everything the portal needs is in place.")
    return redirect("stripe_setup:stripe")


def _activation_confirm(request, agency, *, activate: bool):
    if activate:
        consequences = [
            (
                "You hold 0 call minutes. Your clients can buy credits once the portal is live, "
                "but their calls are refused until you buy minutes."
            ),
            "Buy minutes first, or go live now and buy them before your clients start calling.",
        ]
        title, button = "Go live without call minutes?", "Go live anyway"
        extra = (reverse("console_billing:minutes"), "Buy minutes")
    else:
        clients = agency.organizations.count()
        consequences = [
            (
                f"{clients} client{'s' if clients != 1 else ''} will see \u201cnot available\u201d: "
                "they cannot sign in, buy credits or use the portal until you switch it on again."
            ),
        ]
        title, button, extra = "Switch the portal off?", "Switch portal off", None
    return confirm_page(
        request,
        title=title,
        consequences=consequences,
        button=button,
        action=reverse("stripe_setup:activation"),
        cancel_url=reverse("console:dashboard"),
        fields=[("active", "1" if activate else "0")],
        extra_link=extra,
        context={"agency": agency},
    )


@login_required
@require_POST
def activation(request):
    """Go live (hard readiness steps done, Stripe asked) or switch off; both ask first when it hurts.

    Going live with 0 minutes is allowed after a confirmation, not refused: the
    agency may want its portal and prices in place before it buys minutes, and
    no call is charged until a client has credits. Clients' calls are refused
    with their own 402 code meanwhile, and the overview keeps warning.
    """
    agency = access.agency_or_404(request, capability="activation")
    activate = request.POST.get("active") == "1"
    if activate:
        missing = readiness.activation_blockers(agency)
        if missing:
            messages.error(request, "The portal cannot go live yet. Missing: " + ", ".join(missing) + ".")
            return redirect("console:dashboard")
    if (not activate or agency.minutes_balance <= 0) and not confirmed(request):
        if activate or agency.is_active:
            return _activation_confirm(request, agency, activate=activate)
    if activate:
        # Ask Stripe before going live: a portal whose payments cannot be credited must not open.
        problems = stripe_check.stripe_check(agency=agency)
        if problems:
            messages.error(request, "The portal cannot go live yet. Check Stripe: " + " ".join(problems))
            return redirect("console:dashboard")
    missing = services.agency_set_active(agency=agency, active=activate, actor=request.user)
    if missing:
        messages.error(request, "The portal cannot go live yet. Missing: " + ", ".join(missing) + ".")
    elif activate:
        messages.success(request, "Your portal is live.")
        if agency.minutes_balance <= 0:
            messages.warning(request, "You hold 0 call minutes: buy minutes before your clients start calling.")
    else:
        messages.success(request, "Your portal is switched off.")
    return redirect("console:dashboard")
