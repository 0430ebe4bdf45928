"""Two-factor sign-in: allauth.mfa (an authenticator app or security keys, with recovery codes), fitted to
the portal.

- `PortalMFAAdapter` names the tenant as the authenticator app's issuer and encrypts the TOTP secret and
  the recovery codes' seed at rest with FIELD_ENCRYPTION_KEYS (agencies.crypto).
- An agency may require two-factor sign-in of its members (console accounts) and, separately, of its
  clients' users (portal accounts): `agency_mfa_require` sets it, audited; `mfa_setup_needed` tells
  agencies.middleware.MFARequiredMiddleware whom to send to the setup page.
- Security keys and passkeys (WebAuthn) are a second factor like the app (SECOND_FACTORS); their relying
  party is the host the page is on (allauth's default), so a key added on one portal is bound to it.
- Turning the app on or off is audited (`mfa.enable`, `mfa.disable`), as is adding or removing a security
  key (`mfa.key_add`, `mfa.key_remove`), a recovery code spent or a new set made. allauth's MFA adapter
  has no hook for these, so they hang on allauth's own signals, connected in `connect_audit` (called from
  AgenciesConfig.ready); each receiver only calls `mfa_audit`.
"""

from typing import Any

from allauth.account.models import EmailAddress
from allauth.core import context
from allauth.mfa import app_settings as mfa_settings, signals
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from . import crypto
from .audit import audit_record, changes_between, snapshot
from .models import Agency, User

REQUIREMENT_FIELDS = ["mfa_required_members", "mfa_required_clients"]
# What counts as two-factor sign-in set up: recovery codes alone are only a fallback.
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


class PortalMFAAdapter(DefaultMFAAdapter):
    def get_totp_issuer(self) -> str:
        # The name the authenticator app shows beside the code: the portal's brand, never the Host header.
        agency = getattr(context.request, "agency", None)
        return agency.company_name if agency is not None else settings.PLATFORM_NAME

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # An account its agency requires two-factor sign-in of cannot turn its authenticator app off unless
        # a security key remains. (allauth asks this only of the app: removing the last key of such an
        # account sends it back to the setup page, through MFARequiredMiddleware.)
        if authenticator.type != Authenticator.Type.TOTP or not mfa_required(user=authenticator.user):
            return True
        return (
            Authenticator.objects.filter(user_id=authenticator.user_id, type__in=SECOND_FACTORS)
            .exclude(pk=authenticator.pk)
            .exists()
        )

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)


# --- selectors -----------------------------------------------------------------------------------------


# The session's user carries its agency's requirement, read in the same query (agencies.backends.get_user).
REQUIRED_ATTR = "mfa_required_by_agency"


def mfa_required(*, user: User) -> bool:
    """Whether the agency this account belongs to requires two-factor sign-in of it: a portal account
    (a client's user) by `mfa_required_clients`, a console account of an agency (a member) by
    `mfa_required_members`. The platform's operators are never required."""
    annotated = getattr(user, REQUIRED_ATTR, None)
    if annotated is not None:
        return bool(annotated)
    if user.agency_id is not None:
        return Agency.objects.filter(pk=user.agency_id, mfa_required_clients=True).exists()
    if user.managed_agency_id is not None:
        return Agency.objects.filter(pk=user.managed_agency_id, mfa_required_members=True).exists()
    return False


def mfa_enabled(*, user: User) -> bool:
    return is_mfa_enabled(user, SECOND_FACTORS)


def mfa_setup_needed(*, user: User) -> bool:
    """The account must set two-factor sign-in up before it may do anything else."""
    return mfa_required(user=user) and not mfa_enabled(user=user)


def mfa_email_unverified(*, user: User) -> bool:
    """allauth turns two-factor sign-in on only for an account whose email addresses are verified (so no
    one can sign up with another's address and lock its owner out): such an account verifies first."""
    if mfa_settings.ALLOW_UNVERIFIED_EMAIL:
        return False
    return EmailAddress.objects.filter(user_id=user.pk, verified=False).exists()


