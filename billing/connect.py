"""Stripe Connect: an agency connects its Stripe account to the platform's.

Two ways in: OAuth for an agency that already has a Stripe account
(oauth_start / oauth_finish; the `state` is signed, names the agency and the
admin, carries a nonce kept in the admin's session and popped on return, and
lives 10 minutes), or an account created through the Accounts API with
Stripe-hosted onboarding (account_create_for + onboarding_link). Either way only
the account id is stored (never an access token) and the account's state
(charges and payouts enabled, what Stripe still needs) is read from Stripe:
on connecting, on return from onboarding, and on every account.updated event
(connect_event_process). A connected agency's clients then pay through direct
charges on the platform's key (billing.accounts.agency_account).
"""

import logging
import secrets
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from agencies.audit import audit_record, changes_between, snapshot
from agencies.models import Agency
from core.money import round_half_up

from . import accounts, stripe_api, webhooks
from .models import StripeEvent

logger = logging.getLogger(__name__)

STATE_SALT = "billing.connect.oauth-state"
STATE_MAX_AGE_SECONDS = 600
SESSION_NONCE_KEY = "stripe_connect_nonce"
# What the platform's Connect endpoint listens to: the portal's usual events plus the accounts' own.
CONNECT_WEBHOOK_EVENTS = [*stripe_api.WEBHOOK_EVENTS, "account.updated", "account.application.deauthorized"]
# What the audit log shows of a connection (none of it secret).
AUDITED_FIELDS = ["stripe_account_id", "stripe_account_name", "stripe_charges_enabled", "stripe_payouts_enabled"]

ACCOUNT_FIELDS = [
    "stripe_account_id",
    "stripe_account_name",
    "stripe_connected_at",
    "stripe_disconnected_at",
    "stripe_charges_enabled",
    "stripe_payouts_enabled",
    "stripe_details_submitted",
    "stripe_requirements",
]

# What Stripe's requirement names mean to an agency owner; anything else is shown as Stripe names it.
_REQUIREMENT_WORDS = {
    "external_account": "a bank account for payouts",
    "business_type": "the business type",
    "business_profile.url": "the business website",
    "business_profile.mcc": "the business category",
    "business_profile.product_description": "a description of what you sell",
    "tos_acceptance.date": "acceptance of Stripe's terms",
    "tos_acceptance.ip": "acceptance of Stripe's terms",
    "representative.first_name": "the representative's name",
    "representative.last_name": "the representative's name",
    "representative.dob.day": "the representative's date of birth",
    "representative.verification.document": "an identity document",
    "company.name": "the company name",
    "company.tax_id": "the company's tax id",
    "company.address.line1": "the company address",
}


class ConnectRefused(Exception):
    """A connection the portal will not make or keep; the message is for the agency admin."""


@dataclass(frozen=True)
class ConnectionState:
    """What the Stripe page says about Connect, in words."""

    available: bool  # Connect is configured on this platform
    state: str  # "not connected", "onboarding incomplete", "connected", "disconnected"
    words: str
    account_name: str = ""
    charges_enabled: bool = False
    needs: list[str] = field(default_factory=list)


def requirement_words(requirements: list[str]) -> list[str]:
    """Stripe's requirement names as a person would say them, without repeats."""
    said: list[str] = []
    for name in requirements:
        words = _REQUIREMENT_WORDS.get(name) or name.replace("_", " ").replace(".", ": ")
        if words not in said:
            said.append(words)
    return said


def is_available() -> bool:
    return bool(settings.STRIPE_CONNECT_CLIENT_ID and settings.PLATFORM_STRIPE_SECRET_KEY)


