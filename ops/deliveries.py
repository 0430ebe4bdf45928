"""Delivering alerts: the branded email and the signed `billing.balance_low` webhook, retried with backoff.

A delivery is attempted by the task worker, outside any transaction. Each
attempt first claims the delivery with one conditional UPDATE (pending and
due, then pushed CLAIM_SECONDS into the future), so however many workers or
duplicate tasks run, one attempt at a time goes out. Success marks it
delivered; a failure schedules the next attempt with exponential backoff,
until ALERT_DELIVERY_ATTEMPTS tries have failed. A worker that dies mid-try
leaves the claim to expire and the sweep tries again: delivery is
at-least-once, and receivers tell repeats apart by the event id.

The webhook body is frozen when the alert is made; the signature is made at
each try with the account's current secret (so a rolled secret applies to
retries): header `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
"""

import hashlib
import hmac
import logging
from datetime import timedelta
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from agencies import tenancy
from agencies.models import Agency, Organization, User
from core import outbound
from core.contrast import readable_text_on

from . import notices
from .alerts import event_type
from .models import AlertDelivery, AlertSettings

logger = logging.getLogger(__name__)
Status = AlertDelivery.Status
MAX_ANSWER_BYTES = 64 * 1024


def retry_delay(attempt: int) -> timedelta:
    """Wait before try number attempt + 1: RETRY_BASE_SECONDS doubling per try, capped at RETRY_MAX_SECONDS."""
    seconds = settings.RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, settings.RETRY_MAX_SECONDS))


def claim_seconds() -> int:
    """How long one try may hold a delivery: well past its timeout."""
    return 2 * settings.ALERT_WEBHOOK_TIMEOUT_SECONDS + 60


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Failed(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, final: bool = False):
        super().__init__(message)
        self.status_code, self.final = status_code, final


def delivery_attempt(*, delivery_id: int) -> str | None:
    """Try one delivery now if it is pending and due; the status it ends in, or None if not ours to try."""
    now = timezone.now()
    claimed = AlertDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + timedelta(seconds=claim_seconds()),
        attempts=F("attempts") + 1,
        last_attempt_at=now,
    )
    if not claimed:
        return None
    delivery = AlertDelivery.objects.select_related("alert").get(pk=delivery_id)
    try:
        target = _webhook_send(delivery) if delivery.channel == AlertDelivery.Channel.WEBHOOK else _email_send(delivery)
    except Failed as failure:
        return _failed(delivery, failure)
    except Exception:  # a bug or a broken mail server: retry like any failure, keep the trace in the log
        logger.exception("Alert delivery %s failed", delivery_id)
        return _failed(delivery, Failed("internal error while delivering"))
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.DELIVERED,
        delivered_at=timezone.now(),
        target=target[:500],
        last_error="",
    )
    return Status.DELIVERED


def _failed(delivery: AlertDelivery, failure: Failed) -> str:
    final = failure.final or delivery.attempts >= settings.ALERT_DELIVERY_ATTEMPTS
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.FAILED if final else Status.PENDING,
        next_attempt_at=timezone.now() + retry_delay(delivery.attempts),
        last_status_code=failure.status_code,
        last_error=str(failure)[:300],
    )
    logger.info("Alert delivery %s (%s) try %s failed: %s", delivery.pk, delivery.channel, delivery.attempts, failure)
    return Status.FAILED if final else Status.PENDING


def _owner_settings(delivery: AlertDelivery) -> AlertSettings | None:
    holder = delivery.alert or delivery  # a test event names its owner itself
    owner = {"organization_id": holder.organization_id} if holder.organization_id else {"agency_id": holder.agency_id}
    return AlertSettings.objects.filter(**owner).first()


