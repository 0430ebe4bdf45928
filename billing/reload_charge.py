"""Charging queued auto-reloads, in the worker (billing.tasks), never in the request that debited.

Each attempt goes: claimed (in a transaction: still on? balance still low? within the hourly
limit and the monthly cap?) → charged off-session through billing.topup.topup_charge with the
idempotency key `auto-reload-<attempt id>` (outside any transaction) → its outcome recorded
(in a transaction), then the owner emailed. A worker that dies mid-charge leaves the attempt
PROCESSING; after STALE it is charged again with the same key, which Stripe and topup_charge
answer with the first outcome, so it is never charged twice.

Rules people rely on: at most one automatic charge per account per rolling hour (a later attempt
waits, it is not dropped); never above the monthly cap (what cards were charged this calendar
month, UTC, VAT included); 3 declines in a row pause it, and so does at once a card reported
lost or stolen or a charge refused as fraudulent; the owner hears of the first decline, the
pause, the cap (once a month, however many reloads it stops), and any charge the bank wants
confirmed (with the link). A skip for the cap is recorded each time; the reload restarts when
the cap is raised, or on the 1st of the next month if the balance is still low (the sweep).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, Organization

from . import reload_emails, stripe_api, topup
from .auto_reload import charged_this_month, month_start
from .models import AutoReload, AutoReloadAttempt
from .reload_owner import account_of

logger = logging.getLogger(__name__)
Status = AutoReloadAttempt.Status

HOUR = timedelta(hours=1)
STALE = timedelta(minutes=10)  # PROCESSING this long: its worker died; charge again under the same key
RETRY_UNAVAILABLE = timedelta(minutes=5)  # Stripe unreachable: try again then
PAUSE_AFTER_DECLINES = 3
PAUSE_AT_ONCE = {"lost_card", "stolen_card", "fraudulent", "pickup_card", "restricted_card"}
OUTCOMES = {
    "succeeded": Status.SUCCEEDED,
    "processing": Status.PENDING,
    "declined": Status.DECLINED,
    "authentication_required": Status.AUTHENTICATION_REQUIRED,
    "failed": Status.FAILED,
}


@dataclass(frozen=True)
class Charge:
    attempt_id: int
    agency: Agency
    organization: Organization | None
    amount_cents: int
    currency: str
    payment_method_id: str
    description: str
    refused: topup.TopupRefused | None = None  # the quote was refused: record it, charge nothing


def attempts_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Attempts to process now: queued and due, or PROCESSING so long that their worker must have died."""
    now = now or timezone.now()
    queued = AutoReloadAttempt.objects.filter(status=Status.QUEUED, run_after__lte=now).order_by("run_after")
    stale = AutoReloadAttempt.objects.filter(status=Status.PROCESSING, charged_at__lt=now - STALE)
    return list(queued.values_list("pk", flat=True)[:limit]) + list(stale.values_list("pk", flat=True)[:limit])


def _balance(setting: AutoReload) -> int:
    if setting.organization_id is not None:
        return Organization.objects.values_list("credits_balance", flat=True).get(pk=setting.organization_id)
    assert setting.agency_id is not None
    return Agency.objects.values_list("minutes_balance", flat=True).get(pk=setting.agency_id)


def _close(attempt: AutoReloadAttempt, status: str, reason: str, now: datetime) -> str:
    attempt.status, attempt.reason, attempt.finished_at = status, reason[:300], now
    attempt.save(update_fields=["status", "reason", "finished_at"])
    return status


