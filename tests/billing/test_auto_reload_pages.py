"""The auto-reload settings pages: a client's on its portal, an agency's (platform minutes) in the console."""

import pytest

from billing.models import AutoReload, AutoReloadConsent
from tests.billing.topups import saved_method
from tests.conftest import host

pytestmark = pytest.mark.django_db

FORM = {"enabled": "on", "threshold": "50", "amount": "20.00", "monthly_cap": "100"}


@pytest.fixture
def client_user(stripe_agency, make_client_user):
    user = make_client_user(stripe_agency(), email="payer@example.com")
    user.method = saved_method(user.organization.agency, user.organization, "pm_card_mastercard")
    return user


def _form(user, **extra):
    return {**FORM, "payment_method_id": user.method, **extra}


def test_a_client_turns_auto_reload_on_and_sees_its_consent(client, client_user):
    client.force_login(client_user)
    agency_host = host(client_user.organization.agency)
    response = client.post("/billing/auto-reload/", _form(client_user), HTTP_HOST=agency_host)
    assert response.status_code == 302, response.text
    setting = AutoReload.objects.get(organization=client_user.organization)
    assert (setting.enabled, setting.threshold, setting.amount_cents, setting.monthly_cap_cents) == (
        True,
        50,
        2000,
        10000,
    )
    consent = AutoReloadConsent.objects.get()
    assert (consent.by, consent.user, consent.amount_cents) == ("payer@example.com", client_user, 2000)
    page = client.get("/billing/auto-reload/", HTTP_HOST=agency_host).text
    assert 'data-testid="enabled"' in page and "Mastercard ending 4444, expires 12/" in page
    assert "Agreed by <strong>payer@example.com</strong>" in page and "€100.00" in page


def test_a_cap_below_the_amount_is_a_form_error_and_changes_nothing(client, client_user):
    client.force_login(client_user)
    response = client.post(
        "/billing/auto-reload/", _form(client_user, monthly_cap="10"), HTTP_HOST=host(client_user.organization.agency)
    )
    assert response.status_code == 400
    assert "monthly cap must be at least the amount" in response.text
    assert not AutoReload.objects.exists()


def test_a_paused_auto_reload_says_why_and_turning_it_on_clears_it(client, client_user):
    client.force_login(client_user)
    agency_host = host(client_user.organization.agency)
    client.post("/billing/auto-reload/", _form(client_user), HTTP_HOST=agency_host)
    AutoReload.objects.update(paused_at="2026-11-01T00:00:00Z", paused_reason="the card was declined as lost card.")
    page = client.get("/billing/auto-reload/", HTTP_HOST=agency_host).text
    assert 'data-testid="paused"' in page and "lost card" in page
    client.post("/billing/auto-reload/", _form(client_user), HTTP_HOST=agency_host)
    assert AutoReload.objects.get().paused_at is None


def test_an_agency_sets_auto_reload_for_its_platform_minutes(console, make_agency, stripe_platform):
    agency = make_agency(active=True)
    method = saved_method(agency, None, stand_in=stripe_platform)
    console.force_login(agency.admin)
    response = console.post("/console/billing/minutes/auto-reload/", {**FORM, "payment_method_id": method})
    assert response.status_code == 302
    setting = AutoReload.objects.get(agency=agency)
    assert setting.enabled and setting.organization is None
    assert AutoReloadConsent.objects.get().by == agency.admin.email
    assert "Monthly cap (EUR)" in console.get("/console/billing/minutes/auto-reload/").text


def test_the_page_needs_a_login(client, client_user):
    response = client.get("/billing/auto-reload/", HTTP_HOST=host(client_user.organization.agency))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_method_that_is_not_the_clients_is_a_form_error(client, client_user, make_client_user):
    neighbour = make_client_user(client_user.organization.agency).organization
    theirs = saved_method(neighbour.agency, neighbour)
    client.force_login(client_user)
    response = client.post(
        "/billing/auto-reload/", {**FORM, "payment_method_id": theirs}, HTTP_HOST=host(client_user.organization.agency)
    )
    assert response.status_code == 400 and "Select a valid choice" in response.text
    assert not AutoReload.objects.exists()
