"""Endpoints on the console host that Stripe calls."""

import logging

import stripe
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agencies.models import Agency

from . import accounts, stripe_api, webhooks

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request, slug):
    """Stripe events for one agency's account, signed with that agency's secret.

    400: bad or missing signature, unparseable body (nothing written).
    503: Stripe cannot be asked about the event right now; Stripe retries.
    200: processed, a duplicate, not ours, or a type we do not handle.
    """
    return _webhook(request, accounts.agency_account(get_object_or_404(Agency, slug=slug)))


@csrf_exempt
@require_POST
def platform_stripe_webhook(request):
    """Stripe events for the platform's own account (agencies buying minutes), signed with
    PLATFORM_STRIPE_WEBHOOK_SECRET. Answers as stripe_webhook does. "platform" is a reserved
    slug (agencies.validators), so no agency's URL can be this one."""
    return _webhook(request, accounts.platform_account())


def _webhook(request, account: stripe_api.StripeAccount):
    try:
        event = stripe_api.event_construct(
            account=account, payload=request.body, signature=request.headers.get("Stripe-Signature"),
        )
        event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
        obj["id"]  # every event the portal handles is about an object it fetches again by id
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError) as exc:
        logger.warning("Stripe webhook for %s refused: %s", account, type(exc).__name__)
        return HttpResponseBadRequest("Invalid signature or payload.", content_type="text/plain")
    try:
        outcome = webhooks.event_process(account=account, event_id=event_id, event_type=event_type, obj=obj)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        return HttpResponse("Stripe could not be asked about this event now; retry later.",
                            status=503, content_type="text/plain")
    return JsonResponse({"received": True, "outcome": outcome})
