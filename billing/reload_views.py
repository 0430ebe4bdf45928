"""The auto-reload settings page: a client's credits on its portal, an agency's platform minutes in the console."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse

from agencies import access

from . import auto_reload, reload_methods
from .reload_forms import AutoReloadForm


def _initial(setting) -> dict:
    def units(cents):
        return None if cents is None else Decimal(cents) / 100

    return {
        "enabled": setting.enabled,
        "threshold": setting.threshold,
        "amount": units(setting.amount_cents),
        "payment_method_id": setting.payment_method_id,
        "monthly_cap": units(setting.monthly_cap_cents),
    }


def _settings_page(request, *, owner: dict, place: dict):
    organization = owner.get("organization")
    agency = organization.agency if organization is not None else owner["agency"]
    overview = auto_reload.auto_reload_overview(**owner)
    currency = overview.setting.currency or auto_reload.account_currency(organization=organization, agency=agency)
    methods = reload_methods.methods_or_none(agency=agency, organization=organization)
    kwargs = {"methods": methods, "currency": currency, "unit": place["unit"]}
    status = 200
    if request.method == "POST":
        form = AutoReloadForm(request.POST, initial=_initial(overview.setting), **kwargs)
        if (
            form.is_valid()
            and methods is None
            and form.cleaned_data["payment_method_id"] != _initial(overview.setting)["payment_method_id"]
        ):
            form.add_error("payment_method_id", "Stripe cannot be reached to check this payment method; please retry.")
        if form.is_valid():
            try:
                auto_reload.auto_reload_update(
                    **owner,
                    changes=form.changes(),
                    by=request.user.email,
                    user=request.user,
                    method_ids=None if methods is None else [m.id for m in methods],  # None: unchanged, checked before
                )
            except auto_reload.ReloadRefused as refused:
                field = {"amount": "amount", "monthly_cap": "monthly_cap"}.get(refused.field, refused.field)
                form.add_error(field if field in form.fields else None, str(refused).replace("_", " "))
            else:
                messages.success(request, "Auto-reload settings saved.")
                return redirect(place["self_url"])
        status = 400
    else:
        form = AutoReloadForm(initial=_initial(overview.setting), **kwargs)
    return render(
        request,
        "billing/auto_reload.html",
        {**place, "form": form, "overview": overview, "setting": overview.setting, "currency": currency},
        status=status,
    )


@login_required
def portal_auto_reload(request):
    organization = access.organization_or_404(request, capability="payment_methods")
    place = {
        "base": "base.html",
        "unit": "credits",
        "account_name": organization.name,
        "balance": organization.credits_balance,
        "self_url": reverse("billing:auto_reload"),
        "methods_url": reverse("billing:payment_methods"),
    }
    return _settings_page(request, owner={"organization": organization}, place=place)


@login_required
def console_auto_reload(request):
    agency = access.agency_or_404(request, write="billing")
    place = {
        "base": "console/base.html",
        "unit": "minutes",
        "account_name": agency.company_name,
        "balance": agency.minutes_balance,
        "self_url": reverse("console_billing:auto_reload"),
        "methods_url": reverse("console_billing:payment_methods"),
    }
    return _settings_page(request, owner={"agency": agency}, place=place)