def _webhook_send(delivery: AlertDelivery) -> str:
    row = _owner_settings(delivery)
    if row is None or not row.webhook_url or not row.signing_secret:
        raise Failed("the webhook URL was removed", final=True)
    body = delivery.payload.encode()
    AlertDelivery.objects.filter(pk=delivery.pk).update(target=row.webhook_url[:500])
    try:
        answer = outbound.request(
            "POST",
            row.webhook_url,
            body=body,
            timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=MAX_ANSWER_BYTES,
            headers={
                "Content-Type": "application/json",
                "X-Webhook-Event": event_type(delivery.alert) if delivery.alert else notices.TEST_EVENT_TYPE,
                "X-Webhook-Id": delivery.event_id,
                "X-Webhook-Signature": signature(row.signing_secret, body),
            },
        )
    except outbound.OutboundError as error:
        raise Failed(str(error)) from None
    if not 200 <= answer.status < 300:
        raise Failed(f"the receiver answered HTTP {answer.status}", status_code=answer.status)
    AlertDelivery.objects.filter(pk=delivery.pk).update(last_status_code=answer.status)
    return row.webhook_url


# --- Email ---------------------------------------------------------------------------


def _recipients(alert) -> list[str]:
    if alert.organization_id:
        users = User.objects.filter(organization_id=alert.organization_id, is_active=True)
    else:
        users = User.objects.filter(managed_agency_id=alert.agency_id, agency__isnull=True, is_active=True)
    return sorted(set(users.values_list("email", flat=True)))


def _email_context(alert) -> dict:
    """Brand and links: the agency's portal for a client; the platform's console for an agency."""
    if alert.organization_id:
        organization = Organization.objects.select_related("agency").get(pk=alert.organization_id)
        agency = organization.agency
        brand = {"name": agency.company_name, "color": agency.primary_color, "logo_url": agency.logo_url}
        link = tenancy.portal_url(agency, reverse("billing:buy", urlconf=settings.PORTAL_URLCONF))
        account = organization.name
        balance_now = organization.credits_balance
    else:
        agency = Agency.objects.get(pk=alert.agency_id)
        brand = {"name": settings.PLATFORM_NAME, "color": "#1F2937", "logo_url": ""}
        link = tenancy.console_url(reverse("console_billing:minutes", urlconf=settings.ROOT_URLCONF))
        account = agency.company_name
        balance_now = agency.minutes_balance
    brand["on_color"] = readable_text_on(brand["color"])
    # The balance at the crossing is history by the time the email goes out: say both.
    return {
        "alert": alert,
        "brand": brand,
        "link": link,
        "account": account,
        "unit": alert.unit,
        "balance_now": balance_now,
    }


def _notice_send(delivery: AlertDelivery) -> str:
    recipients = sorted(
        set(
            User.objects.filter(managed_agency_id=delivery.agency_id, agency__isnull=True, is_active=True).values_list(
                "email", flat=True
            )
        )
    )
    if not recipients:
        raise Failed("no active users to email", final=True)
    subject, text = notices.notice_email(delivery)
    sender = formataddr((settings.PLATFORM_NAME, settings.DEFAULT_FROM_EMAIL))
    with get_connection() as connection:
        for address in recipients:
            EmailMultiAlternatives(subject, text, sender, [address], connection=connection).send()
    return f"{len(recipients)} recipient{'s' if len(recipients) != 1 else ''}"


def _email_send(delivery: AlertDelivery) -> str:
    if delivery.alert is None:
        return _notice_send(delivery)
    alert = delivery.alert
    recipients = _recipients(alert)
    if not recipients:
        raise Failed("no active users to email", final=True)
    context = _email_context(alert)
    name = "minutes_exhausted" if alert.kind == "exhausted" else "balance_low"
    subject = render_to_string(f"ops/email/{name}_subject.txt", context).strip()
    text = render_to_string(f"ops/email/{name}.txt", context)
    html = render_to_string(f"ops/email/{name}.html", context)
    sender = formataddr((context["brand"]["name"], settings.DEFAULT_FROM_EMAIL))
    # One message per person: the members of an organization do not see each other's addresses.
    with get_connection() as connection:
        for address in recipients:
            message = EmailMultiAlternatives(subject, text, sender, [address], connection=connection)
            message.attach_alternative(html, "text/html")
            message.send()
    return f"{len(recipients)} recipient{'s' if len(recipients) != 1 else ''}"
