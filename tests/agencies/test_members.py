"""Members: role changes, removal and ownership transfer keep an owner, stay within the tenant, are audited."""

import pytest

from agencies import members
from agencies.models import AuditEntry, Role, User
from tests.conftest import PASSWORD, host


def _console_member(agency, role, email=None):
    return User.objects.create_user(email or f"{role}@members.example", PASSWORD, managed_agency=agency, role=role)


def test_last_owner_cannot_be_demoted_or_removed(make_agency):
    agency = make_agency()
    other = _console_member(agency, Role.OWNER, "second@members.example")
    members.member_remove(actor=agency.admin, member=other)
    logged = AuditEntry.objects.count()  # make_agency's own entries (branding.change) come before
    with pytest.raises(members.MemberRefused, match="only owner"):
        members.member_role_change(actor=agency.admin, member=agency.admin, role=Role.ADMIN)
    agency.admin.refresh_from_db()
    assert agency.admin.role == Role.OWNER
    assert AuditEntry.objects.count() == logged  # the refused demotion recorded nothing
    assert list(AuditEntry.objects.filter(action__startswith="member.").values_list("action", flat=True)) == [
        "member.remove"
    ]


def test_role_change_is_audited_with_before_and_after(make_agency):
    agency = make_agency()
    viewer = _console_member(agency, Role.VIEWER)
    members.member_role_change(actor=agency.admin, member=viewer, role=Role.BILLING)
    viewer.refresh_from_db()
    assert viewer.role == Role.BILLING
    entry = AuditEntry.objects.get(action="member.role")
    assert entry.changes == {"role": ["viewer", "billing"]} and entry.agency_id == agency.pk


def test_client_ownership_transfer_moves_the_organization_owner(make_agency, make_client_user):
    agency = make_agency()
    owner = make_client_user(agency)
    org = owner.organization
    member = User.objects.create_user("m@client.example", PASSWORD, agency=agency, organization=org, role=Role.MEMBER)
    members.ownership_transfer(actor=owner, member=member, previous_owner_role=Role.BILLING)
    org.refresh_from_db()
    owner.refresh_from_db()
    member.refresh_from_db()
    assert (org.owner_id, member.role, owner.role) == (member.pk, Role.OWNER, Role.BILLING)
    entry = AuditEntry.objects.get(action="member.ownership")
    assert entry.organization_id == org.pk and entry.changes["owner"] == [owner.email, member.email]


def test_a_non_owner_cannot_manage_members(make_agency):
    agency = make_agency()
    admin = _console_member(agency, Role.ADMIN)
    viewer = _console_member(agency, Role.VIEWER)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        members.member_role_change(actor=admin, member=viewer, role=Role.ADMIN)


def test_another_agencys_member_is_404(console, make_agency):
    agency, other = make_agency(), make_agency()
    stranger = _console_member(other, Role.VIEWER)
    console.force_login(agency.admin)
    assert console.post(f"/console/members/{stranger.pk}/role/", {"role": "admin"}).status_code == 404
    assert console.post(f"/console/members/{stranger.pk}/remove/", {"confirm": "1"}).status_code == 404
    stranger.refresh_from_db()
    assert stranger.role == Role.VIEWER


def test_members_page_changes_a_role_and_refuses_a_viewer(console, make_agency):
    agency = make_agency()
    viewer = _console_member(agency, Role.VIEWER)
    console.force_login(agency.admin)
    assert viewer.email in console.get("/console/members/").content.decode()
    assert console.post(f"/console/members/{viewer.pk}/role/", {"role": "admin"}).status_code == 302
    viewer.refresh_from_db()
    assert viewer.role == Role.ADMIN
    console.force_login(_console_member(agency, Role.VIEWER, "v2@members.example"))
    refused = console.get("/console/members/")
    assert refused.status_code == 403 and "may not manage members" in refused.content.decode()


def test_a_member_sees_and_revokes_only_its_own_keys(client, make_agency, make_client_user):
    from usage import keys

    agency = make_agency(active=True)
    owner = make_client_user(agency)
    member = User.objects.create_user(
        "k@client.example", PASSWORD, agency=agency, organization=owner.organization, role=Role.MEMBER
    )
    theirs = keys.api_key_create(name="owner-key", organization=owner.organization, created_by=owner).api_key
    keys.api_key_create(name="member-key", organization=owner.organization, created_by=member)
    client.defaults["HTTP_HOST"] = host(agency)
    client.force_login(member)
    page = client.get("/settings/api-keys/").content.decode()
    assert "member-key" in page and "owner-key" not in page
    assert client.post(f"/settings/api-keys/{theirs.pk}/revoke/", {"confirm": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
