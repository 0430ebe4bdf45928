"""Auto-reload settings: what an account agreed to be charged automatically, and who agreed.

The debit that takes a balance below the threshold queues one reload (billing.reload_queue);
the worker charges it (billing.reload_charge) within the hourly limit and the monthly cap.
Enabling it, or changing what it charges, records a consent (who, when, amount, cap), and
turning it on again clears a pause. The API (usage.api_reload) and the settings pages call
these services.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from agencies import roles
from agencies.audit import audit_record, changes_between, snapshot
from agencies.models import Agency, Organization

from . import payment_methods, reload_emails, topup
from .models import AutoReload, AutoReloadAttempt, AutoReloadConsent
from .reload_owner import account_of  # noqa: F401  (re-exported for callers)


class ReloadRefused(ValueError):
    """The change cannot be made as asked; nothing changed. `field` names the input at fault."""

    def __init__(self, field: str, message: str, *, code: str = "invalid_field"):
        super().__init__(message)
        self.field, self.code = field, code


def _owner(organization: Organization | None, agency: Agency | None) -> dict:
    if (organization is None) == (agency is None):
        raise ValueError("An auto-reload belongs to exactly one organization or agency.")
    return {"organization": organization} if organization is not None else {"agency": agency}


def account_currency(*, organization: Organization | None, agency: Agency | None) -> str:
    """A client pays in its agency's package currency; an agency pays the platform in the platform's."""
    if organization is None:
        return settings.PLATFORM_CURRENCY
    rate = topup.topup_rate(agency=organization.agency)  # the currency top-ups are charged in
    return rate[1] if rate else "EUR"


def min_amount_cents() -> int:
    return settings.TOPUP_MIN_CENTS


def auto_reload_get(*, organization: Organization | None = None, agency: Agency | None = None) -> AutoReload:
    """The account's auto-reload (unsaved and off when it has none yet)."""
    owner = _owner(organization, agency)
    return AutoReload.objects.filter(**owner).first() or AutoReload(**owner)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def charged_this_month(*, setting: AutoReload, now: datetime | None = None) -> int:
    """Minor units charged automatically this calendar month (UTC), VAT included, successful or under way."""
    if setting.pk is None:
        return 0
    start = month_start(now or timezone.now())
    total = AutoReloadAttempt.objects.filter(
        auto_reload=setting, status__in=AutoReloadAttempt.CHARGED, charged_at__gte=start
    ).aggregate(total=Sum("charged_cents"))["total"]
    return int(total or 0)


@dataclass(frozen=True)
class Overview:
    setting: AutoReload
    consent: AutoReloadConsent | None
    charged_this_month: int
    attempts: list[AutoReloadAttempt]


def auto_reload_overview(
    *, organization: Organization | None = None, agency: Agency | None = None, attempts: int = 10
) -> Overview:
    setting = auto_reload_get(organization=organization, agency=agency)
    if setting.pk is None:
        return Overview(setting, None, 0, [])
    return Overview(
        setting,
        setting.consents.first(),
        charged_this_month(setting=setting),
        list(setting.attempts.all()[:attempts]),
    )


