"""Members pages, for an agency's owners (console) and a client organization's owners (portal): each member's
role, changing it, removing a member, handing ownership on. One set of views serves both; `_Place` says which."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.confirm import confirm_page, confirmed

from . import access, members
from .models import Agency, Organization, Role, User


@dataclass(frozen=True)
class _Place:
    tenant: Agency | Organization
    base: str  # the layout
    ns: str  # URL names: f"{ns}:members" ...

    def url(self, name: str, *args) -> str:
        return reverse(f"{self.ns}:{name}", args=args or None)

    @property
    def roles(self) -> list[tuple[str, str]]:
        return [(role.value, role.label) for role in members.tenant_roles(tenant=self.tenant)]


def _place(request, console: bool) -> _Place:
    if console:
        return _Place(access.agency_or_404(request, capability="members"), "console/base.html", "console")
    return _Place(access.organization_or_404(request, capability="members"), "base.html", "portal_members")


def _member_or_404(place: _Place, member_id: int) -> User:
    """A member of this tenant only: another agency's or organization's account is 404."""
    return get_object_or_404(members.tenant_members(tenant=place.tenant), pk=member_id)


def _page(request, place: _Place, *, error: str = "", status: int = 200):
    context = {
        "place": place,
        "members": members.tenant_members(tenant=place.tenant),
        "roles": place.roles,
        "kept_roles": [(value, label) for value, label in place.roles if value != Role.OWNER],
        "error": error,
    }
    if isinstance(place.tenant, Agency):
        context["agency"] = place.tenant
    else:
        context["organization"] = place.tenant
    return render(request, "console/members.html", context, status=status)


def _members(request, console: bool):
    return _page(request, _place(request, console))


def _role(request, console: bool, member_id: int):
    place = _place(request, console)
    member = _member_or_404(place, member_id)
    role = request.POST.get("role", "")
    if role not in dict(place.roles):
        return _page(request, place, error="Choose one of the roles listed.", status=400)
    try:
        members.member_role_change(actor=request.user, member=member, role=role)
    except members.MemberRefused as refused:
        return _page(request, place, error=str(refused), status=409)
    messages.success(request, f"{member.email} is now {Role(role).label.lower()}.")
    return redirect("/" if member.pk == request.user.pk else place.url("members"))  # an owner who stepped down


def _remove(request, console: bool, member_id: int):
    place = _place(request, console)
    member = _member_or_404(place, member_id)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Remove {member.email}?",
            consequences=[
                f"{member.email} can no longer sign in here; their account is deleted.",
                "What they did stays in the records and the audit log.",
            ],
            button="Remove member",
            action=place.url("member_remove", member.pk),
            cancel_url=place.url("members"),
            base=place.base,
        )
    email = member.email
    try:
        members.member_remove(actor=request.user, member=member)
    except members.MemberRefused as refused:
        return _page(request, place, error=str(refused), status=409)
    messages.success(request, f"Removed {email}.")
    return redirect(place.url("members"))


def _transfer(request, console: bool, member_id: int):
    place = _place(request, console)
    member = _member_or_404(place, member_id)
    kept = request.POST.get("previous_owner_role", "")
    if kept == Role.OWNER or kept not in dict(place.roles):
        return _page(request, place, error="Choose the role you keep after the transfer.", status=400)
    if not confirmed(request):
        return confirm_page(
            request,
            title=f"Make {member.email} the owner?",
            consequences=[
                f"{member.email} becomes an owner; you become {Role(kept).label.lower()}.",
                "Only an owner can give ownership back.",
            ],
            button="Transfer ownership",
            action=place.url("member_transfer", member.pk),
            cancel_url=place.url("members"),
            fields=[("previous_owner_role", kept)],
            base=place.base,
        )
    try:
        members.ownership_transfer(actor=request.user, member=member, previous_owner_role=kept)
    except members.MemberRefused as refused:
        return _page(request, place, error=str(refused), status=409)
    messages.success(request, f"{member.email} is now the owner.")
    return redirect("/")  # the former owner may no longer see the members page


# --- Routes: the agency's console and the client's portal ---------------------------


@login_required
def console_members(request):
    return _members(request, True)


@login_required
@require_POST
def console_member_role(request, member_id: int):
    return _role(request, True, member_id)


@login_required
@require_POST
def console_member_remove(request, member_id: int):
    return _remove(request, True, member_id)


@login_required
@require_POST
def console_member_transfer(request, member_id: int):
    return _transfer(request, True, member_id)


@login_required
def portal_members(request):
    return _members(request, False)


@login_required
@require_POST
def portal_member_role(request, member_id: int):
    return _role(request, False, member_id)


@login_required
@require_POST
def portal_member_remove(request, member_id: int):
    return _remove(request, False, member_id)


@login_required
@require_POST
def portal_member_transfer(request, member_id: int):
    return _transfer(request, False, member_id)
