"""Low-balance alerts: telling people about the crossings the ledger records, and the settings that ask for them.

billing.crossings records a BalanceCrossing row in the transaction of the
debit that takes a balance below its account's threshold (exactly one per
crossing, armed again by a top-up above it). This module takes each new
crossing once: crossings_deliver locks a batch with SELECT ... FOR UPDATE SKIP
LOCKED, makes one BalanceAlert with one email delivery and, when the account
set a webhook URL, one webhook delivery, and marks the crossing taken, all in
one transaction. Two workers running it at once take different crossings, and
a crossing is never taken twice. The sweep runs it every OPS_SWEEP_SECONDS
(ops.tasks), and a pull runs it after charging, so an alert goes out at most
about one sweep interval, plus the task queue, after the debit. The email and
the HTTP request run later still, in tasks queued when the taking commits.
"""

import json
import secrets
import uuid

from django.db import transaction
from django.utils import timezone

from agencies.audit import SECRET, audit_record, changes_between, snapshot
from agencies.models import Agency, Organization, User
from billing.models import BalanceCrossing

from .models import AlertDelivery, AlertSettings, BalanceAlert

EVENT_TYPE = "billing.balance_low"
EXHAUSTED_EVENT_TYPE = "billing.minutes_exhausted"


def event_type(alert: BalanceAlert) -> str:
    """The webhook event of an alert: a low balance, or an agency's calls refused for lack of minutes."""
    return EXHAUSTED_EVENT_TYPE if alert.kind == BalanceCrossing.Kind.EXHAUSTED else EVENT_TYPE


TAKE_BATCH = 500


def crossings_deliver(*, limit: int = TAKE_BATCH) -> list[BalanceAlert]:
    """Turn up to `limit` crossings not yet taken into alerts with their deliveries, each exactly once.

    The deliveries are queued when this commits (and found again by the sweep if that queueing is lost).
    """
    with transaction.atomic():
        taken = list(
            BalanceCrossing.objects.select_for_update(skip_locked=True)
            .filter(taken_at__isnull=True)
            .order_by("pk")[:limit]
        )
        if not taken:
            return []
        made = [_alert_record(crossing) for crossing in taken]
        BalanceCrossing.objects.filter(pk__in=[c.pk for c in taken]).update(taken_at=timezone.now())
        ids = [delivery_id for _, delivery_ids in made for delivery_id in delivery_ids]
        transaction.on_commit(lambda: _enqueue(ids))
    return [alert for alert, _ in made]


def _payload(alert: BalanceAlert, name: str, event_id: str) -> str:
    owner = ("organization", alert.organization_id) if alert.organization_id else ("agency", alert.agency_id)
    return json.dumps(
        {
            "id": event_id,
            "type": event_type(alert),
            "created_at": alert.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {
                "account_type": owner[0],
                "account_id": owner[1],
                "name": name,
                "balance": alert.balance_after,
                "threshold": alert.threshold,
                "unit": alert.unit,
                "caused_by": alert.reference,
            },
        },
        separators=(",", ":"),
    )


def _alert_record(crossing: BalanceCrossing) -> tuple[BalanceAlert, list[int]]:
    """The crossing's alert and the ids of its deliveries."""
    owner = (
        {"organization_id": crossing.organization_id}
        if crossing.organization_id is not None
        else {"agency_id": crossing.agency_id}
    )
    # created_at is the crossing's: the moment the debit happened, not when it was taken.
    alert = BalanceAlert.objects.create(
        **owner,
        kind=crossing.kind,
        threshold=crossing.threshold,
        balance_before=crossing.balance_before,
        balance_after=crossing.balance_after,
        reference=crossing.reference,
        created_at=crossing.created_at,
    )
    deliveries = [AlertDelivery(alert=alert, channel=AlertDelivery.Channel.EMAIL)]
    settings_row = AlertSettings.objects.filter(**owner).only("webhook_url").first()
    if settings_row is not None and settings_row.webhook_url:
        if crossing.organization_id is not None:
            name = Organization.objects.values_list("name", flat=True).get(pk=crossing.organization_id)
        else:
            assert crossing.agency_id is not None  # a crossing is an organization's or an agency's (a constraint)
            name = Agency.objects.values_list("company_name", flat=True).get(pk=crossing.agency_id)
        event_id = f"evt_{uuid.uuid4().hex}"
        deliveries.append(
            AlertDelivery(
                alert=alert,
                channel=AlertDelivery.Channel.WEBHOOK,
                event_id=event_id,
                payload=_payload(alert, name, event_id),
            )
        )
    for delivery in deliveries:
        delivery.save()
    return alert, [d.pk for d in deliveries]


