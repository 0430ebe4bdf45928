"""Saved payment methods (cards and SEPA mandates) of a buyer, kept by Stripe on the buyer's customer.

A buyer is a client organization (its customer lives on its agency's Stripe account, connected or
keyed) or an agency buying platform minutes (organization None: the platform's account). The portal
stores only which customer is the buyer's on which account (StripeCustomer); the methods themselves
are always read from Stripe. Every Stripe call here happens outside any database transaction.
"""

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from agencies.models import Agency, Organization

from . import accounts, stripe_api
from .models import StripeCustomer
from .stripe_api import StripeAccount

# Called as hook(agency=..., organization=..., payment_method_id=...) after a method is detached, so
# auto-reload can stop using it (billing.auto_reload registers auto_reload_method_removed here).
METHOD_REMOVED_HOOKS: list[Callable[..., None]] = []


class MethodNotFound(LookupError):
    """The payment method is not one of this buyer's (unknown, detached, or another tenant's)."""


@dataclass(frozen=True)
class SavedMethod:
    id: str
    type: str  # "card" or "sepa_debit"
    brand: str | None
    last4: str
    exp_month: int | None
    exp_year: int | None
    default: bool
    created_at: datetime

    @property
    def label(self) -> str:
        if self.type == "sepa_debit":
            return f"SEPA Direct Debit ending {self.last4}"
        return f"{(self.brand or 'Card').title()} ending {self.last4}"


@dataclass(frozen=True)
class SetupStarted:
    url: str
    session_id: str
    expires_at: datetime


def buyer_account(*, agency: Agency, organization: Organization | None) -> StripeAccount:
    """Where the buyer pays: a client on its agency's account, an agency (minutes) on the platform's."""
    return accounts.platform_account() if organization is None else accounts.agency_account(agency)


def _account_name(account: StripeAccount) -> str:
    if account.agency_id is None:
        return "platform"
    return account.connected_account_id or "own"


def _record(*, agency: Agency, organization: Organization | None, account: StripeAccount):
    found = StripeCustomer.objects.filter(agency=agency, organization=organization, account=_account_name(account))
    return found.first()


def customer_find(*, agency: Agency, organization: Organization | None, account: StripeAccount) -> str:
    """The buyer's customer id on `account`, or "" when it has none yet (nothing saved)."""
    record = _record(agency=agency, organization=organization, account=account)
    return record.customer_id if record else ""


def customer_ensure(*, agency: Agency, organization: Organization | None, account: StripeAccount, email: str) -> str:
    """The buyer's customer id on `account`, created at Stripe (idempotently) and recorded when missing."""
    existing = customer_find(agency=agency, organization=organization, account=account)
    if existing:
        return existing
    name = _account_name(account)
    owner = f"org-{organization.pk}" if organization else f"agency-{agency.pk}"
    digest = hashlib.sha256(f"{owner}:{name}".encode()).hexdigest()[:16]
    metadata = {"agency_id": str(agency.pk)}
    if organization is not None:
        metadata["organization_id"] = str(organization.pk)
    customer = stripe_api.customer_create(
        account=account,
        params={
            "email": email,
            "name": organization.name if organization else agency.company_name,
            "metadata": metadata,
        },
        idempotency_key=f"buyer-customer-{digest}",
    )
    try:
        with transaction.atomic():
            StripeCustomer.objects.create(
                agency=agency, organization=organization, account=name, customer_id=customer.id
            )
    except IntegrityError:  # a concurrent request recorded it (the same customer: same idempotency key)
        pass
    return customer_find(agency=agency, organization=organization, account=account)


def _when(created) -> datetime:
    return datetime.fromtimestamp(int(created or 0), tz=UTC)


def _saved(method, default_id: str | None) -> SavedMethod:
    if method.type == "sepa_debit":
        return SavedMethod(
            method.id, "sepa_debit", None, method.sepa_debit.last4, None, None, method.id == default_id,
            _when(method.created),
        )  # fmt: skip
    card = method.card
    return SavedMethod(
        method.id, "card", card.brand, card.last4, card.exp_month, card.exp_year, method.id == default_id,
        _when(method.created),
    )  # fmt: skip


def _default_id(account: StripeAccount, customer_id: str) -> str | None:
    customer = stripe_api.customer_retrieve(account=account, customer_id=customer_id)
    settings = customer.invoice_settings
    return settings.default_payment_method if settings else None


