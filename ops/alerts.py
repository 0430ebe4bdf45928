"""Low-balance alerts: noticing a crossing, and the settings that ask for them.

A balance *crosses* its account's threshold T when one debit takes it from
T or more to below T. Each crossing makes one BalanceAlert with one email
delivery and, when the account set a webhook URL, one webhook delivery.
Further debits while below T cross nothing; a credit that brings the balance
back to T or more arms it again, so the next debit below T is a new crossing.

Crossings are derived from the balance before and after each debit, which
billing.ledger computes under the account's row lock, inside the transaction
that writes the debit: two concurrent debits queue on that lock and exactly
one of them sees "before >= T > after". The alert rows commit or roll back
with the debit; the email and the HTTP request run later, in tasks queued by
transaction.on_commit (and found again by the sweep if that queueing is lost).
"""

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, Organization
from portal import db

from .models import AlertDelivery, AlertSettings, BalanceAlert

EVENT_TYPE = "billing.balance_low"


@dataclass(frozen=True)
class Drop:
    """One account's balance going down in one transaction: `before`, then the balance after each debit."""

    organization_id: int | None
    agency_id: int | None
    before: int
    steps: Sequence[tuple[str, int]]  # (ledger reference, balance after), in posting order


def threshold_join(*, owner: str, alias: str) -> tuple[str, str]:
    """SQL that reads an account's threshold in the query that locks its row: (column, LEFT JOIN clause).

    `owner` is "organization" or "agency"; `alias` names that account's table in the query.
    The column is NULL for an account without a threshold.
    """
    return (f"s.{db.column(AlertSettings, 'threshold')}",
            f"LEFT JOIN {db.table(AlertSettings)} s ON s.{db.column(AlertSettings, owner)} = {alias}.id")


def _thresholds(org_ids, agency_ids) -> dict[tuple[str, int], int]:
    """The threshold of each named account that has one, in one query (plain SQL: the usage sync runs it)."""
    org_ids, agency_ids = sorted(org_ids), sorted(agency_ids)
    owners = []
    params: list = []
    if org_ids:
        owners.append(f"{db.column(AlertSettings, 'organization')} IN ({db.placeholders(len(org_ids))})")
        params += org_ids
    if agency_ids:
        owners.append(f"{db.column(AlertSettings, 'agency')} IN ({db.placeholders(len(agency_ids))})")
        params += agency_ids
    with db.hot_cursor() as cursor:
        cursor.execute(
            f"SELECT {db.column(AlertSettings, 'organization')}, {db.column(AlertSettings, 'agency')}, "
            f"{db.column(AlertSettings, 'threshold')} FROM {db.table(AlertSettings)} "
            f"WHERE {db.column(AlertSettings, 'threshold')} IS NOT NULL AND ({' OR '.join(owners)})",
            params,
        )
        rows = cursor.fetchall()
    return {(("organization", org) if org is not None else ("agency", agency)): threshold
            for org, agency, threshold in rows}


def _crossing(drop: Drop, threshold: int) -> tuple[str, int, int] | None:
    """(reference, balance before, balance after) of the step that took the balance from at or
    above `threshold` to below it, if one did."""
    previous = drop.before
    for reference, after in drop.steps:
        if previous >= threshold > after:
            return reference, previous, after
        previous = after
    return None


def drops_check(drops: list[Drop]) -> list[BalanceAlert]:
    """Record an alert for each drop that crosses its account's threshold; deliveries are queued on commit.

    Call inside the transaction that posts the debits, with the accounts locked (billing.ledger does).
    """
    drops = [d for d in drops if d.steps and d.steps[-1][1] < d.before]
    if not drops:
        return []
    thresholds = _thresholds({d.organization_id for d in drops if d.organization_id is not None},
                             {d.agency_id for d in drops if d.agency_id is not None})
    return _alerts_record(drops, thresholds)


def _alerts_record(drops: list[Drop], thresholds: dict) -> list[BalanceAlert]:
    alerts = []
    for drop in drops:
        key = ("organization", drop.organization_id) if drop.organization_id is not None else ("agency", drop.agency_id)
        threshold = thresholds.get(key)
        crossed = _crossing(drop, threshold) if threshold is not None else None
        if threshold is not None and crossed is not None:
            alerts.append(_alert_record(drop, threshold, *crossed))
    return alerts