def _claim(attempt_id: int, now: datetime) -> tuple[str, Charge | None, list]:
    """Decide in one transaction; (status, the charge to make or None, emails to send after commit)."""
    emails: list = []
    with transaction.atomic():
        attempt = (
            AutoReloadAttempt.objects.select_for_update(of=("self",))
            .select_related("auto_reload__organization__agency", "auto_reload__agency")
            .filter(pk=attempt_id)
            .first()
        )
        if attempt is None:
            return "missing", None, emails
        if attempt.status == Status.PROCESSING and attempt.charged_at and attempt.charged_at >= now - STALE:
            return attempt.status, None, emails  # another worker is charging it
        if attempt.status not in AutoReloadAttempt.OPEN:
            return attempt.status, None, emails
        setting = attempt.auto_reload
        refused: topup.TopupRefused | None = None
        if attempt.status == Status.QUEUED:
            if not setting.enabled or setting.paused:
                return _close(attempt, Status.SKIPPED_DISABLED, "Auto-reload was off or paused.", now), None, emails
            balance = _balance(setting)
            if setting.threshold is not None and balance >= setting.threshold:
                reason = f"The balance recovered to {balance} (threshold {setting.threshold})."
                return _close(attempt, Status.SKIPPED_RECOVERED, reason, now), None, emails
            last = (
                AutoReloadAttempt.objects.filter(auto_reload=setting, charged_at__gt=now - HOUR)
                .exclude(pk=attempt.pk)
                .order_by("-charged_at")
                .values_list("charged_at", flat=True)
                .first()
            )
            if last is not None:  # the hourly limit: wait, do not drop
                attempt.run_after = last + HOUR
                attempt.save(update_fields=["run_after"])
                return "waiting", None, emails
            agency, organization = account_of(setting)
            assert setting.amount_cents is not None and setting.monthly_cap_cents is not None  # enabled (constraint)
            try:
                quote = topup.topup_quote(
                    agency=agency,
                    organization=organization,
                    amount_cents=setting.amount_cents,
                    currency=setting.currency,
                )
            except topup.TopupRefused as exc:  # recorded like a failed charge: counted, told, paused at 3
                refused = exc
                quote = topup.TopupQuote(units=0, amount_cents=0, charged_cents=0, currency=setting.currency)
            spent = charged_this_month(setting=setting, now=now)
            if refused is None and spent + quote.charged_cents > setting.monthly_cap_cents:
                attempt.amount_cents, attempt.currency = setting.amount_cents, setting.currency
                reason = (
                    f"{quote.charged_cents} more would take this month's automatic charges to "
                    f"{spent + quote.charged_cents}, above the monthly cap of {setting.monthly_cap_cents} "
                    f"({setting.currency})."
                )
                attempt.save(update_fields=["amount_cents", "currency"])
                told = AutoReloadAttempt.objects.filter(  # one cap email a month, however many skips
                    auto_reload=setting, status=Status.SKIPPED_CAP, finished_at__gte=month_start(now)
                ).exists()
                if not told:
                    emails.append((reload_emails.cap_reached, {"setting": setting, "attempt": attempt}))
                return _close(attempt, Status.SKIPPED_CAP, reason, now), None, emails
            unit = "credits" if organization is not None else "minutes"
            description = (
                f"Auto-reload: balance {attempt.balance} fell below {attempt.threshold}; reloading {quote.units} {unit}"
            )
            attempt.status, attempt.charged_at = Status.PROCESSING, now
            attempt.amount_cents, attempt.currency, attempt.charged_cents = (
                setting.amount_cents,
                setting.currency,
                quote.charged_cents,
            )
            attempt.reason, attempt.payment_method_id = description, setting.payment_method_id
            attempt.save(
                update_fields=[
                    "status",
                    "charged_at",
                    "amount_cents",
                    "currency",
                    "charged_cents",
                    "reason",
                    "payment_method_id",
                ]
            )
        else:  # PROCESSING past STALE: charge again with the same key; it answers the first charge's outcome
            agency, organization = account_of(setting)
            attempt.charged_at = now
            attempt.save(update_fields=["charged_at"])
        return (
            Status.PROCESSING,
            Charge(
                attempt.pk,
                agency,
                organization,
                int(attempt.amount_cents or 0),
                attempt.currency,
                attempt.payment_method_id,  # a retry charges what the first try did, under the same key
                attempt.reason,
                refused,
            ),
            emails,
        )


