"""Agency notifications (a new client signed up, a client's purchase was paid) and webhook test events.

Nothing here runs in a webhook's or a sign-up's transaction: the lower layers
only write their own rows (the organization, the paid purchase), and the ops
sweep (ops.tasks, every OPS_SWEEP_SECONDS) turns the recent ones into email
deliveries to the agency's admins, then queues them like any alert delivery
(ops.deliveries: claimed, retried with backoff). Each cause is told once: a
delivery's (kind, channel, reference) is unique in the database, and rows are
inserted with ON CONFLICT DO NOTHING, so sweeps that race, or a purchase
fulfilled by the webhook and the success page at once, still make one email.
Only causes from the last WINDOW are looked at, so switching the feature on
does not mail the whole history.
"""

import json
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone

from agencies import tenancy
from agencies.audit import audit_record, changes_between, snapshot
from agencies.models import Agency, Organization, User
from billing.models import Purchase
from core.money import money_format

from .models import AlertDelivery, AlertSettings

Kind = AlertDelivery.Kind
WINDOW = timedelta(hours=48)
BATCH = 500
TEST_EVENT_TYPE = "webhook.test"


def notices_make(*, now: datetime | None = None) -> list[int]:
    """Make the email deliveries for recent sign-ups and paid purchases not told yet; the ids to queue."""
    now = now or timezone.now()
    since = now - WINDOW
    signups = (
        Organization.objects.filter(created_at__gte=since, agency__notify_client_signup=True)
        .exclude(Exists(_told(Kind.CLIENT_SIGNUP, "organization:")))
        .order_by("pk")
        .values_list("pk", "agency_id")[:BATCH]
    )
    paid = (
        Purchase.objects.filter(fulfilled_at__gte=since, organization__isnull=False, agency__notify_purchase=True)
        .exclude(Exists(_told(Kind.PURCHASE_PAID, "purchase:")))
        .order_by("pk")
        .values_list("pk", "agency_id")[:BATCH]
    )
    new = [_notice(Kind.CLIENT_SIGNUP, f"organization:{pk}", agency_id, now) for pk, agency_id in signups]
    new += [_notice(Kind.PURCHASE_PAID, f"purchase:{pk}", agency_id, now) for pk, agency_id in paid]
    if not new:
        return []
    # The unique constraint decides who makes a notice: a racing sweep's insert of the same one is a no-op.
    AlertDelivery.objects.bulk_create(new, ignore_conflicts=True)
    return list(
        AlertDelivery.objects.filter(
            kind__in=[Kind.CLIENT_SIGNUP, Kind.PURCHASE_PAID],
            reference__in=[d.reference for d in new],
            status=AlertDelivery.Status.PENDING,
            attempts=0,
        ).values_list("pk", flat=True)
    )


def _told(kind: str, prefix: str):
    """The notice of the outer row (its reference is prefix + its id), if made."""
    reference = Concat(Value(prefix), Cast(OuterRef("pk"), output_field=CharField()))
    return AlertDelivery.objects.filter(kind=kind, channel=AlertDelivery.Channel.EMAIL, reference=reference)


def _notice(kind: str, reference: str, agency_id: int, now: datetime) -> AlertDelivery:
    # Due at the sweep's own `now`, so the sweep that makes it queues it too.
    return AlertDelivery(
        kind=kind,
        channel=AlertDelivery.Channel.EMAIL,
        agency_id=agency_id,
        reference=reference,
        created_at=now,
        next_attempt_at=now,
    )