def connection_state(agency: Agency) -> ConnectionState:
    available = is_available()
    name = agency.stripe_account_name or agency.stripe_account_id
    if not agency.stripe_account_id:
        return ConnectionState(available, "not connected", "Not connected to Stripe through Connect.")
    if agency.stripe_disconnected_at is not None:
        return ConnectionState(
            available,
            "disconnected",
            f"Disconnected from the Stripe account \u201c{name}\u201d on {agency.stripe_disconnected_at:%Y-%m-%d}.",
            account_name=name,
        )
    needs = requirement_words(list(agency.stripe_requirements or []))
    if not agency.stripe_details_submitted or needs:
        what = ", ".join(needs) or "the business details"
        return ConnectionState(
            available,
            "onboarding incomplete",
            f"Onboarding incomplete: Stripe still needs {what}.",
            account_name=name,
            charges_enabled=agency.stripe_charges_enabled,
            needs=needs,
        )
    return ConnectionState(
        available,
        "connected",
        f"Connected as \u201c{name}\u201d.",
        account_name=name,
        charges_enabled=agency.stripe_charges_enabled,
    )


def payments_blocked(agency: Agency) -> bool:
    """Whether a client purchase must be refused before Stripe is asked.

    A connected account whose charges Stripe has disabled, or an agency whose
    connection was ended and that has no key of its own, cannot take payments.
    """
    if accounts.is_connected(agency):
        return not agency.stripe_charges_enabled
    return bool(agency.stripe_account_id) and not agency.stripe_secret_key


def application_fee(*, agency: Agency, amount_cents: int) -> int:
    """The platform's fee on a connected agency's purchase of `amount_cents` (0 when off or not connected)."""
    if not accounts.is_connected(agency) or settings.STRIPE_APPLICATION_FEE_BPS <= 0:
        return 0
    # Never more than the purchase (a setting above 10000 would make Stripe refuse every Checkout).
    return min(round_half_up(amount_cents * settings.STRIPE_APPLICATION_FEE_BPS, 10_000), amount_cents)


# --- OAuth --------------------------------------------------------------------------


def oauth_start(*, session, agency: Agency, user, redirect_uri: str) -> str:
    """The URL of Stripe's authorize page for this agency and admin; remembers the nonce in `session`."""
    nonce = secrets.token_urlsafe(16)
    session[SESSION_NONCE_KEY] = nonce
    state = signing.dumps({"agency": agency.pk, "user": user.pk, "nonce": nonce}, salt=STATE_SALT)
    return stripe_api.connect_authorize_url(state=state, redirect_uri=redirect_uri)


def state_problem(*, session, state: str, agency: Agency, user) -> str:
    """Why this `state` must not connect anything ("" when it may). Consumes the session's nonce either way."""
    nonce = session.pop(SESSION_NONCE_KEY, None)
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        return "This Stripe connection request has expired. Start again with Connect with Stripe."
    except signing.BadSignature:
        return "This Stripe connection request is not valid. Start again with Connect with Stripe."
    if data.get("agency") != agency.pk or data.get("user") != user.pk:
        return "This Stripe connection request was started for another portal or another login; nothing was changed."
    if not nonce or not secrets.compare_digest(str(data.get("nonce", "")), nonce):
        return "This Stripe connection request was already used or started elsewhere. Start again."
    return ""


def oauth_finish(*, agency: Agency, code: str, actor=None) -> Agency:
    """Exchange the code for the account id and connect it. Raises ConnectRefused, StripeUnavailable."""
    platform = accounts.platform_account()
    try:
        account_id = stripe_api.oauth_token(account=platform, code=code)
    except stripe_api.StripeRejected:
        raise ConnectRefused("Stripe did not accept this authorization (it may have been used already).") from None
    return account_connect(agency=agency, account_id=account_id, actor=actor)


# --- Connecting, refreshing, disconnecting ------------------------------------------


def _account_fields(account) -> dict:
    profile = account.get("business_profile") or {}
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    requirements = account.get("requirements") or {}
    return {
        "stripe_account_name": (profile.get("name") or dashboard.get("display_name") or account.get("email") or "")[
            :255
        ],
        "stripe_charges_enabled": bool(account.get("charges_enabled")),
        "stripe_payouts_enabled": bool(account.get("payouts_enabled")),
        "stripe_details_submitted": bool(account.get("details_submitted")),
        "stripe_requirements": [str(r) for r in (requirements.get("currently_due") or [])],
    }


