"""Reconciliation: nothing Stripe knows is missed when a webhook is lost.

Webhooks get lost (the portal down longer than Stripe retries, a deleted
endpoint, a wrong signing secret). So, every STRIPE_RECONCILE_MINUTES, for
each Stripe account the portal takes payments on (every agency with Stripe set
up, connected or with its own key, and the platform's), the portal:

- lists the account's events of the handled types from the last
  RECONCILE_DAYS days and processes each it has no record of through the very
  same webhooks.event_process (re-fetch, apply, record the event id in one
  transaction: a webhook arriving at the same moment, or later, changes nothing);
- re-fetches the Checkout Session of each purchase still awaiting payment past
  the session's lifetime and settles it through billing.checkout (fulfilled when
  paid, expired when expired, failed when its delayed payment failed), for
  sessions whose events are older than the window.

An event about a payment that is not the portal's (the agency sells other
things on the same account) is recorded like any other but not counted as
recovered. Each account's run is recorded (StripeReconciliation); one whose Stripe cannot
be asked is recorded with the reason and the others go on.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from agencies.models import Agency

from . import accounts, checkout, stripe_api, webhooks
from .models import Purchase, StripeEvent, StripeReconciliation
from .stripe_api import StripeAccount

logger = logging.getLogger(__name__)
Status = Purchase.Status

RECONCILE_DAYS = 3
# Stripe's Checkout Sessions expire 24 hours after creation unless told otherwise (the portal never is).
SESSION_LIFETIME = timedelta(hours=24)
SESSIONS_PER_RUN = 200
FAILED_INTENT = {"requires_payment_method", "canceled"}


@dataclass
class Outcome:
    account: StripeAccount
    events_recovered: int = 0
    sessions_settled: int = 0
    problem: str = ""


def reconcile_accounts() -> Iterator[StripeAccount]:
    """The platform's account (when configured), then every agency's that is set up."""
    platform = accounts.platform_account()
    if platform.configured:
        yield platform
    for agency in Agency.objects.order_by("pk").iterator():
        account = accounts.agency_account(agency)
        if account.configured:
            yield account


def stripe_reconcile(*, now: datetime | None = None) -> list[Outcome]:
    """Reconcile every account; one failing does not stop the others."""
    return [account_reconcile(account=account, now=now) for account in reconcile_accounts()]


def account_reconcile(*, account: StripeAccount, now: datetime | None = None) -> Outcome:
    """Recover the account's missed events, settle its stale sessions, and record the run."""
    now = now or timezone.now()
    outcome = Outcome(account=account)
    try:
        _events_recover(outcome, since=now - timedelta(days=RECONCILE_DAYS))
        _sessions_settle(outcome, now=now)
    except stripe_api.StripeUnavailable:
        outcome.problem = "Stripe could not be reached; the next run tries again."
    except stripe_api.StripeRejected as exc:
        outcome.problem = {
            "auth": "Stripe refused the account's API key.",
            "permission": "The account's API key may not list events or read Checkout Sessions.",
        }.get(exc.kind, f"Stripe refused a request ({exc.kind}).")
    except Exception:  # a bug must not stop the other accounts' reconciliation
        logger.exception("Stripe reconciliation of %s failed", account)
        outcome.problem = "The reconciliation failed on the portal's side; the error is in the logs."
    if outcome.problem:
        logger.warning("Stripe reconciliation of %s did not finish: %s", account, outcome.problem)
    _record(outcome, now=now)
    return outcome


def _events_recover(outcome: Outcome, *, since: datetime) -> None:
    account = outcome.account
    events = stripe_api.events_list(account=account, types=list(webhooks.HANDLERS), created_gte=int(since.timestamp()))
    known = set(
        StripeEvent.objects.filter(agency=account.agency_id, event_id__in=[e.id for e in events]).values_list(
            "event_id", flat=True
        )
    )
    for event in sorted(events, key=lambda e: (e.created, e.id)):  # oldest first, as they happened
        if event.id in known:
            continue
        result = webhooks.event_process(
            account=account, event_id=event.id, event_type=event.type, obj=event.data.object
        )
        if result.startswith("duplicate"):
            continue  # the webhook got there first
        if result.startswith("ignored"):  # recorded, but not about this portal's purchases: nothing was missed
            logger.info("Stripe event %s (%s) for %s seen by reconciliation: %s", event.id, event.type, account, result)
            continue
        outcome.events_recovered += 1
        logger.warning(
            "Stripe event %s (%s) for %s recovered by reconciliation: %s", event.id, event.type, account, result
        )


def _sessions_settle(outcome: Outcome, *, now: datetime) -> None:
    account = outcome.account
    stale = (
        accounts.purchases_on(account)
        .filter(
            kind=Purchase.Kind.CHECKOUT,  # top-ups have no session; their PaymentIntent events settle them
            status__in=[Status.PENDING, Status.PROCESSING],
            created_at__lte=now - SESSION_LIFETIME,
        )
        .order_by("created_at", "pk")[:SESSIONS_PER_RUN]
    )
    for purchase in stale:
        try:
            session = stripe_api.session_retrieve(account=account, session_id=str(purchase.stripe_session_id))
        except stripe_api.StripeRejected as exc:
            if exc.kind != "missing":
                raise
            logger.warning("Purchase %s: its Checkout Session is not in %s", purchase.pk, account)
            continue
        settled = _session_settle(account, purchase, session, now=now)
        if settled is not None and settled.status != purchase.status:
            outcome.sessions_settled += 1
            logger.warning(
                "Purchase %s on %s settled by reconciliation: %s -> %s",
                purchase.pk,
                account,
                purchase.status,
                settled.status,
            )


def _session_settle(account: StripeAccount, purchase: Purchase, session, *, now: datetime) -> Purchase | None:
    if session.payment_status == "paid":
        return checkout.purchase_fulfil(account=account, session=session)
    if session.status == "expired":
        return checkout.purchase_expire(account=account, session=session)
    if session.status == "complete" and session.payment_intent:
        intent = stripe_api.payment_intent_retrieve(account=account, payment_intent_id=session.payment_intent)
        if intent.status in FAILED_INTENT:
            return checkout.purchase_fail(account=account, session=session)
    return None  # still open before its expiry, or a delayed payment still on its way


def _records(agency_id: int | None) -> QuerySet[StripeReconciliation]:
    if agency_id is None:
        return StripeReconciliation.objects.filter(agency__isnull=True)
    return StripeReconciliation.objects.filter(agency_id=agency_id)


def _record(outcome: Outcome, *, now: datetime) -> None:
    """Add the run to the account's record (created on its first run)."""
    agency_id = outcome.account.agency_id
    changes = {
        "attempted_at": now,
        "problem": outcome.problem[:300],
        "events_recovered_last": outcome.events_recovered,
        "sessions_settled_last": outcome.sessions_settled,
        "events_recovered_total": F("events_recovered_total") + outcome.events_recovered,
    }
    if not outcome.problem:
        changes["reconciled_at"] = now
    with transaction.atomic():
        if _records(agency_id).update(**changes):
            return
        try:
            with transaction.atomic():  # two first runs at once: one creates, the other updates
                StripeReconciliation.objects.create(
                    agency_id=agency_id,
                    attempted_at=now,
                    reconciled_at=None if outcome.problem else now,
                    events_recovered_last=outcome.events_recovered,
                    events_recovered_total=outcome.events_recovered,
                    sessions_settled_last=outcome.sessions_settled,
                    problem=outcome.problem[:300],
                )
        except IntegrityError:
            _records(agency_id).update(**changes)
