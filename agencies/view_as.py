"""View as client: an agency owner or admin opens a client's portal as that client, read-only.

The console and the portal are different hosts and sessions never cross hosts, so the console issues
a one-minute, single-use token (`view_as_token_issue`; only its hash is stored) and redirects to the
portal's /view-as/<token>/, which redeems it (`view_as_token_redeem`) and logs the browser in as the
organization's owner account with a "view as" mark in the session (`view_as_session_start`). While
the mark is there agencies.middleware.ViewAsMiddleware refuses every write and ends the view after
SESSION_MINUTES; `view_as_session_end` ends it (End, logout, expiry). Both ends are in the audit log,
with the agency member as the actor.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import login, logout
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from . import roles
from .audit import audit_record
from .models import Agency, Organization, Role, User, ViewAsToken

TOKEN_SECONDS = 60
SESSION_MINUTES = 30
SESSION_KEY = "view_as"
# How a view ended, as its audit entry says.
ENDED, LOGOUT, EXPIRED = "ended", "logout", "expired"
# Tokens this long past their expiry are deleted when the next one is issued: they can never be redeemed.
TOKEN_KEEP = timedelta(days=1)


@dataclass(frozen=True)
class ViewAs:
    """The view in progress on this request (request.view_as), for the banner and the guard."""

    by_user_id: int
    by_email: str
    organization_id: int
    organization_name: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def view_as_account(*, organization: Organization) -> User | None:
    """The account a view opens: the organization's primary owner, else its first active owner-role member."""
    owner = organization.owner
    if owner is not None and owner.organization_id == organization.pk and owner.is_active:
        return owner
    return organization.members.filter(role=Role.OWNER, is_active=True).order_by("pk").first()


def view_as_token_issue(*, member: User, organization: Organization) -> str:
    """A token that opens `organization`'s portal as its owner for `member`, once, within TOKEN_SECONDS.

    PermissionDenied unless the member's role may view as a client; ValueError for a client of another agency
    (views resolve the client within the member's agency first, so that is a 404 before it gets here).
    """
    roles.require(member, "view_as")
    if member.managed_agency_id is None or organization.agency_id != member.managed_agency_id:
        raise ValueError("the client is not one of this member's agency")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    ViewAsToken.objects.filter(expires_at__lt=now - TOKEN_KEEP).delete()
    ViewAsToken.objects.create(
        token_hash=_hash(token),
        member=member,
        organization=organization,
        agency_id=organization.agency_id,
        created_at=now,
        expires_at=now + timedelta(seconds=TOKEN_SECONDS),
    )
    return token


def view_as_token_redeem(*, token: str, agency: Agency) -> ViewAsToken | None:
    """Use the token on `agency`'s portal: its row, or None when it is unknown, used, expired or for another
    portal, or its member may no longer view as this client. A token is used at most once, even when two
    requests race for it: one conditional UPDATE marks it used."""
    now = timezone.now()
    token_hash = _hash(token)
    used = ViewAsToken.objects.filter(
        token_hash=token_hash, agency=agency, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not used:
        return None
    grant = ViewAsToken.objects.select_related("member", "organization").get(token_hash=token_hash)
    member, organization = grant.member, grant.organization
    # The member's role or agency may have changed in the minute since the console issued it.
    if not member.is_active or member.managed_agency_id != agency.pk or not roles.can(member, "view_as"):
        return None
    if organization.agency_id != agency.pk:
        return None
    return grant


def _audit(*, action: str, by_user_id: int, organization: Organization, changes: dict[str, list[Any]]) -> None:
    actor = User.objects.filter(pk=by_user_id).first()
    audit_record(
        actor=actor,
        actor_kind="agency",
        action=action,
        agency_id=organization.agency_id,
        organization_id=organization.pk,
        obj=organization,
        changes=changes,
    )


def view_as_session_start(*, request: HttpRequest, grant: ViewAsToken) -> User | None:
    """Log this portal session in as the client's owner account, marked as a view by the grant's member.

    None (nothing changed) when the client has no owner account to open.
    """
    organization = grant.organization
    account = view_as_account(organization=organization)
    if account is None:
        return None
    previous = request.session.pop(SESSION_KEY, None)
    if previous:  # a new view replaces the one this browser was in
        view_as_end_record(data=previous, how=ENDED)
    now = timezone.now()
    expires_at = now + timedelta(minutes=SESSION_MINUTES)
    last_login = account.last_login
    with transaction.atomic():
        login(request, account, backend="agencies.backends.PortalBackend")
        # The client's own "last signed in" stays theirs: the view is not their sign-in.
        User.objects.filter(pk=account.pk).update(last_login=last_login)
        _audit(
            action="view_as.start",
            by_user_id=grant.member_id,
            organization=organization,
            changes={"account": [None, account.email], "expires_at": [None, expires_at.isoformat()]},
        )
    request.session[SESSION_KEY] = {
        "by_user_id": grant.member_id,
        "by_email": grant.member.email,
        "organization_id": organization.pk,
        "started_at": now.isoformat(),
        "expires_at": expires_at.isoformat(),
    }
    # A view never outlives the browser it was opened in.
    request.session.set_expiry(0)
    return account


def view_as_session(*, request: HttpRequest) -> ViewAs | None:
    """The view this request's session is in, or None. A mark that no longer fits the logged-in account
    (logged out meanwhile, another account) is dropped."""
    data = request.session.get(SESSION_KEY)
    if not data:
        return None
    user = request.user
    if not user.is_authenticated or user.organization_id != data["organization_id"]:
        del request.session[SESSION_KEY]
        return None
    return ViewAs(
        by_user_id=data["by_user_id"],
        by_email=data["by_email"],
        organization_id=data["organization_id"],
        organization_name=user.organization.name if user.organization else "",
        expires_at=datetime.fromisoformat(data["expires_at"]),
    )


def view_as_end_record(*, data: dict[str, Any], how: str) -> None:
    """Record that the view `data` (a session's mark) ended, and how (ENDED, LOGOUT, EXPIRED)."""
    organization = Organization.objects.filter(pk=data["organization_id"]).first()
    if organization is not None:
        _audit(
            action="view_as.end", by_user_id=data["by_user_id"], organization=organization, changes={"how": [None, how]}
        )


def view_as_session_end(*, request: HttpRequest, how: str) -> bool:
    """End the view in this session: record how and log the session out. False when it was not a view."""
    data = request.session.pop(SESSION_KEY, None)
    if not data:
        return False
    view_as_end_record(data=data, how=how)
    logout(request)
    return True