def _record(charge: Charge, outcome: topup.TopupOutcome | None, refused: topup.TopupRefused | None, now) -> tuple:
    emails: list = []
    with transaction.atomic():
        # The setting first, then the attempt: the order auto_reload_method_removed takes them in.
        setting_id = AutoReloadAttempt.objects.values_list("auto_reload_id", flat=True).get(pk=charge.attempt_id)
        setting = (
            AutoReload.objects.select_for_update(of=("self",))
            .select_related("organization__agency", "agency")
            .get(pk=setting_id)
        )
        attempt = AutoReloadAttempt.objects.select_for_update().get(pk=charge.attempt_id)
        if attempt.status != Status.PROCESSING:
            return attempt.status, emails  # recorded already
        if outcome is not None:
            status = OUTCOMES.get(outcome.status, Status.FAILED)
            attempt.purchase = outcome.purchase
            attempt.decline_code = outcome.decline_code[:100]
            attempt.authentication_url = outcome.authentication_url[:1000]
            if outcome.message:
                attempt.reason = outcome.message[:300]
        else:
            assert refused is not None
            status, attempt.decline_code, attempt.reason = Status.FAILED, refused.code[:100], str(refused)[:300]
        if status not in (Status.SUCCEEDED, Status.PENDING):
            attempt.charged_cents = 0  # nothing was charged: it does not count against the cap
        attempt.status, attempt.finished_at = status, now
        attempt.save()
        # Another try is armed whatever happened: if the balance is still low, the next debit queues one,
        # the hourly limit spacing them out and the decline count pausing a card that keeps failing.
        setting.armed = True
        if status in (Status.SUCCEEDED, Status.PENDING):
            setting.consecutive_declines = 0
        else:
            setting.consecutive_declines += 1
            code = attempt.decline_code
            if code in PAUSE_AT_ONCE:
                setting.paused_at, setting.paused_reason = now, f"the card was declined as {code.replace('_', ' ')}."
            elif setting.consecutive_declines >= PAUSE_AFTER_DECLINES:
                setting.paused_at = now
                setting.paused_reason = f"{setting.consecutive_declines} automatic charges in a row did not go through."
            if status == Status.AUTHENTICATION_REQUIRED and attempt.authentication_url:
                emails.append((reload_emails.authentication_required, {"setting": setting, "attempt": attempt}))
            elif setting.consecutive_declines == 1:  # the first of a run; the pause tells of the last
                emails.append((reload_emails.declined, {"setting": setting, "attempt": attempt}))
            if setting.paused_at is not None:
                emails.append((reload_emails.paused, {"setting": setting, "attempt": attempt}))
        setting.save()
        return status, emails


def _send(emails: list) -> None:
    for send, kwargs in emails:
        send(**kwargs)


def attempt_process(*, attempt_id: int, now: datetime | None = None) -> str:
    """Process one attempt; its status afterwards ("waiting": held back by the hourly limit, still queued)."""
    now = now or timezone.now()
    status, charge, emails = _claim(attempt_id, now)
    _send(emails)
    if charge is None:
        return status
    outcome, refused = None, charge.refused
    if refused is not None:
        status, emails = _record(charge, None, refused, timezone.now())
        _send(emails)
        return status
    try:
        outcome = topup.topup_charge(
            agency=charge.agency,
            organization=charge.organization,
            amount_cents=charge.amount_cents,
            currency=charge.currency,
            payment_method_id=charge.payment_method_id,
            idempotency_key=f"auto-reload-{charge.attempt_id}",
            kind="auto_reload",
            description=charge.description,
        )
    except topup.TopupRefused as exc:
        refused = exc
    except stripe_api.StripeUnavailable:
        # Not charged as far as we know: back in the queue (the same key later cannot charge twice).
        AutoReloadAttempt.objects.filter(pk=charge.attempt_id, status=Status.PROCESSING).update(
            status=Status.QUEUED, run_after=timezone.now() + RETRY_UNAVAILABLE, charged_at=None
        )
        logger.warning("auto-reload attempt %s: Stripe unreachable, queued again", charge.attempt_id)
        return Status.QUEUED
    status, emails = _record(charge, outcome, refused, timezone.now())
    _send(emails)
    return status
