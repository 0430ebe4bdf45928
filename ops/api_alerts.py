"""GET / PUT /api/v1/billing/alerts: the low-balance threshold and webhook URL the settings pages manage.

The same services and the same validation as the pages (ops.alerts, AlertSettingsForm: an https
webhook URL that is not a private address, a threshold of at least 1). The signing secret is never
returned: only whether one is set (the settings page shows a new one once, and rolls it).
"""

from django.http import JsonResponse

from usage.api import ApiError, Caller, api_endpoint, json_body, organization_for, query_int

from . import alerts
from .forms import AlertSettingsForm

FIELDS = ("threshold", "webhook_url", "organization_id")


def _owner(caller: Caller, organization) -> dict:
    return {"organization": organization} if organization is not None else {"agency": caller.agency}


def _settings_json(owner: dict, organization) -> dict:
    row = alerts.alert_settings_get(**owner)
    return {
        "organization_id": organization.pk if organization is not None else None,
        "threshold": alerts.alert_threshold_get(**owner),
        "webhook_url": row.webhook_url or None,
        "webhook_secret_set": bool(row.signing_secret),
    }


def _field_error(form: AlertSettingsForm) -> ApiError:
    field, errors = next(iter(form.errors.items()))
    return ApiError(400, "invalid_field", f"{field}: {' '.join(str(e) for e in errors)}")


def _storable(text: str) -> bool:
    """Text a database can hold: UTF-8 without lone surrogates (JSON's \\ud800 escape makes them) or NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _changes(body: dict, owner: dict) -> dict:
    """The threshold and webhook URL after the body's changes (fields not sent keep their values), validated."""
    threshold = body.get("threshold", alerts.alert_threshold_get(**owner))
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool)):
        raise ApiError(400, "invalid_field", "threshold must be an integer of at least 1, or null.")
    webhook_url = body.get("webhook_url", alerts.alert_settings_get(**owner).webhook_url)
    if webhook_url is not None and (not isinstance(webhook_url, str) or not _storable(webhook_url)):
        raise ApiError(400, "invalid_field", "webhook_url must be an https URL, or null.")
    form = AlertSettingsForm(
        {"threshold": "" if threshold is None else str(threshold), "webhook_url": webhook_url or ""}
    )
    if not form.is_valid():
        raise _field_error(form)
    return {"threshold": form.cleaned_data["threshold"], "webhook_url": form.cleaned_data["webhook_url"]}


@api_endpoint("GET", "PUT")
def billing_alerts(request, caller: Caller):
    if request.method == "GET":
        organization = organization_for(caller, query_int(request, "organization_id"), required=False)
        owner = _owner(caller, organization)
        return JsonResponse(_settings_json(owner, organization))
    caller.require(client="alerts", agency="alerts")
    body = json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object with threshold and/or webhook_url.")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field {unknown[0][:50]!r}: send threshold and/or webhook_url.")
    organization = organization_for(caller, body.get("organization_id"), required=False)
    owner = _owner(caller, organization)
    # The new secret a first webhook URL gets is not returned: the settings page shows and rolls it.
    alerts.alert_settings_save(**_changes(body, owner), **owner)
    return JsonResponse(_settings_json(owner, organization))
