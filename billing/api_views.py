"""Endpoints on the console host that Stripe calls."""

import logging

import stripe
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from agencies.models import Agency

from . import accounts, connect, stripe_api, webhooks

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JsonResponse:
    """Errors in the shape of every /api/ answer: {"error": {"code", "message"}}."""
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@csrf_exempt
def stripe_webhook(request, slug):
    """Stripe events for one agency's account, signed with that agency's secret.

    400: bad or missing signature, unparseable body (nothing written).
    503: Stripe cannot be asked about the event right now; Stripe retries.
    200: processed, a duplicate, not ours, or a type we do not handle.
    """
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Use POST here.", {"Allow": "POST"})
    agency = Agency.objects.filter(slug=slug).first()
    if agency is None:
        return _error(404, "not_found", "There is no such portal.")
    # Its own key's account even when it has since connected one: those events arrive at the Connect endpoint.
    return _webhook(request, accounts.agency_own_account(agency))


@csrf_exempt
def platform_stripe_webhook(request):
    """Stripe events for the platform's own account (agencies buying minutes), signed with
    PLATFORM_STRIPE_WEBHOOK_SECRET. Answers as stripe_webhook does. "platform" is a reserved
    slug (agencies.validators), so no agency's URL can be this one."""
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Use POST here.", {"Allow": "POST"})
    return _webhook(request, accounts.platform_account())


@csrf_exempt
def connect_stripe_webhook(request):
    """Events of every connected account, on the platform's one Connect endpoint (signed with
    STRIPE_CONNECT_WEBHOOK_SECRET). Each is routed by its `account` to the agency that has it
    connected. Answers as stripe_webhook does; an account no portal has connected answers 200.
    "connect" is a reserved slug, so no agency's URL can be this one."""
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Use POST here.", {"Allow": "POST"})
    platform = accounts.platform_account()
    endpoint = stripe_api.StripeAccount(
        secret_key=platform.secret_key,
        webhook_secret=settings.STRIPE_CONNECT_WEBHOOK_SECRET,
        agency_id=None,
        label="the platform's Connect endpoint",
        livemode=platform.livemode,
    )
    try:
        event = stripe_api.event_construct(
            account=endpoint, payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        event_id, event_type, obj = _stripe_id(event["id"]), _stripe_id(event["type"]), event["data"]["object"]
        account_id = _stripe_id(event["account"])
        _stripe_id(obj["id"])
        livemode = event["livemode"]
        if not isinstance(livemode, bool):
            raise ValueError("livemode is not a boolean")
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError, RecursionError) as exc:
        logger.warning("Stripe Connect webhook refused: %s", type(exc).__name__)
        return _error(400, "invalid_event", "Invalid signature or payload.")
    try:
        outcome = connect.connect_event_process(
            account_id=account_id, livemode=livemode, event_id=event_id, event_type=event_type, obj=obj
        )
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return _error(503, "stripe_unavailable", "Stripe could not be asked about this event now; retry later.")
    return JsonResponse({"received": True, "outcome": outcome})


def _stripe_id(value) -> str:
    # Stripe ids and event types are short printable ASCII; anything else is not an event of theirs.
    if not isinstance(value, str) or not value or len(value) > 255 or not (value.isascii() and value.isprintable()):
        raise ValueError("not a Stripe id")
    return value


def _webhook(request, account: stripe_api.StripeAccount):
    try:
        event = stripe_api.event_construct(
            account=account,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature"),
        )
        event_id, event_type, obj = _stripe_id(event["id"]), _stripe_id(event["type"]), event["data"]["object"]
        _stripe_id(obj["id"])  # every event the portal handles is about an object it fetches again by id
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError, RecursionError) as exc:
        logger.warning("Stripe webhook for %s refused: %s", account, type(exc).__name__)
        return _error(400, "invalid_event", "Invalid signature or payload.")
    try:
        outcome = webhooks.event_process(account=account, event_id=event_id, event_type=event_type, obj=obj)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return _error(503, "stripe_unavailable", "Stripe could not be asked about this event now; retry later.")
    return JsonResponse({"received": True, "outcome": outcome})