def account_connect(*, agency: Agency, account_id: str, actor=None) -> Agency:
    """Read the account from Stripe and make it the agency's connected account.

    Refused (ConnectRefused) when another portal has it connected.
    """
    if Agency.objects.filter(stripe_account_id=account_id, stripe_disconnected_at__isnull=True).exclude(pk=agency.pk):
        raise ConnectRefused("This Stripe account is already connected to another portal.")
    fetched = stripe_api.connected_account_retrieve(
        account=accounts.platform_account(), connected_account_id=account_id
    ).to_dict()
    try:
        with transaction.atomic():
            locked = Agency.objects.select_for_update().get(pk=agency.pk)
            before = snapshot(locked, AUDITED_FIELDS)
            locked.stripe_account_id = account_id
            locked.stripe_connected_at = timezone.now()
            locked.stripe_disconnected_at = None
            for name, value in _account_fields(fetched).items():
                setattr(locked, name, value)
            locked.save(update_fields=ACCOUNT_FIELDS)
            audit_record(
                actor=actor,
                action="stripe.connect",
                agency_id=agency.pk,
                obj=locked,
                changes=changes_between(before, snapshot(locked, AUDITED_FIELDS)),
            )
    except IntegrityError:
        raise ConnectRefused("This Stripe account is already connected to another portal.") from None
    logger.info("Agency %s connected Stripe account %s", agency.pk, account_id)
    return locked


def account_refresh(*, agency: Agency) -> Agency:
    """Read the connected account again from Stripe and store what it says. Raises StripeUnavailable/Rejected."""
    if not accounts.is_connected(agency):
        return agency
    fetched = stripe_api.connected_account_retrieve(
        account=accounts.platform_account(), connected_account_id=agency.stripe_account_id
    ).to_dict()
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency.pk)
        if locked.stripe_account_id != agency.stripe_account_id or locked.stripe_disconnected_at is not None:
            return locked  # disconnected meanwhile: a late answer changes nothing
        for name, value in _account_fields(fetched).items():
            setattr(locked, name, value)
        locked.save(update_fields=ACCOUNT_FIELDS)
    return locked


def account_create_for(*, agency: Agency, email: str, actor=None) -> Agency:
    """Create a new Stripe account for an agency that has none, connected from the start (onboarding to do)."""
    created = stripe_api.connected_account_create(
        account=accounts.platform_account(),
        idempotency_key=f"connect-account-{agency.pk}-{uuid.uuid4().hex}",
        params={
            "type": "standard",
            "email": email,
            "business_profile": {"name": agency.company_name},
            "metadata": {"portal_agency_id": str(agency.pk)},
        },
    )
    return account_connect(agency=agency, account_id=created.id, actor=actor)


def onboarding_link(*, agency: Agency, refresh_url: str, return_url: str) -> str:
    """A fresh single-use link to Stripe's onboarding for the agency's connected account."""
    return stripe_api.account_link_create(
        account=accounts.platform_account(),
        connected_account_id=agency.stripe_account_id,
        refresh_url=refresh_url,
        return_url=return_url,
    )


def _mark_disconnected(agency_id: int, account_id: str, *, actor=None) -> bool:
    """Stop using the account; logged as the actor's (None: Stripe told us, a system entry)."""
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency_id)
        if locked.stripe_account_id != account_id or locked.stripe_disconnected_at is not None:
            return False
        locked.stripe_disconnected_at = timezone.now()
        locked.stripe_charges_enabled = False
        locked.save(update_fields=["stripe_disconnected_at", "stripe_charges_enabled"])
        audit_record(
            actor=actor,
            action="stripe.disconnect",
            agency_id=agency_id,
            object_type="stripe_account",
            object_id=account_id,
            object_repr=locked.stripe_account_name or account_id,
            changes={"connected": [True, False]},
        )
    return True


