"""The alert settings page, shared by a client (portal, credits) and an agency (console, minutes).

A signing secret is rendered once, in the answer to the POST that made it
(Cache-Control: no-store); never in a message, a session, a log or a later page.
"""

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers

from core.confirm import confirm_page, confirmed

from . import alerts, notices
from .forms import AlertSettingsForm, NotificationsForm
from .models import AlertDelivery, BalanceAlert

SHOWN = 50


def _deliveries(owner: dict):
    """The account's deliveries: its alerts', and those naming it (test events, agency notices)."""
    ((field, account),) = owner.items()
    return AlertDelivery.objects.filter(Q(**{f"alert__{field}": account}) | Q(**{field: account}))


def _page(request, *, owner: dict, form, place: dict, new_secret: str | None = None, status: int = 200):
    ((field, account),) = owner.items()
    notify_form = None
    if field == "agency":
        notify_form = NotificationsForm(
            initial={"notify_client_signup": account.notify_client_signup, "notify_purchase": account.notify_purchase}
        )
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
            "deliveries": _deliveries(owner).select_related("alert")[:SHOWN],
            "notify_form": notify_form,
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
        threshold=form.cleaned_data["threshold"],
        webhook_url=form.cleaned_data["webhook_url"],
        actor=request.user,
        **owner,
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
    secret = alerts.signing_secret_roll(actor=request.user, **owner)
    return _page(request, owner=owner, form=form, place=place, new_secret=secret)


def test_send(request, *, owner: dict, place: dict):
    """Queue a signed test event to the webhook URL (POST); it shows in the deliveries as a test."""
    if notices.webhook_test_send(**owner) is None:
        messages.error(request, "Save a webhook URL first: the test event goes there.")
    else:
        messages.success(request, "Test event queued: it appears in the deliveries below as a test.")
    return redirect(place["self_url"])


def retry(request, *, owner: dict, place: dict, delivery_id: int):
    """Try a failed or waiting delivery now (POST); another account's delivery is 404."""
    delivery = get_object_or_404(_deliveries(owner), pk=delivery_id)
    if delivery.status == AlertDelivery.Status.DELIVERED:
        messages.info(request, "That delivery was delivered already.")
    elif notices.delivery_retry(delivery=delivery):
        messages.success(request, "Retry queued: it is tried now.")
    else:
        messages.info(request, "That delivery is being tried right now.")
    return redirect(place["self_url"])
