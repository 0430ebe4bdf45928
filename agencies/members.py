"""Members of an agency (its console accounts) or of a client organization (its portal accounts): their roles,
removing one, and handing ownership on. Adding members is the invitations' job.

Every change locks the tenant's row first, so two owners demoting each other at the same moment cannot
both succeed: an agency or an organization always keeps at least one owner. Each change is an audit
entry, recorded in the same transaction.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When

from . import roles
from .audit import audit_record, changes_between, snapshot
from .models import AGENCY_ROLES, ORGANIZATION_ROLES, Agency, Organization, Role, User


class MemberRefused(Exception):
    """The change would break a rule (the last owner, yourself); the message says which. Nothing changed."""


def tenant_members(*, tenant: Agency | Organization) -> QuerySet[User]:
    """The accounts of an agency (console) or of a client organization (portal), owners first."""
    if isinstance(tenant, Organization):
        members = User.objects.filter(organization_id=tenant.pk, agency_id=tenant.agency_id)
    else:
        members = User.objects.filter(managed_agency_id=tenant.pk)
    owners_first = Case(When(role=Role.OWNER, then=Value(0)), default=Value(1), output_field=IntegerField())
    return members.annotate(owners_first=owners_first).order_by("owners_first", "email")


def tenant_roles(*, tenant: Agency | Organization) -> list[Role]:
    return ORGANIZATION_ROLES if isinstance(tenant, Organization) else AGENCY_ROLES


def _tenant_of(user: User) -> tuple[type[Agency] | type[Organization], int | None]:
    if user.organization_id is not None:
        return Organization, user.organization_id
    return Agency, user.managed_agency_id


def _locked(actor: User, member: User) -> tuple[Agency | Organization, QuerySet[User], User]:
    """Lock the tenant's row, then read the member again under it. Another tenant's member: PermissionDenied
    (views find members within their own tenant, so this is a bug's last guard, not a user's path)."""
    roles.require(actor, "members")
    model, tenant_id = _tenant_of(actor)
    if tenant_id is None or _tenant_of(member) != (model, tenant_id):
        raise PermissionDenied("This account is not a member here.")
    tenant = model.objects.select_for_update().get(pk=tenant_id)
    members = tenant_members(tenant=tenant)
    return tenant, members, User.objects.select_for_update().get(pk=member.pk)


def _record(*, actor: User, action: str, tenant: Agency | Organization, member: User, changes: dict) -> None:
    """The audit entry, in the agency's log (and the organization's, for a client's member)."""
    if isinstance(tenant, Organization):
        agency_id, organization_id = tenant.agency_id, tenant.pk
    else:
        agency_id, organization_id = tenant.pk, None
    audit_record(
        actor=actor, action=action, agency_id=agency_id, organization_id=organization_id, obj=member, changes=changes
    )


def _other_owner(members: QuerySet[User], member: User) -> User | None:
    return members.filter(role=Role.OWNER).exclude(pk=member.pk).order_by("date_joined", "pk").first()


def _keep_primary_owner(tenant: Agency | Organization, members: QuerySet[User], leaving: User) -> None:
    """An organization's primary owner (Organization.owner) passes to another owner when it stops being one."""
    if isinstance(tenant, Organization) and tenant.owner_id == leaving.pk:
        tenant.owner = _other_owner(members, leaving)
        tenant.save(update_fields=["owner"])


def member_role_change(*, actor: User, member: User, role: str) -> User:
    """Give `member` another role of its tenant. The last owner cannot be demoted: transfer ownership first."""
    with transaction.atomic():
        tenant, members, member = _locked(actor, member)
        if role not in tenant_roles(tenant=tenant):
            raise MemberRefused(f"“{role}” is not a role here.")
        before = snapshot(member, ["role"])
        if member.role == Role.OWNER and role != Role.OWNER:
            if _other_owner(members, member) is None:
                raise MemberRefused(
                    f"{member.email} is the only owner. Make someone else owner first (transfer ownership)."
                )
        member.role = role
        member.save(update_fields=["role"])
        if role != Role.OWNER:
            _keep_primary_owner(tenant, members, member)
        changes = changes_between(before, snapshot(member, ["role"]))
        _record(actor=actor, action="member.role", tenant=tenant, member=member, changes=changes)
    return member


def member_remove(*, actor: User, member: User) -> None:
    """Remove `member`: its account is deleted (accounts belong to one tenant), its sessions with it.

    Nobody removes themselves here, and the last owner stays.
    """
    with transaction.atomic():
        tenant, members, member = _locked(actor, member)
        if member.pk == actor.pk:
            raise MemberRefused("You cannot remove yourself. Ask another owner to do it.")
        if member.role == Role.OWNER and _other_owner(members, member) is None:
            raise MemberRefused(f"{member.email} is the only owner and cannot be removed.")
        _keep_primary_owner(tenant, members, member)
        changes = {"email": [member.email, None], "role": [member.role, None]}
        _record(actor=actor, action="member.remove", tenant=tenant, member=member, changes=changes)
        member.delete()


def ownership_transfer(*, actor: User, member: User, previous_owner_role: str) -> User:
    """Make `member` an owner and the acting owner `previous_owner_role`; an organization's primary owner
    (Organization.owner) becomes `member`."""
    with transaction.atomic():
        tenant, _members, member = _locked(actor, member)
        actor_now = User.objects.select_for_update().get(pk=actor.pk)
        if member.pk == actor.pk:
            raise MemberRefused("You are the owner already: choose another member.")
        if actor_now.role != Role.OWNER:
            raise MemberRefused("Only an owner can hand ownership on.")
        if previous_owner_role == Role.OWNER or previous_owner_role not in tenant_roles(tenant=tenant):
            raise MemberRefused("Choose the role you keep after the transfer (not owner).")
        changes = {
            "role": [member.role, Role.OWNER.value],
            "previous_owner_role": [Role.OWNER.value, previous_owner_role],
            "owner": [actor_now.email, member.email],
        }
        member.role = Role.OWNER
        member.save(update_fields=["role"])
        actor_now.role = previous_owner_role
        actor_now.save(update_fields=["role"])
        actor.role = previous_owner_role  # the caller's copy (request.user) too
        if isinstance(tenant, Organization):
            tenant.owner = member
            tenant.save(update_fields=["owner"])
        _record(actor=actor, action="member.ownership", tenant=tenant, member=member, changes=changes)
    return member