def agency_disconnect(*, agency: Agency, actor=None) -> bool:
    """End the connection: tell Stripe when possible, then stop using the account. History is kept.

    Returns whether Stripe confirmed (False: marked disconnected here only; the
    agency may revoke the platform in its Stripe dashboard too).
    """
    if not accounts.is_connected(agency):
        return True
    confirmed = True
    try:
        stripe_api.oauth_deauthorize(account=accounts.platform_account(), connected_account_id=agency.stripe_account_id)
    except (stripe_api.StripeUnavailable, stripe_api.StripeRejected):
        confirmed = False
    _mark_disconnected(agency.pk, agency.stripe_account_id, actor=actor)
    logger.info("Agency %s disconnected Stripe account %s", agency.pk, agency.stripe_account_id)
    return confirmed


# --- Events on the platform's Connect endpoint ---------------------------------------


def _agency_for(account_id: str) -> tuple[Agency | None, str]:
    connected = Agency.objects.filter(stripe_account_id=account_id, stripe_disconnected_at__isnull=True).first()
    if connected is not None:
        return connected, ""
    if Agency.objects.filter(stripe_account_id=account_id).exists():
        return None, "ignored: the account's portal has disconnected it"
    return None, "ignored: no portal has this account connected"


def _record_once(agency: Agency, event_id: str, event_type: str, apply) -> str:
    if StripeEvent.objects.filter(agency=agency, event_id=event_id).exists():
        return "duplicate: already processed"
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(agency=agency, event_id=event_id, type=event_type)
        except IntegrityError:
            return "duplicate: processed concurrently"
        record.outcome = apply()[:200]
        record.save(update_fields=["outcome"])
    return record.outcome


def connect_event_process(*, account_id: str, livemode: bool, event_id: str, event_type: str, obj) -> str:
    """Route one verified event of a connected account to its agency and process it once.

    Raises StripeUnavailable / StripeRejected when Stripe cannot be asked now (Stripe retries).
    """
    if livemode != accounts.platform_account().livemode:
        mode = "live" if livemode else "test"
        outcome = f"ignored: a {mode}-mode event, the platform's key is not"
        logger.warning("Stripe Connect event %s (%s) of %s: %s", event_id, event_type, account_id, outcome)
        return outcome
    agency, outcome = _agency_for(account_id)
    if agency is None:
        logger.warning("Stripe Connect event %s (%s) of %s: %s", event_id, event_type, account_id, outcome)
        return outcome
    if event_type == "account.application.deauthorized":
        # Access is gone: there is nothing to re-fetch, and the event is the only word we get.
        outcome = _record_once(
            agency,
            event_id,
            event_type,
            lambda: "disconnected" if _mark_disconnected(agency.pk, account_id) else "ignored: already disconnected",
        )
    elif event_type == "account.updated":
        if StripeEvent.objects.filter(agency=agency, event_id=event_id).exists():
            return "duplicate: already processed"
        fetched = stripe_api.connected_account_retrieve(
            account=accounts.platform_account(), connected_account_id=account_id
        ).to_dict()

        def apply() -> str:
            locked = Agency.objects.select_for_update().get(pk=agency.pk)
            if locked.stripe_account_id != account_id or locked.stripe_disconnected_at is not None:
                return "ignored: disconnected meanwhile"
            for name, value in _account_fields(fetched).items():
                setattr(locked, name, value)
            locked.save(update_fields=ACCOUNT_FIELDS)
            return f"account updated: charges {'enabled' if locked.stripe_charges_enabled else 'disabled'}"

        outcome = _record_once(agency, event_id, event_type, apply)
    else:
        outcome = webhooks.event_process(
            account=accounts.agency_account(agency), event_id=event_id, event_type=event_type, obj=obj
        )
    logger.info(
        "Stripe Connect event %s (%s) of %s for agency %s: %s", event_id, event_type, account_id, agency.pk, outcome
    )
    return outcome
