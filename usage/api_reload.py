"""/api/v1/billing/auto-reload: GET and PUT an account's auto-reload (billing.auto_reload holds the rules)."""

from django.http import JsonResponse

from billing import auto_reload as reloads, reload_methods, stripe_api

from .api import ApiError, Caller, api_endpoint, json_body, organization_for, query_int
from .api_views import _timestamp
from .models import ApiKey

FIELDS = {
    "enabled": "enabled",
    "threshold": "threshold",
    "amount": "amount_cents",
    "payment_method_id": "payment_method_id",
    "monthly_cap": "monthly_cap_cents",
}


def _money(cents: int | None, currency: str) -> dict | None:
    return None if cents is None else {"amount": cents, "currency": currency}


def _payload(overview: reloads.Overview, organization_id: int | None) -> dict:
    setting, consent = overview.setting, overview.consent
    currency = setting.currency or "EUR"
    last = overview.attempts[0] if overview.attempts else None
    return {
        "organization_id": organization_id,
        "enabled": setting.enabled,
        "threshold": setting.threshold,
        "amount": _money(setting.amount_cents, currency),
        "payment_method_id": setting.payment_method_id or None,
        "monthly_cap": _money(setting.monthly_cap_cents, currency),
        "charged_this_month": _money(overview.charged_this_month, currency),
        "paused": setting.paused,
        "paused_reason": setting.paused_reason or None,
        "consecutive_declines": setting.consecutive_declines,
        "consent": None
        if consent is None
        else {
            "by": consent.by,
            "at": _timestamp(consent.created_at),
            "amount": _money(consent.amount_cents, consent.currency),
            "monthly_cap": _money(consent.monthly_cap_cents, consent.currency),
        },
        "last_attempt": None
        if last is None
        else {
            "status": last.status,
            "at": _timestamp(last.finished_at or last.created_at),
            "decline_code": last.decline_code or None,
        },
    }


def _changes(body: dict) -> dict:
    changes = {}
    for name, field in FIELDS.items():
        if name in body:
            value = body[name]
            if name in ("threshold", "amount", "monthly_cap") and (
                not isinstance(value, int) or isinstance(value, bool)
            ):
                raise ApiError(400, "invalid_field", f"{name} must be an integer.")
            if name == "enabled" and not isinstance(value, bool):
                raise ApiError(400, "invalid_field", "enabled must be true or false.")
            if name == "payment_method_id" and value is not None and not isinstance(value, str):
                raise ApiError(400, "invalid_field", "payment_method_id must be a string.")
            changes[field] = value
    return changes


@api_endpoint("GET", "PUT")
def auto_reload(request, caller: Caller):
    if request.method == "GET":
        organization = organization_for(caller, query_int(request, "organization_id"), required=False)
    else:
        caller.require(client="payment_methods", agency="billing")
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "Send a JSON object.")
        unknown = sorted(set(body) - set(FIELDS) - {"organization_id"})
        if unknown:
            raise ApiError(400, "invalid_field", f"Unknown field: {unknown[0]}.")
        organization = organization_for(caller, body.get("organization_id"), required=False)
    owner = {"organization": organization} if organization is not None else {"agency": caller.agency}
    if request.method == "PUT":
        prefix = ApiKey.objects.values_list("prefix", flat=True).get(pk=caller.owner.api_key_id)
        agency = organization.agency if organization is not None else caller.agency
        changes = _changes(body)
        method_ids = None
        if changes.get("payment_method_id"):  # only a method being chosen is looked up at Stripe
            try:
                method_ids = [m.id for m in reload_methods.methods_list(agency=agency, organization=organization)]
            except stripe_api.StripeUnavailable:
                raise ApiError(503, "stripe_unavailable", "Stripe cannot be reached; please retry.") from None
            except stripe_api.StripeRejected:
                raise ApiError(409, "stripe_not_configured", "Payments are not set up for this account.") from None
        try:
            reloads.auto_reload_update(
                **owner,
                changes=changes,
                by=f"API key {prefix}",
                method_ids=method_ids,
            )
        except reloads.ReloadRefused as refused:
            status = 404 if refused.code == "payment_method_not_found" else 400
            raise ApiError(status, refused.code, str(refused)) from None
    overview = reloads.auto_reload_overview(**owner)
    return JsonResponse(_payload(overview, organization.pk if organization is not None else None))