def methods_list(*, agency: Agency, organization: Organization | None) -> list[SavedMethod]:
    """The buyer's saved cards and SEPA mandates, newest first, the default marked."""
    account = buyer_account(agency=agency, organization=organization)
    customer_id = customer_find(agency=agency, organization=organization, account=account)
    if not customer_id:
        return []
    methods = stripe_api.customer_payment_methods(account=account, customer_id=customer_id)
    default_id = _default_id(account, customer_id)
    saved = [_saved(m, default_id) for m in methods]
    return sorted(saved, key=lambda m: m.created_at, reverse=True)  # stable: Stripe lists newest first


def method_find(*, agency: Agency, organization: Organization | None, payment_method_id: str) -> SavedMethod:
    """One of the buyer's methods, or MethodNotFound."""
    for method in methods_list(agency=agency, organization=organization):
        if method.id == payment_method_id:
            return method
    raise MethodNotFound(payment_method_id)


def method_setup_start(
    *, agency: Agency, organization: Organization | None, email: str, success_url: str, cancel_url: str
) -> SetupStarted:
    """A Checkout Session in setup mode on the buyer's account; the method is saved when the buyer completes it."""
    account = buyer_account(agency=agency, organization=organization)
    if not account.configured:
        raise stripe_api.StripeRejected("auth")
    customer_id = customer_ensure(agency=agency, organization=organization, account=account, email=email)
    metadata = {"agency_id": str(agency.pk), "purpose": "payment_method"}
    if organization is not None:
        metadata["organization_id"] = str(organization.pk)
    session = stripe_api.session_create(
        account=account,
        idempotency_key=f"setup-{uuid.uuid4().hex}",
        params={
            "mode": "setup",
            "customer": customer_id,
            "currency": "eur",
            "payment_method_types": ["card", "sepa_debit"],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
            "setup_intent_data": {"metadata": metadata},
        },
    )
    return SetupStarted(url=session.url, session_id=session.id, expires_at=_when(session.expires_at))


def method_default_set(*, agency: Agency, organization: Organization | None, payment_method_id: str) -> SavedMethod:
    """Make one of the buyer's methods its default; MethodNotFound when it is not the buyer's."""
    method = method_find(agency=agency, organization=organization, payment_method_id=payment_method_id)
    account = buyer_account(agency=agency, organization=organization)
    customer_id = customer_find(agency=agency, organization=organization, account=account)
    stripe_api.customer_default_method_set(account=account, customer_id=customer_id, payment_method_id=method.id)
    return SavedMethod(**{**method.__dict__, "default": True})


def method_detach(*, agency: Agency, organization: Organization | None, payment_method_id: str) -> None:
    """Detach one of the buyer's methods; the default moves to the newest remaining one."""
    method = method_find(agency=agency, organization=organization, payment_method_id=payment_method_id)
    account = buyer_account(agency=agency, organization=organization)
    stripe_api.payment_method_detach(account=account, payment_method_id=method.id)
    if method.default:
        remaining = methods_list(agency=agency, organization=organization)
        if remaining:
            customer_id = customer_find(agency=agency, organization=organization, account=account)
            stripe_api.customer_default_method_set(
                account=account, customer_id=customer_id, payment_method_id=remaining[0].id
            )
    _method_removed(agency=agency, organization=organization, payment_method_id=method.id)


def _method_removed(*, agency: Agency, organization: Organization | None, payment_method_id: str) -> None:
    """HOOK for auto-reload: tell it a method is gone (it disables a reload that used it and emails the owner)."""
    for hook in METHOD_REMOVED_HOOKS:
        hook(agency=agency, organization=organization, payment_method_id=payment_method_id)


def setup_session_completed(*, account: StripeAccount, session) -> str:
    """A setup-mode Checkout Session completed (webhook): its method becomes the default if there was none.

    Stripe I/O only (nothing in the database changes); safe to run again for a redelivered event.
    """
    if session.status != "complete" or not session.setup_intent or not session.customer:
        return "ignored: setup session not complete"
    known = StripeCustomer.objects.filter(customer_id=session.customer, account=_account_name(account))
    if account.agency_id is not None:
        known = known.filter(agency_id=account.agency_id, organization__isnull=False)
    else:
        known = known.filter(organization__isnull=True)
    if not known.exists():
        return "ignored: not a customer of this portal"
    if _default_id(account, session.customer):
        return "payment method saved"
    intent = stripe_api.setup_intent_retrieve(account=account, setup_intent_id=session.setup_intent)
    if intent.status != "succeeded" or not intent.payment_method:
        return "ignored: setup not succeeded"
    stripe_api.customer_default_method_set(
        account=account, customer_id=session.customer, payment_method_id=intent.payment_method
    )
    return "payment method saved as the default"