def _int_at_least(field: str, value, minimum: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ReloadRefused(field, f"{field} must be {what}.")
    return value


AUDITED_FIELDS = ["enabled", "threshold", "amount_cents", "payment_method_id", "monthly_cap_cents"]


def auto_reload_update(
    *,
    organization: Organization | None = None,
    agency: Agency | None = None,
    changes: dict,
    by: str,
    user=None,
    method_ids: list[str] | None = None,
) -> AutoReload:
    """Change the fields in `changes` (enabled, threshold, amount_cents, payment_method_id, monthly_cap_cents).

    `by` names who asks (an email, or "API key <prefix>"); `method_ids` are the account's saved
    payment methods (None: not checked here). Enabling needs every field; enabling, or changing
    the amount, cap, method or threshold while enabled, records a consent. Turning it on clears a pause.
    Raises ReloadRefused (nothing changed).
    """
    roles.require_actor(user, agency="billing", organization="payment_methods")
    owner = _owner(organization, agency)
    allowed = {"enabled", "threshold", "amount_cents", "payment_method_id", "monthly_cap_cents"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"unknown auto-reload fields: {sorted(unknown)}")
    if "threshold" in changes and changes["threshold"] is not None:
        _int_at_least("threshold", changes["threshold"], 1, "a whole number of 1 or more")
    if "amount_cents" in changes and changes["amount_cents"] is not None:
        low = min_amount_cents()
        _int_at_least("amount", changes["amount_cents"], low, f"a whole number of minor units, at least {low}")
    if "monthly_cap_cents" in changes and changes["monthly_cap_cents"] is not None:
        _int_at_least("monthly_cap", changes["monthly_cap_cents"], 1, "a whole number of minor units")
    if "enabled" in changes and not isinstance(changes["enabled"], bool):
        raise ReloadRefused("enabled", "enabled must be true or false.")
    method = changes.get("payment_method_id")
    if method is not None:
        if not isinstance(method, str) or not method or len(method) > 255:
            raise ReloadRefused("payment_method_id", "payment_method_id must be a saved payment method's id.")
        if method_ids is not None and method not in method_ids:
            raise ReloadRefused("payment_method_id", "No such saved payment method.", code="payment_method_not_found")
    with transaction.atomic():
        setting = AutoReload.objects.select_for_update().filter(**owner).first() or AutoReload(**owner)
        was_enabled, was_paused = setting.enabled, setting.paused
        audit_before = snapshot(setting, AUDITED_FIELDS) if setting.pk else {}
        before = (setting.threshold, setting.amount_cents, setting.payment_method_id, setting.monthly_cap_cents)
        for name, value in changes.items():
            setattr(setting, name, "" if name == "payment_method_id" and value is None else value)
        if setting.enabled:
            for name, label in [
                ("threshold", "threshold"),
                ("amount_cents", "amount"),
                ("payment_method_id", "payment_method_id"),
                ("monthly_cap_cents", "monthly_cap"),
            ]:
                if getattr(setting, name) in (None, ""):
                    raise ReloadRefused(label, f"{label} is needed to turn auto-reload on.")
        if setting.amount_cents is not None and setting.monthly_cap_cents is not None:
            if setting.monthly_cap_cents < setting.amount_cents:
                raise ReloadRefused("monthly_cap", "monthly_cap must be at least the amount.")
        setting.currency = account_currency(organization=organization, agency=agency)
        after = (setting.threshold, setting.amount_cents, setting.payment_method_id, setting.monthly_cap_cents)
        turned_on = setting.enabled and (not was_enabled or (changes.get("enabled") is True and was_paused))
        if turned_on:
            setting.paused_at, setting.paused_reason, setting.consecutive_declines = None, "", 0
        if setting.enabled and (turned_on or after != before):
            setting.armed = True  # what was agreed to changed: the next debit below the threshold may reload
        setting.save()
        audit_changes = changes_between(audit_before, snapshot(setting, AUDITED_FIELDS))
        if audit_changes:
            audit_record(
                actor=user,
                action="auto_reload.change",
                agency_id=setting.agency_id or (organization.agency_id if organization is not None else None),
                organization_id=setting.organization_id,
                obj=setting,
                object_repr=f"Auto-reload of {organization or agency}" + ("" if user is not None else f" ({by})"),
                changes=audit_changes,
            )
        if setting.enabled and (turned_on or after != before):
            assert setting.threshold and setting.amount_cents and setting.monthly_cap_cents  # checked above
            AutoReloadConsent.objects.create(
                auto_reload=setting,
                user=user,
                by=by[:254],
                threshold=setting.threshold,
                amount_cents=setting.amount_cents,
                monthly_cap_cents=setting.monthly_cap_cents,
                currency=setting.currency,
                payment_method_id=setting.payment_method_id,
            )
    return setting


def auto_reload_method_removed(
    *, organization: Organization | None = None, agency: Agency | None = None, payment_method_id: str
) -> bool:
    """A saved payment method was detached: an auto-reload charging it is turned off and its owner told.

    True when one was turned off. Call outside any transaction that may roll back (it emails after commit).
    """
    owner = _owner(organization, agency)
    with transaction.atomic():
        turned_off = AutoReload.objects.filter(**owner, enabled=True, payment_method_id=payment_method_id).update(
            enabled=False, payment_method_id="", updated_at=timezone.now()
        )
        if turned_off:
            setting = AutoReload.objects.get(**owner)
            AutoReloadAttempt.objects.filter(auto_reload=setting, status=AutoReloadAttempt.Status.QUEUED).update(
                status=AutoReloadAttempt.Status.SKIPPED_DISABLED,
                reason="Its payment method was removed.",
                finished_at=timezone.now(),
            )
            transaction.on_commit(lambda: reload_emails.method_removed(setting=setting), robust=True)
    return bool(turned_off)


def _method_removed_hook(*, agency: Agency, organization: Organization | None, payment_method_id: str) -> None:
    # billing.payment_methods names the agency for a client's method too: the client's auto-reload is the one.
    if organization is not None:
        auto_reload_method_removed(organization=organization, payment_method_id=payment_method_id)
    else:
        auto_reload_method_removed(agency=agency, payment_method_id=payment_method_id)


payment_methods.METHOD_REMOVED_HOOKS.append(_method_removed_hook)