def _enqueue(delivery_ids: list[int]) -> None:
    # Through the queue-once rule, like the sweep: a sweep running just after this commit queues no second try.
    from .tasks import alert_deliver_queue  # the tasks module runs this one

    alert_deliver_queue(delivery_ids=delivery_ids)


# --- Settings ------------------------------------------------------------------------


def _owner(*, organization: Organization | None, agency: Agency | None) -> dict:
    if (organization is None) == (agency is None):
        raise ValueError("Alert settings belong to exactly one organization or agency.")
    return {"organization": organization} if organization is not None else {"agency": agency}


def alert_settings_get(*, organization: Organization | None = None, agency: Agency | None = None) -> AlertSettings:
    """The account's settings (an unsaved, empty row when it has none yet); the threshold is alert_threshold_get's."""
    owner = _owner(organization=organization, agency=agency)
    return AlertSettings.objects.filter(**owner).first() or AlertSettings(**owner)


def alert_threshold_get(*, organization: Organization | None = None, agency: Agency | None = None) -> int | None:
    """The account's low-balance threshold (None: no alerts)."""
    _owner(organization=organization, agency=agency)
    account = organization or agency
    assert account is not None  # _owner refused neither
    return type(account).objects.values_list("low_balance_threshold", flat=True).get(pk=account.pk)


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def alert_settings_save(
    *,
    threshold: int | None,
    webhook_url: str,
    organization: Organization | None = None,
    agency: Agency | None = None,
    actor: User | None = None,
) -> str | None:
    """Save threshold and webhook URL. Returns a new signing secret when one was made (to show once):
    a webhook URL always has one.

    The threshold goes on the account's row, where the ledger reads it under its lock; the new one
    applies to the next debit.
    """
    owner = _owner(organization=organization, agency=agency)
    account = organization or agency
    assert account is not None  # _owner refused neither
    with transaction.atomic():
        old_threshold = type(account).objects.select_for_update().values_list("low_balance_threshold", flat=True)
        before_threshold = old_threshold.get(pk=account.pk)
        type(account).objects.filter(pk=account.pk).update(low_balance_threshold=threshold)
        row, _ = AlertSettings.objects.select_for_update().get_or_create(**owner)
        before = {"threshold": before_threshold, **snapshot(row, ["webhook_url", "signing_secret"])}
        row.webhook_url = webhook_url
        secret = None
        if webhook_url and not row.signing_secret:
            secret = row.signing_secret = new_signing_secret()
            row.secret_created_at = timezone.now()
        row.save()
        after = {"threshold": threshold, **snapshot(row, ["webhook_url", "signing_secret"])}
        _audit(
            actor, "alerts.change", row, organization, agency, changes_between(before, after, secret=["signing_secret"])
        )
    return secret


def _audit(
    actor: User | None,
    action: str,
    row: AlertSettings,
    organization: Organization | None,
    agency: Agency | None,
    changes: dict,
) -> None:
    if not changes:
        return
    audit_record(
        actor=actor,
        action=action,
        agency_id=organization.agency_id if organization is not None else agency.pk if agency is not None else None,
        organization_id=organization.pk if organization is not None else None,
        obj=row,
        object_repr=f"Alerts of {organization or agency}",
        changes=changes,
    )


def signing_secret_roll(
    *, organization: Organization | None = None, agency: Agency | None = None, actor: User | None = None
) -> str:
    """Replace the signing secret; deliveries from now on (retries included) are signed with the new one."""
    owner = _owner(organization=organization, agency=agency)
    with transaction.atomic():
        row, _ = AlertSettings.objects.select_for_update().get_or_create(**owner)
        row.signing_secret = secret = new_signing_secret()
        row.secret_created_at = timezone.now()
        row.save(update_fields=["signing_secret", "secret_created_at", "updated_at"])
        _audit(actor, "alerts.secret_roll", row, organization, agency, {"signing_secret": [SECRET, SECRET]})
    return secret
