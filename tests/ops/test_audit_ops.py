"""Alert settings and usage sources changed in the console or on the portal are audit entries, secrets never."""

import pytest
from django.test import Client
from django.utils import timezone

from agencies.models import AuditEntry
from ops.models import AlertSettings
from tests.conftest import host


def last(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


@pytest.fixture
def console(agency):
    client = Client(HTTP_HOST="localhost")
    client.force_login(agency.admin)
    return client


def test_the_agencys_alert_settings_and_secret_roll_are_recorded_without_the_secret(console, agency):
    url = "https://hooks.example.com/low"
    assert console.post("/console/ops/alerts/", {"threshold": "50", "webhook_url": url}).status_code == 200
    secret = AlertSettings.objects.get(agency=agency).signing_secret
    entry = last("alerts.change")
    assert (entry.actor_id, entry.agency_id, entry.organization_id, entry.ip) == (
        agency.admin.pk,
        agency.pk,
        None,
        "127.0.0.1",
    )
    assert entry.changes == {
        "signing_secret": ["changed", "changed"],
        "threshold": [None, 50],
        "webhook_url": ["", url],
    }
    console.post("/console/ops/alerts/secret/", {"confirm": "1"})
    rolled = last("alerts.secret_roll")
    assert rolled.changes == {"signing_secret": ["changed", "changed"]}
    new_secret = AlertSettings.objects.get(agency=agency).signing_secret
    assert secret not in str(list(AuditEntry.objects.values_list("changes", flat=True)))
    assert new_secret not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_a_clients_alert_change_is_in_its_organizations_log(agency, client_user):
    portal = Client(HTTP_HOST=host(agency))
    portal.force_login(client_user)
    portal.post("/settings/alerts/", {"threshold": "20", "webhook_url": ""})
    entry = last("alerts.change")
    assert (entry.actor_id, entry.actor_kind, entry.agency_id, entry.organization_id) == (
        client_user.pk,
        "client",
        agency.pk,
        client_user.organization_id,
    )
    assert entry.changes == {"threshold": [None, 20]}


def test_usage_source_create_change_and_removal_are_recorded_with_the_key_hidden(
    console, agency, upstream, django_capture_on_commit_callbacks
):
    today = str(timezone.now().date())
    with django_capture_on_commit_callbacks(execute=False):
        console.post(
            "/console/ops/usage-source/",
            {"base_url": upstream.url, "api_key": upstream.key, "start_date": today, "enabled": "on"},
        )
        created = last("usage_source.create")
        assert created.changes["api_key"] == ["changed", "changed"]
        assert created.changes["base_url"] == [None, upstream.url]
        assert created.actor_id == agency.admin.pk and created.agency_id == agency.pk

        console.post("/console/ops/usage-source/", {"base_url": upstream.url, "api_key": "", "start_date": today})
        assert last("usage_source.change").changes == {"enabled": [True, False]}

    console.post("/console/ops/usage-source/delete/", {"confirm": "1"})
    removed = last("usage_source.delete")
    assert removed.changes["base_url"] == [upstream.url, None]
    assert upstream.key not in str(list(AuditEntry.objects.values_list("changes", flat=True)))
