"""Invitations: an owner invites an address with a role; the invitee accepts on the right host.

A console invitation (no organization) makes or joins a console account that manages the agency; a
portal invitation makes or joins an account of that agency's portal, in the organization. Accounts
stay on their host: an invitation is only found on its own host (`invitation_find`). The link's token
is single use, 7 days, replaced on resend; the email goes out after the transaction commits.
"""

import logging
from email.utils import formataddr

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from . import roles, tenancy
from .audit import audit_record
from .invitation_models import VALID_FOR, Invitation, invitation_token_hash, invitation_token_new
from .models import AGENCY_ROLES, ORGANIZATION_ROLES, Agency, Organization, User

logger = logging.getLogger(__name__)


class InvitationError(Exception):
    """A refusal, with a plain sentence for the person; nothing was changed."""


class InvitationNotFound(InvitationError):
    """No invitation with this link on this host (never existed, replaced by a resend, or another host's)."""


class InvitationClosed(InvitationError):
    """Expired, used or revoked: the link says so."""

    def __init__(self, message: str, *, status: str):
        super().__init__(message)
        self.status = status


class LogInFirst(InvitationError):
    """An account with the invited address exists on this host: it logs in, then accepts."""


class AccountElsewhere(InvitationError):
    """The address's account on this host belongs to another organization (or agency)."""


class WrongAccount(InvitationError):
    """Logged in as another address than the one invited."""


def roles_for(*, organization: Organization | None) -> list[str]:
    return list(ORGANIZATION_ROLES if organization is not None else AGENCY_ROLES)


def invitations_open(*, agency: Agency, organization: Organization | None = None) -> QuerySet[Invitation]:
    """The tenant's invitations neither accepted nor revoked (expired ones too: they can be resent)."""
    return Invitation.objects.filter(
        agency=agency, organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def invitation_find(*, token: str, agency: Agency | None, lock: bool = False) -> Invitation:
    """The invitation this link names, if it belongs on this host (`agency`: the portal; None: the console)."""
    invitations = Invitation.objects.select_related("agency", "organization")
    if lock:
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(token_hash=invitation_token_hash(token)).first()
    if invitation is None:
        raise InvitationNotFound("This invitation link is not valid. It may have been replaced by a newer one.")
    on_this_host = (
        invitation.organization_id is not None and agency is not None and agency.pk == invitation.agency_id
    ) or (invitation.organization_id is None and agency is None)
    if not on_this_host:
        raise InvitationNotFound("This invitation link is not valid. It may have been replaced by a newer one.")
    return invitation


def invitation_check_open(invitation: Invitation) -> None:
    """InvitationClosed, saying why, unless the invitation can still be accepted."""
    status = invitation.status
    if status == Invitation.Status.REVOKED:
        raise InvitationClosed(
            "This invitation was withdrawn. Ask for a new one if you still need access.", status=status
        )
    if status == Invitation.Status.ACCEPTED:
        raise InvitationClosed("This invitation has already been used. Log in with your account.", status=status)
    if status == Invitation.Status.EXPIRED:
        raise InvitationClosed(
            f"This invitation expired on {invitation.expires_at:%Y-%m-%d at %H:%M} UTC. Ask for a new one.",
            status=status,
        )


def _account_here(*, email: str, invitation: Invitation) -> User | None:
    """The account with `email` on the invitation's host, if any (case-insensitive)."""
    users = User.objects.filter(email__iexact=email)
    if invitation.organization_id is None:
        return users.filter(agency__isnull=True).first()
    return users.filter(agency_id=invitation.agency_id).first()


def _membership_problem(user: User, invitation: Invitation) -> str | None:
    """Why `user` cannot join the invitation's tenant, or None."""
    if invitation.organization_id is not None:
        if user.organization_id == invitation.organization_id:
            return f"{user.email} is already a member of {invitation.tenant_name}."
        if user.organization_id is not None:
            return f"{user.email} already belongs to another organization on this portal."
    else:
        if user.managed_agency_id == invitation.agency_id:
            return f"{user.email} is already a member of {invitation.tenant_name}."
        if user.managed_agency_id is not None:
            return f"{user.email} already manages another agency; a console account belongs to one agency."
    return None


def invitation_standing(*, invitation: Invitation, user: User | None) -> tuple[str, str]:
    """What the accept page offers `user` (None: not logged in) for an open invitation: (step, message).

    Steps: "accept" (logged in as the invited address), "sign_up" (no account here yet), "log_in" (an
    account exists: log in first), "refused" (another address, or an account that belongs elsewhere).
    """
    if user is not None:
        if user.email.lower() != invitation.email:
            return "refused", (
                f"This invitation is for {invitation.email}, but you are logged in as {user.email}. "
                "Log out, then open the link again."
            )
        problem = _membership_problem(user, invitation)
        return ("refused", problem) if problem else ("accept", "")
    existing = _account_here(email=invitation.email, invitation=invitation)
    if existing is None:
        return "sign_up", ""
    problem = _membership_problem(existing, invitation)
    if problem:
        return "refused", problem
    return "log_in", f"An account for {invitation.email} exists here already. Log in to accept."


def _link(invitation: Invitation, token: str) -> str:
    if invitation.organization_id is not None:
        path = reverse("invitation_accept", urlconf=settings.PORTAL_URLCONF, args=[token])
        return tenancy.portal_url(invitation.agency, path)
    return tenancy.console_url(reverse("invitation_accept", urlconf=settings.ROOT_URLCONF, args=[token]))


def _send(invitation: Invitation, token: str) -> None:
    """Email the link. Runs after commit: a mail server down loses the email, not the invitation (resend)."""
    brand = invitation.agency.company_name if invitation.organization_id else settings.PLATFORM_NAME
    context = {
        "invitation": invitation,
        "brand": brand,
        "tenant": invitation.tenant_name,
        "inviter": invitation.invited_by.email if invitation.invited_by else brand,
        "link": _link(invitation, token),
    }
    subject = render_to_string("agencies/email/invitation_subject.txt", context).strip()
    body = render_to_string("agencies/email/invitation.txt", context)
    try:
        EmailMessage(subject, body, formataddr((brand, settings.DEFAULT_FROM_EMAIL)), [invitation.email]).send()
    except Exception:
        logger.exception("invitation %s: could not send the email", invitation.pk)


def _send_after_commit(invitation: Invitation, token: str) -> None:
    transaction.on_commit(lambda: _send(invitation, token))


def invitation_create(
    *, actor: User, agency: Agency, organization: Organization | None = None, email: str, role: str
) -> Invitation:
    """Invite `email` to the agency's console (no organization) or to the organization, with `role`."""
    roles.require(actor, "members")
    email = email.strip().lower()
    if role not in roles_for(organization=organization):
        raise InvitationError("Choose one of the roles offered.")
    now = timezone.now()
    invitation = Invitation(
        agency=agency, organization=organization, email=email, role=role, invited_by=actor, created_at=now, sent_at=now
    )
    existing = _account_here(email=email, invitation=invitation)
    if existing is not None and (problem := _membership_problem(existing, invitation)):
        raise InvitationError(problem)
    token, invitation.token_hash = invitation_token_new()
    invitation.expires_at = now + VALID_FOR
    try:
        with transaction.atomic():
            invitation.save()
            audit_record(
                actor=actor,
                action="member.invite",
                agency_id=agency.pk,
                organization_id=organization.pk if organization else None,
                obj=invitation,
                changes={"email": [None, email], "role": [None, role]},
            )
            _send_after_commit(invitation, token)
    except IntegrityError:  # the open-invitation constraint: the check below tells it from anything else
        if not invitations_open(agency=agency, organization=organization).filter(email=email).exists():
            raise
        raise InvitationError(f"{email} is invited already; resend or revoke that invitation below.") from None
    return invitation


@transaction.atomic
def invitation_resend(*, actor: User, invitation: Invitation) -> Invitation:
    """A new link and 7 more days; the old link stops working."""
    roles.require(actor, "members")
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("agency", "organization")
        .get(pk=invitation.pk)
    )
    if not invitation.is_open:
        raise InvitationError("This invitation was already accepted or revoked.")
    before = invitation.expires_at
    token, invitation.token_hash = invitation_token_new()
    invitation.sent_at = timezone.now()
    invitation.expires_at = invitation.sent_at + VALID_FOR
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    audit_record(
        actor=actor,
        action="member.invite_resend",
        agency_id=invitation.agency_id,
        organization_id=invitation.organization_id,
        obj=invitation,
        changes={
            "expires_at": [before.isoformat(), invitation.expires_at.isoformat()],
            "token": ["changed", "changed"],
        },
    )
    _send_after_commit(invitation, token)
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> bool:
    """Withdraw the invitation; its link then says so. False when it was accepted or revoked already."""
    roles.require(actor, "members")
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        return False
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="member.invite_revoke",
        agency_id=invitation.agency_id,
        organization_id=invitation.organization_id,
        obj=invitation,
        changes={"revoked_at": [None, invitation.revoked_at.isoformat()]},
    )
    return True