def paired_drops_check(*, locked, debits, postings) -> list[BalanceAlert]:
    """drops_check for billing.ledger.paired_debits_post: the agency and every client it debited.

    The usage sync's hot path: the thresholds came with the locks (billing.ledger.accounts_lock),
    and the steps are only worked out for accounts that have one.
    """
    thresholds = {("organization", pk): limit for pk, limit in locked.organization_thresholds.items()
                  if limit is not None}
    if locked.agency_threshold is not None:
        thresholds[("agency", locked.agency_id)] = locked.agency_threshold
    if not debits or not thresholds:
        return []
    steps: dict[int, list] = {}
    for debit, posting in zip(debits, postings):
        if ("organization", debit.organization_id) in thresholds:
            steps.setdefault(debit.organization_id, []).append((debit.reference, posting.organization_balance_after))
    drops = [Drop(org_id, None, locked.organization_balances[org_id], org_steps) for org_id, org_steps in steps.items()]
    if ("agency", locked.agency_id) in thresholds:
        drops.append(Drop(None, locked.agency_id, locked.agency_balance,
                          [(d.reference, p.agency_balance_after) for d, p in zip(debits, postings)]))
    return _alerts_record(drops, thresholds)


def _payload(alert: BalanceAlert, name: str, event_id: str) -> str:
    owner = ("organization", alert.organization_id) if alert.organization_id else ("agency", alert.agency_id)
    return json.dumps({
        "id": event_id,
        "type": EVENT_TYPE,
        "created_at": alert.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "account_type": owner[0], "account_id": owner[1], "name": name,
            "balance": alert.balance_after, "threshold": alert.threshold, "unit": alert.unit,
            "caused_by": alert.reference,
        },
    }, separators=(",", ":"))


def _alert_record(drop: Drop, threshold: int, reference: str, before: int, after: int) -> BalanceAlert:
    owner = {"organization_id": drop.organization_id} if drop.organization_id is not None \
        else {"agency_id": drop.agency_id}
    alert = BalanceAlert.objects.create(**owner, threshold=threshold, balance_before=before, balance_after=after,
                                        reference=reference[:200], created_at=timezone.now())
    deliveries = [AlertDelivery(alert=alert, channel=AlertDelivery.Channel.EMAIL)]
    settings_row = AlertSettings.objects.filter(**owner).only("webhook_url").first()
    if settings_row is not None and settings_row.webhook_url:
        if drop.organization_id is not None:
            name = Organization.objects.values_list("name", flat=True).get(pk=drop.organization_id)
        else:
            assert drop.agency_id is not None  # a drop names an organization or an agency
            name = Agency.objects.values_list("company_name", flat=True).get(pk=drop.agency_id)
        event_id = f"evt_{uuid.uuid4().hex}"
        deliveries.append(AlertDelivery(alert=alert, channel=AlertDelivery.Channel.WEBHOOK, event_id=event_id,
                                        payload=_payload(alert, name, event_id)))
    for delivery in deliveries:
        delivery.save()
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return alert


def _enqueue(delivery_ids: list[int]) -> None:
    from .tasks import alert_deliver  # tasks import the ingest, which imports the ledger, which imports this

    for delivery_id in delivery_ids:
        alert_deliver.enqueue(delivery_id)


# --- Settings ------------------------------------------------------------------------

def _owner(*, organization: Organization | None, agency: Agency | None) -> dict:
    if (organization is None) == (agency is None):
        raise ValueError("Alert settings belong to exactly one organization or agency.")
    return {"organization": organization} if organization is not None else {"agency": agency}


def alert_settings_get(*, organization: Organization | None = None, agency: Agency | None = None) -> AlertSettings:
    """The account's settings (an unsaved, empty row when it has none yet)."""
    owner = _owner(organization=organization, agency=agency)
    return AlertSettings.objects.filter(**owner).first() or AlertSettings(**owner)


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def alert_settings_save(*, threshold: int | None, webhook_url: str, organization: Organization | None = None,
                        agency: Agency | None = None) -> str | None:
    """Save threshold and webhook URL. Returns a new signing secret when one was made (to show once):
    a webhook URL always has one."""
    owner = _owner(organization=organization, agency=agency)
    with transaction.atomic():
        row, _ = AlertSettings.objects.select_for_update().get_or_create(**owner)
        row.threshold, row.webhook_url = threshold, webhook_url
        secret = None
        if webhook_url and not row.signing_secret:
            secret = row.signing_secret = new_signing_secret()
            row.secret_created_at = timezone.now()
        row.save()
    return secret


def signing_secret_roll(*, organization: Organization | None = None, agency: Agency | None = None) -> str:
    """Replace the signing secret; deliveries from now on (retries included) are signed with the new one."""
    owner = _owner(organization=organization, agency=agency)
    with transaction.atomic():
        row, _ = AlertSettings.objects.select_for_update().get_or_create(**owner)
        row.signing_secret = secret = new_signing_secret()
        row.secret_created_at = timezone.now()
        row.save(update_fields=["signing_secret", "secret_created_at", "updated_at"])
    return secret
