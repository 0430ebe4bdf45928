"""API keys: created and revoked in settings, shown once, stored only as a hash, never logged."""

import hashlib
import logging
import re

import pytest
from django.test import Client

from tests.conftest import host
from tests.usage.conftest import Api, record
from usage import keys
from usage.models import ApiKey

SECRET_PATTERN = re.compile(r"wlk_[A-Za-z0-9_-]{43}")


@pytest.fixture
def portal(agency, org):
    """The client's owner, logged in on the agency's portal."""
    browser = Client(HTTP_HOST=host(agency))
    browser.force_login(org.owner)
    return browser


@pytest.fixture
def console_admin(agency):
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(agency.admin)
    return browser


def created_secret(response) -> str:
    [secret] = set(SECRET_PATTERN.findall(response.text))
    return secret


@pytest.mark.parametrize("side", ["portal", "console"])
def test_a_new_key_is_shown_once_and_stored_only_as_its_hash(request, agency, org, side):
    browser = request.getfixturevalue("portal" if side == "portal" else "console_admin")
    path = "/settings/api-keys/" if side == "portal" else "/console/api-keys/"

    created = browser.post(path, {"name": "Calling platform sync"})

    assert created.status_code == 201
    assert "no-store" in created["Cache-Control"]
    secret = created_secret(created)
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {api_key.name, api_key.prefix, api_key.key_hash}
    assert secret.startswith(api_key.prefix) and len(api_key.prefix) == 12
    owner = (api_key.organization, api_key.agency)
    assert owner == ((org, None) if side == "portal" else (None, agency))

    listed = browser.get(path)
    assert listed.status_code == 200
    assert secret not in listed.text and not SECRET_PATTERN.search(listed.text)
    assert api_key.prefix in listed.text and "Calling platform sync" in listed.text and "Never" in listed.text


def test_a_client_key_made_on_the_portal_works_and_stops_when_revoked(portal, org):
    secret = created_secret(portal.post("/settings/api-keys/", {"name": "CRM"}))
    api = Api()
    assert api.get("account", secret).json()["id"] == org.pk
    api_key = ApiKey.objects.get()
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None

    asked = portal.post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert asked.status_code == 200 and "Every request made with CRM" in asked.text
    assert api.get("account", secret).status_code == 200  # nothing until confirmed
    revoked = portal.post(f"/settings/api-keys/{api_key.pk}/revoke/", {"confirm": "1"}, follow=True)

    assert revoked.status_code == 200 and "Revoked CRM" in revoked.text
    assert api.get("account", secret).status_code == 401
    assert "Revoked" in portal.get("/settings/api-keys/").text


def test_an_agency_key_made_in_the_console_reports_usage(console_admin, agency, org):
    secret = created_secret(console_admin.post("/console/api-keys/", {"name": "Platform"}))
    response = Api().post("usage", record(org), secret)
    assert response.status_code == 201
    api_key = ApiKey.objects.get()
    console_admin.post(f"/console/api-keys/{api_key.pk}/revoke/", {"confirm": "1"})
    assert Api().post("usage", record(org), secret).status_code == 401


def test_a_key_needs_a_name(portal):
    response = portal.post("/settings/api-keys/", {"name": ""})
    assert response.status_code == 400 and not ApiKey.objects.exists()


def test_nobody_sees_or_revokes_another_tenants_keys(
    agency, org, portal, console_admin, other_agency, make_client_user
):
    theirs = ApiKey.objects.get(agency=other_agency)
    their_client_key = ApiKey.objects.get(organization=other_agency.org)
    sibling = make_client_user(agency, company_name="Sibling").organization
    sibling_key = keys.api_key_create(name="sibling", organization=sibling).api_key

    assert console_admin.post(f"/console/api-keys/{theirs.pk}/revoke/").status_code == 404
    assert portal.post(f"/settings/api-keys/{their_client_key.pk}/revoke/").status_code == 404
    assert portal.post(f"/settings/api-keys/{sibling_key.pk}/revoke/").status_code == 404
    assert "sibling" not in portal.get("/settings/api-keys/").text
    assert "other sync" not in console_admin.get("/console/api-keys/").text
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()


def test_key_pages_need_a_login(agency):
    assert Client(HTTP_HOST=host(agency)).get("/settings/api-keys/").status_code == 302
    assert Client(HTTP_HOST="localhost").get("/console/api-keys/").status_code == 302


def test_a_console_admin_cannot_reach_client_key_pages_or_the_reverse(agency, org):
    admin_on_portal = Client(HTTP_HOST=host(agency))
    admin_on_portal.force_login(agency.admin)  # a console account: not logged in on the portal
    assert admin_on_portal.get("/settings/api-keys/").status_code == 302
    client_on_console = Client(HTTP_HOST="localhost")
    client_on_console.force_login(org.owner)
    assert client_on_console.get("/console/api-keys/").status_code == 302


def test_keys_never_reach_the_logs(caplog, api, agency, org, agency_key, client_key):
    caplog.set_level(logging.DEBUG)
    api.post("usage", record(org, duration_sec=-1), agency_key)
    api.post("usage", record(org), client_key)
    api.get("nowhere", agency_key)
    keys.api_key_revoke(api_key=ApiKey.objects.get(agency=agency))
    api.get("account", agency_key)
    for secret in (agency_key, client_key):
        assert secret not in caplog.text and secret[keys.PREFIX_LENGTH :] not in caplog.text