def _join(user: User, invitation: Invitation) -> None:
    if invitation.organization_id is not None:
        user.organization_id = invitation.organization_id
    else:
        user.managed_agency_id = invitation.agency_id
    user.role = invitation.role
    user.save(update_fields=["organization", "managed_agency", "role"])


@transaction.atomic
def invitation_accept(*, token: str, agency: Agency | None, user: User | None = None, password: str = "") -> User:
    """Accept on the host `agency` (None: the console), as the logged-in `user` or as a new account with
    `password`. The invitation row is locked first, so two accepts at once make one account."""
    invitation = invitation_find(token=token, agency=agency, lock=True)
    invitation_check_open(invitation)
    if user is not None:
        if user.email.lower() != invitation.email:
            raise WrongAccount(
                f"This invitation is for {invitation.email}, but you are logged in as {user.email}. "
                "Log out, then open the link again."
            )
        user = User.objects.select_for_update().get(pk=user.pk)
        if problem := _membership_problem(user, invitation):
            raise AccountElsewhere(problem)
        _join(user, invitation)
    else:
        existing = _account_here(email=invitation.email, invitation=invitation)
        if existing is not None:
            if problem := _membership_problem(existing, invitation):
                raise AccountElsewhere(problem)
            raise LogInFirst(f"An account for {invitation.email} exists here already. Log in to accept.")
        portal = invitation.organization_id is not None
        user = User.objects.create_user(
            invitation.email,
            password,
            agency_id=invitation.agency_id if portal else None,
            organization_id=invitation.organization_id,
            managed_agency_id=None if portal else invitation.agency_id,
            role=invitation.role,
        )
        # The link reached this address: it is verified.
        EmailAddress.objects.create(user=user, email=invitation.email, verified=True, primary=True)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        actor=user,
        action="member.join",
        agency_id=invitation.agency_id,
        organization_id=invitation.organization_id,
        obj=user,
        changes={"role": [None, invitation.role]},
    )
    return user
