"""The alert settings and usage sync pages: bad input refused with a reason, secrets shown once, status shown."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ops import alerts
from ops.models import AlertDelivery, AlertSettings, UsageSource
from ops.pull import source_pull
from tests.conftest import NOON, host
from tests.ops.conftest import call
from usage.ingest import usage_ingest


@pytest.fixture
def portal(client_user, agency):
    client = Client(HTTP_HOST=host(agency))
    client.force_login(client_user)
    return client


@pytest.fixture
def console(agency):
    client = Client(HTTP_HOST="localhost")
    client.force_login(agency.admin)
    return client


def test_a_client_sets_a_threshold_and_a_webhook_and_sees_the_secret_once(portal, org):
    response = portal.post("/settings/alerts/", {"threshold": "50", "webhook_url": "https://hooks.example.com/low"})

    assert response.status_code == 200
    secret = AlertSettings.objects.get(organization=org).signing_secret
    assert secret.startswith("whsec_") and secret in response.text
    assert "no-store" in response["Cache-Control"]
    later = portal.get("/settings/alerts/")
    assert secret not in later.text and 'value="50"' in later.text
    assert "https://hooks.example.com/low" in later.text

    asked = portal.post("/settings/alerts/secret/")
    assert "The current secret stops working at once" in asked.text
    assert AlertSettings.objects.get(organization=org).signing_secret == secret  # nothing until confirmed
    rolled = portal.post("/settings/alerts/secret/", {"confirm": "1"})
    new = AlertSettings.objects.get(organization=org).signing_secret
    assert new != secret and new in rolled.text and secret not in rolled.text


def test_saving_again_keeps_the_secret_and_does_not_show_it(portal, org):
    portal.post("/settings/alerts/", {"threshold": "50", "webhook_url": "https://hooks.example.com/low"})
    secret = AlertSettings.objects.get(organization=org).signing_secret
    response = portal.post("/settings/alerts/", {"threshold": "40", "webhook_url": "https://hooks.example.com/low"})
    assert response.status_code == 302
    row = AlertSettings.objects.get(organization=org)
    org.refresh_from_db()
    assert (org.low_balance_threshold, row.signing_secret) == (40, secret)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"threshold": "abc"}, "Enter a whole number."),
        ({"threshold": "0"}, "Enter at least 1, or leave it empty."),
        ({"threshold": "-5"}, "Enter at least 1, or leave it empty."),
        ({"threshold": "10", "webhook_url": "ftp://hooks.example.com"}, "Enter a full http:// or https:// address."),
        (
            {"threshold": "10", "webhook_url": "http://169.254.169.254/latest"},
            "Enter an address on the public internet.",
        ),
    ],
)
def test_bad_alert_settings_get_a_reason_and_change_nothing(portal, org, settings, data, message):
    settings.OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    response = portal.post("/settings/alerts/", data)
    assert response.status_code == 400
    assert message in response.text
    assert not AlertSettings.objects.exists()


def test_deliveries_are_listed_with_their_status(portal, org, receiver):
    portal.post("/settings/alerts/", {"threshold": "50", "webhook_url": receiver.url})
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=60)])
    alerts.crossings_deliver()  # the sweep takes the crossing
    receiver.statuses = [500]
    from ops.deliveries import delivery_attempt

    for delivery in AlertDelivery.objects.all():
        delivery_attempt(delivery_id=delivery.pk)

    page = portal.get("/settings/alerts/").text
    assert page.count('data-testid="delivery-row"') == 2
    assert "HTTP 500" in page and ">Pending<" in page and ">Delivered<" in page


def test_an_agency_sets_its_minutes_threshold_on_the_console(console, agency):
    response = console.post("/console/ops/alerts/", {"threshold": "5000", "webhook_url": ""})
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.low_balance_threshold == 5000
    assert "10,000" in console.get("/console/ops/alerts/").text


def test_another_tenant_cannot_reach_a_clients_alerts(agency, org, make_agency, make_client_user):
    other = make_agency(active=True)
    stranger = make_client_user(other)
    client = Client(HTTP_HOST=host(agency))
    client.force_login(stranger)  # an account of another portal: not logged in here
    assert client.get("/settings/alerts/").status_code == 302
    console_on_portal = Client(HTTP_HOST=host(agency))
    console_on_portal.force_login(agency.admin)
    assert console_on_portal.get("/settings/alerts/").status_code in (302, 404)


# --- Usage sync -----------------------------------------------------------------------


def test_an_agency_configures_a_source_and_the_key_is_never_shown(
    console, agency, upstream, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = console.post(
            "/console/ops/usage-source/",
            {
                "base_url": upstream.url + "/",
                "api_key": upstream.key,
                "start_date": str(timezone.now().date()),
                "enabled": "on",
            },
        )
    assert response.status_code == 302
    source = UsageSource.objects.get(agency=agency)
    assert (source.base_url, source.api_key) == (upstream.url, upstream.key)
    page = console.get("/console/ops/usage-source/").text
    assert upstream.key not in page and 'data-testid="last-success"' in page and "never" in page

    # Saving without a key keeps the saved one.
    console.post(
        "/console/ops/usage-source/",
        {"base_url": upstream.url, "api_key": "", "start_date": str(timezone.now().date()), "enabled": "on"},
    )
    assert UsageSource.objects.get(agency=agency).api_key == upstream.key


def test_removing_the_usage_source_asks_first_and_names_the_consequence(
    console, agency, upstream, django_capture_on_commit_callbacks
):
    # Defect 9: the source was removed in one click.
    with django_capture_on_commit_callbacks(execute=False):
        console.post(
            "/console/ops/usage-source/",
            {"base_url": upstream.url, "api_key": upstream.key, "start_date": str(timezone.now().date())},
        )
    asked = console.post("/console/ops/usage-source/delete/")
    assert asked.status_code == 200
    assert f"Calls are no longer pulled from {upstream.url}" in asked.text
    assert UsageSource.objects.filter(agency=agency).exists()
    console.post("/console/ops/usage-source/delete/", {"confirm": "1"})
    assert not UsageSource.objects.filter(agency=agency).exists()


def test_rolling_the_agencys_alert_secret_asks_first(console, agency):
    console.post("/console/ops/alerts/", {"threshold": "50", "webhook_url": "https://hooks.example.com/low"})
    secret = AlertSettings.objects.get(agency=agency).signing_secret
    asked = console.post("/console/ops/alerts/secret/")
    assert "The current secret stops working at once" in asked.text and secret not in asked.text
    assert AlertSettings.objects.get(agency=agency).signing_secret == secret
    rolled = console.post("/console/ops/alerts/secret/", {"confirm": "1"})
    assert AlertSettings.objects.get(agency=agency).signing_secret in rolled.text


@pytest.mark.parametrize(
    "data, message",
    [
        ({"base_url": "not a url", "api_key": "k"}, "Enter a full http:// or https:// address."),
        ({"base_url": "https://api.example.com"}, "Enter the API key the calling platform gave you."),
        ({"base_url": "https://api.example.com?x=1", "api_key": "k"}, "without ? or #"),
        (
            {"base_url": "https://api.example.com", "api_key": "k", "start_date": "2999-01-01"},
            "Choose today or a day before.",
        ),
    ],
)
def test_bad_source_settings_get_a_reason_and_change_nothing(console, data, message):
    data = {"start_date": str(timezone.now().date()), "enabled": "on", **data}
    response = console.post("/console/ops/usage-source/", data)
    assert response.status_code == 400
    assert message in response.text
    assert not UsageSource.objects.exists()


@pytest.mark.now(NOON)  # the call, made minutes ago, must fall on the source's start date
def test_the_console_shows_the_last_successful_sync_and_the_last_error(console, agency, org, upstream):
    source = UsageSource.objects.create(
        agency=agency, base_url=upstream.url, api_key=upstream.key, start_date=timezone.now().date()
    )
    upstream.records = [call(org, minutes=2)]
    source_pull(source_id=source.pk)
    UsageSource.objects.filter(pk=source.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    upstream.script = [502]
    source_pull(source_id=source.pk)

    page = console.get("/console/ops/usage-source/").text
    source.refresh_from_db()
    assert source.last_success_at.strftime("%Y-%m-%d %H:%M:%S") in page
    assert "The usage API answered HTTP 502." in page
    assert "1 failed run in a row" in page and "1 applied" in page


def test_sync_now_queues_a_pull_of_the_agencys_own_source(
    console, agency, upstream, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from ops.tasks import usage_source_pull

    source = UsageSource.objects.create(
        agency=agency,
        base_url=upstream.url,
        api_key=upstream.key,
        start_date=timezone.now().date(),
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert console.post("/console/ops/usage-source/sync/").status_code == 302
    [queued] = DBTaskResult.objects.filter(task_path=usage_source_pull.module_path)
    assert queued.args_kwargs["args"] == [source.pk]
    source.refresh_from_db()
    assert source.next_attempt_at <= timezone.now()


def test_the_operator_sets_up_a_platform_wide_source_in_admin_and_never_sees_its_key(db, upstream):
    from agencies.models import User

    operator = User.objects.create_superuser("operator@example.com", "x")
    admin = Client(HTTP_HOST="localhost")
    admin.force_login(operator)
    form = {
        "agency": "",
        "name": "Calling platform",
        "base_url": upstream.url + "/",
        "enabled": "on",
        "start_date": str(timezone.now().date()),
        "synced_through": "",
    }

    refused = admin.post("/admin/ops/usagesource/add/", form)
    assert refused.status_code == 200 and "Enter the API key" in refused.text
    assert admin.post("/admin/ops/usagesource/add/", {**form, "new_api_key": upstream.key}).status_code == 302

    source = UsageSource.objects.get()
    assert (source.agency_id, source.base_url, source.api_key) == (None, upstream.url, upstream.key)
    page = admin.get(f"/admin/ops/usagesource/{source.pk}/change/")
    assert page.status_code == 200 and upstream.key not in page.text


def test_the_operator_changing_a_sources_address_in_admin_starts_its_sync_over(db, agency, upstream):
    from datetime import date

    from agencies.models import User

    operator = User.objects.create_superuser("operator@example.com", "x")
    admin = Client(HTTP_HOST="localhost")
    admin.force_login(operator)
    source = UsageSource.objects.create(
        agency=agency,
        base_url="https://old.example.com",
        api_key="old-key",
        start_date=date(2026, 1, 1),
        synced_through=date(2026, 2, 1),
        failures=3,
    )
    # As the change page posts it back (the mark is shown, not edited).
    form = {
        "agency": str(agency.pk),
        "name": "Calling platform",
        "enabled": "on",
        "start_date": "2026-01-01",
        "synced_through": "2026-02-01",
    }

    # The same address: the high-water mark stays, as when the agency saves it on the console.
    assert (
        admin.post(
            f"/admin/ops/usagesource/{source.pk}/change/", {**form, "base_url": "https://old.example.com"}
        ).status_code
        == 302
    )
    source.refresh_from_db()
    assert (source.synced_through, source.failures, source.api_key) == (date(2026, 2, 1), 0, "old-key")

    assert (
        admin.post(
            f"/admin/ops/usagesource/{source.pk}/change/",
            {**form, "base_url": upstream.url, "new_api_key": upstream.key},
        ).status_code
        == 302
    )
    source.refresh_from_db()
    assert (source.base_url, source.api_key, source.synced_through, source.name) == (
        upstream.url,
        upstream.key,
        None,
        "Calling platform",
    )
    assert source.next_attempt_at <= timezone.now()