def mfa_coverage(*, agency: Agency) -> dict[str, dict[str, int]]:
    """How many of the agency's members and of its clients' users have two-factor sign-in on."""
    has_factor = Exists(Authenticator.objects.filter(user=OuterRef("pk"), type__in=SECOND_FACTORS))
    coverage = {}
    for name, accounts in (
        ("members", User.objects.filter(managed_agency=agency, is_active=True)),
        ("clients", User.objects.filter(agency=agency, is_active=True)),
    ):
        coverage[name] = {"total": accounts.count(), "enabled": accounts.filter(has_factor).count()}
    return coverage


# --- services ------------------------------------------------------------------------------------------


def agency_mfa_require(*, agency: Agency, actor: User, members: bool, clients: bool) -> Agency:
    """Require (or stop requiring) two-factor sign-in of the agency's members and of its clients' users."""
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        before = snapshot(agency, REQUIREMENT_FIELDS)
        agency.mfa_required_members = members
        agency.mfa_required_clients = clients
        changes = changes_between(before, snapshot(agency, REQUIREMENT_FIELDS))
        if changes:
            agency.save(update_fields=REQUIREMENT_FIELDS)
            audit_record(actor=actor, action="security.mfa_required", agency_id=agency.pk, obj=agency, changes=changes)
    return agency


def mfa_secrets_rotate() -> tuple[int, list[int]]:
    """Re-encrypt every TOTP secret and recovery-code seed with the first FIELD_ENCRYPTION_KEYS key
    (`manage.py rotate_secrets`, beside the agencies' Stripe secrets).

    Returns (authenticators rotated, ids of those no configured key decrypts, left as they are).
    """
    rotated, failed = 0, []
    encrypted = {Authenticator.Type.TOTP: "secret", Authenticator.Type.RECOVERY_CODES: "seed"}
    for pk in Authenticator.objects.filter(type__in=list(encrypted)).order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            authenticator = Authenticator.objects.select_for_update().get(pk=pk)
            data = dict(authenticator.data)
            try:
                data[encrypted[authenticator.type]] = crypto.rotate(data[encrypted[authenticator.type]])
                if "migrated_codes" in data:
                    data["migrated_codes"] = [crypto.rotate(code) for code in data["migrated_codes"]]
            except InvalidToken:
                failed.append(pk)
                continue
            authenticator.data = data
            authenticator.save(update_fields=["data"])
        rotated += 1
    return rotated, failed


def mfa_audit(*, user: User, action: str, changes: dict[str, list[Any]] | None = None) -> None:
    """An audit entry for a change to `user`'s own two-factor sign-in, in the log of its agency
    (a member) or of its client organization (a client's user)."""
    agency_id = user.agency_id if user.agency_id is not None else user.managed_agency_id
    audit_record(
        actor=user,
        action=action,
        agency_id=agency_id,
        organization_id=user.organization_id if agency_id is not None else None,
        obj=user,
        changes=changes,
    )


# --- allauth's signals -> the audit log -------------------------------------------------------------------


def _added(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        mfa_audit(user=user, action="mfa.enable", changes={"totp": [False, True]})
    elif authenticator.type == Authenticator.Type.WEBAUTHN:
        mfa_audit(user=user, action="mfa.key_add", changes={"security_key": ["", str(authenticator)]})


def _removed(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP:
        mfa_audit(user=user, action="mfa.disable", changes={"totp": [True, False]})
    elif authenticator.type == Authenticator.Type.WEBAUTHN:
        mfa_audit(user=user, action="mfa.key_remove", changes={"security_key": [str(authenticator), ""]})


def _reset(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        mfa_audit(user=user, action="mfa.recovery_codes_regenerate")


def _used(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        mfa_audit(user=user, action="mfa.recovery_code_use")


def connect_audit() -> None:
    signals.authenticator_added.connect(_added, dispatch_uid="agencies.mfa.added")
    signals.authenticator_removed.connect(_removed, dispatch_uid="agencies.mfa.removed")
    signals.authenticator_reset.connect(_reset, dispatch_uid="agencies.mfa.reset")
    signals.authenticator_used.connect(_used, dispatch_uid="agencies.mfa.used")
