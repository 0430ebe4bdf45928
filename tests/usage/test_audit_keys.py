"""API keys made and revoked are audit entries naming the key by its name and prefix, never the key."""

import pytest
from django.test import Client

from agencies.models import AuditEntry
from tests.conftest import host
from usage.models import ApiKey


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


@pytest.mark.django_db
def test_a_client_creates_and_revokes_a_key_in_its_organizations_log(make_agency, make_client_user):
    agency = make_agency(active=True)
    user = make_client_user(agency)
    portal = Client(HTTP_HOST=host(agency))
    portal.force_login(user)
    response = portal.post("/settings/api-keys/", {"name": "CRM"})
    assert response.status_code == 201
    key = ApiKey.objects.get(organization=user.organization)
    created = last("api_key.create")
    assert (created.actor_id, created.agency_id, created.organization_id, created.object_id) == (
        user.pk,
        agency.pk,
        user.organization_id,
        str(key.pk),
    )
    assert created.changes == {"name": [None, "CRM"], "prefix": [None, key.prefix]}
    secret = response.context["new_key"].secret
    assert secret not in str(created.changes) and secret not in created.object_repr

    portal.post(f"/settings/api-keys/{key.pk}/revoke/", {"confirm": "1"})
    revoked = last("api_key.revoke")
    assert (revoked.actor_id, revoked.object_id, revoked.changes) == (user.pk, str(key.pk), {"revoked": [False, True]})


@pytest.mark.django_db
def test_an_agency_key_is_in_the_agencys_log(console, make_agency):
    agency = make_agency(active=True)
    console.force_login(agency.admin)
    console.post("/console/api-keys/", {"name": "Dialer"})
    entry = last("api_key.create")
    assert (entry.agency_id, entry.organization_id, entry.actor_id) == (agency.pk, None, agency.admin.pk)
