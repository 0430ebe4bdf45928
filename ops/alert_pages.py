"""The alert settings page, shared by a client (portal, credits) and an agency (console, minutes).

A signing secret is rendered once, in the answer to the POST that made it
(Cache-Control: no-store); never in a message, a session, a log or a later page.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from core.confirm import confirm_page, confirmed

from . import alerts
from .forms import AlertSettingsForm
from .models import AlertDelivery, BalanceAlert

SHOWN = 50


def _page(request, *, owner: dict, form, place: dict, new_secret: str | None = None, status: int = 200):
    ((field, account),) = owner.items()
    response = render(
        request,
        "ops/alerts.html",
        {
            **place,
            "form": form,
            "settings_row": alerts.alert_settings_get(**owner),
            "new_secret": new_secret,
            "account": account,
            "balance": account.credits_balance if field == "organization" else account.minutes_balance,
            "deliveries": AlertDelivery.objects.filter(**{f"alert__{field}": account}).select_related("alert")[:SHOWN],
            "crossings": BalanceAlert.objects.filter(**owner)[:SHOWN],
        },
        status=status,
    )
    if new_secret:
        add_never_cache_headers(response)
    return response


def alerts_settings(request, *, owner: dict, place: dict):
    """GET shows, POST saves threshold and webhook URL (a first webhook URL gets its secret, shown once)."""
    if request.method != "POST":
        row = alerts.alert_settings_get(**owner)
        form = AlertSettingsForm(
            initial={"threshold": alerts.alert_threshold_get(**owner), "webhook_url": row.webhook_url}
        )
        return _page(request, owner=owner, form=form, place=place)
    form = AlertSettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, owner=owner, form=form, place=place, status=400)
    secret = alerts.alert_settings_save(
        threshold=form.cleaned_data["threshold"], webhook_url=form.cleaned_data["webhook_url"], **owner
    )
    if secret is None:
        messages.success(request, "Alert settings saved.")
        return redirect(place["self_url"])
    return _page(
        request, owner=owner, form=AlertSettingsForm(initial=form.cleaned_data), place=place, new_secret=secret
    )


def secret_roll(request, *, owner: dict, place: dict):
    """Make a new signing secret (POST) and show it this once."""
    row = alerts.alert_settings_get(**owner)
    if row.signing_secret and not confirmed(request):
        return confirm_page(
            request,
            title="Roll the signing secret?",
            consequences=[
                (
                    "The current secret stops working at once: your webhook receiver rejects our alerts "
                    "until you give it the new secret, shown once on the next page."
                )
            ],
            button="Roll the secret",
            action=place["roll_url"],
            cancel_url=place["self_url"],
            base=place["base"],
        )
    form = AlertSettingsForm(initial={"threshold": alerts.alert_threshold_get(**owner), "webhook_url": row.webhook_url})
    secret = alerts.signing_secret_roll(**owner)
    return _page(request, owner=owner, form=form, place=place, new_secret=secret)
