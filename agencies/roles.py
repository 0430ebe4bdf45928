"""Who may do what: the one table of roles and capabilities.

Console accounts have an agency role (owner, admin, billing, viewer); portal
accounts an organization role (owner, billing, member). Views, services and
API endpoints ask for a capability by name: views through agencies.access,
services through `require_actor`, the API (whose keys act with the role of
the account that created them) through `role_refusal`. docs/roles.md is the
same table in words, and tests/agencies/test_role_matrix.py walks every route
by every role.
"""

from django.core.exceptions import PermissionDenied

from .models import Role, User

OWNER, ADMIN, BILLING, VIEWER, MEMBER = Role.OWNER, Role.ADMIN, Role.BILLING, Role.VIEWER, Role.MEMBER

# capability -> (the roles that have it, what a refusal says)
AGENCY_CAPABILITIES: dict[str, tuple[frozenset[str], str]] = {
    "view": (frozenset({OWNER, ADMIN, BILLING, VIEWER}), "see this agency"),
    "clients": (frozenset({OWNER, ADMIN}), "manage clients (allocations, deductions, suspensions, notes)"),
    "packages": (frozenset({OWNER, ADMIN}), "change credit packages"),
    "branding": (frozenset({OWNER, ADMIN}), "change the portal's branding and domain"),
    "alerts": (frozenset({OWNER, ADMIN}), "change alerts"),
    "usage_sources": (frozenset({OWNER, ADMIN}), "change usage sources and API keys"),
    "billing": (frozenset({OWNER, BILLING}), "buy minutes, refund purchases or manage invoices and payment methods"),
    "exports": (frozenset({OWNER, BILLING}), "export data"),
    "view_as": (frozenset({OWNER, ADMIN}), "view the portal as a client"),
    "audit": (frozenset({OWNER, ADMIN}), "see the audit log"),
    "stripe": (frozenset({OWNER}), "change the Stripe connection"),
    "activation": (frozenset({OWNER}), "switch the portal on or off"),
    "members": (frozenset({OWNER}), "manage members and invitations"),
    "security": (frozenset({OWNER}), "change the agency's sign-in requirements"),
}

ORGANIZATION_CAPABILITIES: dict[str, tuple[frozenset[str], str]] = {
    "view": (frozenset({OWNER, BILLING, MEMBER}), "see this organization"),
    "api_keys": (frozenset({OWNER, BILLING, MEMBER}), "create API keys"),  # a member sees and revokes only its own
    "buy": (frozenset({OWNER, BILLING}), "buy credits"),
    "payment_methods": (frozenset({OWNER, BILLING}), "manage payment methods and auto-reload"),
    "invoices": (frozenset({OWNER, BILLING}), "see invoices or change billing details"),
    "alerts": (frozenset({OWNER, BILLING}), "change alerts"),
    "audit": (frozenset({OWNER}), "see the audit log"),
    "members": (frozenset({OWNER}), "manage members and invitations"),
}


def _table(user: User) -> dict[str, tuple[frozenset[str], str]]:
    return AGENCY_CAPABILITIES if user.organization_id is None else ORGANIZATION_CAPABILITIES


def can(user: User, capability: str) -> bool:
    """Whether `user` (a console or portal account) has `capability` for its own tenant."""
    roles, _ = _table(user)[capability]  # a KeyError here is a typo in the caller, not a refusal
    return user.is_authenticated and user.role in roles


def role_refusal(role: str, capability: str, *, organization: bool) -> str | None:
    """For a role held without an account at hand (an API key acts with its creator's): None when `role`
    has `capability` in a client organization's table (`organization`) or an agency's, else what it may not do."""
    roles, what = (ORGANIZATION_CAPABILITIES if organization else AGENCY_CAPABILITIES)[capability]
    return None if role in roles else what


def require(user: User, capability: str) -> None:
    """PermissionDenied (403, with a plain message) unless `user` has `capability`."""
    if not can(user, capability):
        _, what = _table(user)[capability]
        raise PermissionDenied(f"Your role ({user.get_role_display()}) may not {what}. Ask an owner.")


def require_actor(actor: User | None, *, agency: str | None = None, organization: str | None = None) -> None:
    """For services: the person acting must have `agency` (a console account) or `organization` (a portal
    account); a kind of account the service names no capability for is refused. The system (None) may."""
    if actor is None:
        return
    capability = organization if actor.organization_id is not None else agency
    if capability is None:
        raise PermissionDenied("This account may not do this.")
    require(actor, capability)
