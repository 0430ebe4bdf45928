"""Emails about auto-reload to its owner: a client's users, or an agency's admins.

Sent after the transaction that decided them commits (never inside it); a failure to send is
logged and loses no money: the attempt and the pause are recorded already.
"""

import logging
from email.utils import formataddr

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse

from agencies import tenancy
from core.money import money_format

from .models import AutoReload, AutoReloadAttempt
from .reload_owner import account_of

logger = logging.getLogger(__name__)


def recipients(setting: AutoReload) -> list[str]:
    """The owner: every active user of the client organization, or the agency's console admins."""
    users = get_user_model().objects.filter(is_active=True)
    if setting.organization_id:
        users = users.filter(organization_id=setting.organization_id)
    else:
        users = users.filter(managed_agency_id=setting.agency_id, agency__isnull=True)
    return sorted(set(users.values_list("email", flat=True)) - {""})


def settings_link(setting: AutoReload) -> str:
    agency, organization = account_of(setting)
    if organization is not None:
        return tenancy.portal_url(agency, reverse("billing:auto_reload", urlconf=settings.PORTAL_URLCONF))
    return tenancy.console_url(reverse("console_billing:auto_reload", urlconf=settings.ROOT_URLCONF))


def _brand(setting: AutoReload) -> tuple[str, str]:
    """(sender name, account name)."""
    agency, organization = account_of(setting)
    if organization is not None:
        return agency.company_name, organization.name
    return settings.PLATFORM_NAME, agency.company_name


def _send(setting: AutoReload, subject: str, lines: list[str]) -> int:
    to = recipients(setting)
    if not to:
        logger.warning("auto-reload %s: nobody to email about %r", setting.pk, subject)
        return 0
    sender_name, account = _brand(setting)
    body = "\n".join(["Hello,", "", *lines, "", f"Auto-reload settings for {account}: {settings_link(setting)}", ""])
    sender = formataddr((sender_name, settings.DEFAULT_FROM_EMAIL))
    try:
        with get_connection() as connection:
            for address in to:  # one message each: members do not see each other's addresses
                EmailMessage(f"{subject} ({account})", body, sender, [address], connection=connection).send()
    except Exception:  # the decision is recorded; a mail server down must not undo it
        logger.exception("auto-reload %s: could not email %r", setting.pk, subject)
        return 0
    return len(to)


def _what(attempt: AutoReloadAttempt) -> str:
    return money_format(attempt.amount_cents, attempt.currency or "EUR")


def declined(*, setting: AutoReload, attempt: AutoReloadAttempt) -> int:
    """The first of a run of declined (or otherwise failed) automatic charges."""
    code = f" (decline code: {attempt.decline_code})" if attempt.decline_code else ""
    card = attempt.status == AutoReloadAttempt.Status.DECLINED
    return _send(
        setting,
        "Auto-reload: your card was declined" if card else "Auto-reload: the automatic charge did not go through",
        [
            f"The automatic reload of {_what(attempt)} {'was declined' if card else 'failed'}{code}.",
            attempt.reason or "",
            (
                "We will try again the next time the balance is below the threshold, at most once an hour. "
                "After 3 declines in a row auto-reload pauses. Please check the card, or choose another one."
            ),
        ],
    )


def paused(*, setting: AutoReload, attempt: AutoReloadAttempt | None = None) -> int:
    return _send(
        setting,
        "Auto-reload is paused",
        [
            f"Auto-reload is paused: {setting.paused_reason}",
            "No automatic charge will be made until you turn it on again in the settings.",
        ],
    )


def authentication_required(*, setting: AutoReload, attempt: AutoReloadAttempt) -> int:
    return _send(
        setting,
        "Auto-reload: your bank asks you to confirm the payment",
        [
            f"The automatic reload of {_what(attempt)} needs you to confirm it with your bank.",
            f"Confirm it here: {attempt.authentication_url}",
            "The balance is credited once it is confirmed.",
        ],
    )


def cap_reached(*, setting: AutoReload, attempt: AutoReloadAttempt) -> int:
    return _send(
        setting,
        "Auto-reload: monthly cap reached",
        [
            f"An automatic reload of {_what(attempt)} was not made: {attempt.reason}",
            (
                "Auto-reload starts again when you raise the monthly cap in the settings, or on the 1st of next "
                "month (UTC) if the balance is still below the threshold. Until then you can top up by hand. "
                "We will not email you about the cap again this month."
            ),
        ],
    )


def method_removed(*, setting: AutoReload) -> int:
    return _send(
        setting,
        "Auto-reload is off: its payment method was removed",
        [
            "The payment method auto-reload charged was removed, so auto-reload is now off.",
            "Choose another payment method and turn it on again in the settings.",
        ],
    )