def notice_email(delivery: AlertDelivery) -> tuple[str, str]:
    """Subject and text of an agency notice."""
    _, pk = delivery.reference.split(":")
    if delivery.kind == Kind.CLIENT_SIGNUP:
        organization = Organization.objects.select_related("owner").get(pk=int(pk))
        owner = organization.owner.email if organization.owner else "no owner"
        subject = f"New client: {organization.name}"
        lines = [
            f"{organization.name} ({owner}) signed up on your portal on {organization.created_at:%Y-%m-%d %H:%M} UTC."
        ]
        link = reverse("ops_console:client", args=[organization.pk], urlconf=settings.ROOT_URLCONF)
    else:
        purchase = Purchase.objects.select_related("organization").get(pk=int(pk))
        assert purchase.organization is not None  # notices are made for client purchases only
        amount = money_format(purchase.amount_cents, purchase.currency)
        subject = f"{purchase.organization.name} bought {purchase.credits:,} credits ({amount})"
        lines = [
            f"{purchase.organization.name} paid {amount} for {purchase.credits:,} credits (purchase {purchase.reference})."
        ]
        link = reverse("console_billing:purchase", args=[purchase.pk], urlconf=settings.ROOT_URLCONF)
    lines += [
        "",
        f"See it in your console: {tenancy.console_url(link)}",
        "",
        "You can switch these emails off on the Alerts page.",
    ]
    return subject, "\n".join(lines) + "\n"


# --- Test events and retries ------------------------------------------------------------


def webhook_test_send(
    *, organization: Organization | None = None, agency: Agency | None = None
) -> AlertDelivery | None:
    """Queue a signed test event to the account's webhook URL; None when it has none."""
    owner = {"organization": organization} if organization is not None else {"agency": agency}
    account = organization or agency
    assert account is not None
    row = AlertSettings.objects.filter(**owner).only("webhook_url").first()
    if row is None or not row.webhook_url:
        return None
    event_id = f"evt_{uuid.uuid4().hex}"
    now = timezone.now()
    payload = {
        "id": event_id,
        "type": TEST_EVENT_TYPE,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "account_type": "organization" if organization is not None else "agency",
            "account_id": account.pk,
            "name": organization.name if organization is not None else agency.company_name,  # type: ignore[union-attr]
            "test": True,
        },
    }
    delivery = AlertDelivery.objects.create(
        **owner,
        kind=Kind.TEST,
        channel=AlertDelivery.Channel.WEBHOOK,
        event_id=event_id,
        payload=json.dumps(payload, separators=(",", ":")),
        created_at=now,
    )
    # The task queue is a table in the same database: the task is queued if and when the row commits.
    _enqueue([delivery.pk])
    return delivery


def delivery_retry(*, delivery: AlertDelivery) -> bool:
    """Make a failed or waiting delivery due now and queue it; False when delivered or a try is under way.

    Idempotent: the task queue holds one live task per delivery, and a try in
    progress (claimed within its claim time) is left alone.
    """
    from .deliveries import claim_seconds  # deliveries imports this module

    now = timezone.now()
    claim = timedelta(seconds=claim_seconds())
    changed = (
        AlertDelivery.objects.filter(
            pk=delivery.pk, status__in=[AlertDelivery.Status.PENDING, AlertDelivery.Status.FAILED]
        )
        # A claimed try pushes next_attempt_at exactly claim_seconds past its start (ops.deliveries).
        .exclude(next_attempt_at__gt=now, next_attempt_at=F("last_attempt_at") + claim)
        # attempts stay: a failed delivery that already used its tries gets this one more, no more.
        .update(status=AlertDelivery.Status.PENDING, next_attempt_at=now)
    )
    if changed:
        _enqueue([delivery.pk])
    return bool(changed)


def _enqueue(delivery_ids: list[int]) -> None:
    from .tasks import alert_deliver_queue  # the tasks module runs this one

    alert_deliver_queue(delivery_ids=delivery_ids)


def agency_notifications_save(
    *, agency: Agency, client_signup: bool, purchase: bool, actor: User | None = None
) -> None:
    """Which events email the agency's admins; the change is logged with who made it."""
    fields = ["notify_client_signup", "notify_purchase"]
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency.pk)
        before = snapshot(locked, fields)
        locked.notify_client_signup, locked.notify_purchase = client_signup, purchase
        locked.save(update_fields=fields)
        changes = changes_between(before, snapshot(locked, fields))
        if changes:
            audit_record(actor=actor, action="alerts.notifications", agency_id=agency.pk, obj=locked, changes=changes)
