"""A suspended client: its calls get 402 organization_suspended (not the seed's insufficient_credits),
its portal says why, it can still buy credits; resuming lets calls through again."""

from django.test import Client

from agencies import services
from tests.conftest import host
from usage.models import Reservation
from usage.reservations import SUSPENDED_MESSAGE


def authorize(api, key, org, max_minutes=5):
    return api.post("calls/authorize", {"organization_id": org.pk, "max_minutes": max_minutes}, key)


def test_a_suspended_clients_calls_get_their_own_402_and_nothing_is_reserved(api, agency, org, agency_key, client_key):
    assert services.organization_suspend(organization=org, actor=agency.admin, reason="Unpaid invoice")

    for key in (agency_key, client_key):
        response = authorize(api, key, org)
        assert response.status_code == 402
        assert response.json() == {"error": {"code": "organization_suspended", "message": SUSPENDED_MESSAGE}}
    assert "credits" not in SUSPENDED_MESSAGE.lower()  # the client is not told to buy credits it has
    assert not Reservation.objects.exists()


def test_resuming_lets_calls_through_again_and_both_are_recorded(api, agency, org, agency_key):
    services.organization_suspend(organization=org, actor=agency.admin)
    assert not services.organization_suspend(organization=org, actor=agency.admin)  # already: no new record
    assert services.organization_resume(organization=org, actor=agency.admin)

    assert authorize(api, agency_key, org).status_code == 201
    org.refresh_from_db()
    assert org.suspended_at is None and org.suspended_by == agency.admin
    assert org.resumed_at is not None and org.resumed_by == agency.admin
    assert not services.organization_resume(organization=org, actor=agency.admin)


def test_another_client_of_the_agency_is_not_affected(api, agency, org, agency_key, make_client_user):
    from tests.conftest import credits_add

    other = make_client_user(agency, company_name="Other").organization
    credits_add(other, 10)
    services.organization_suspend(organization=org, actor=agency.admin)
    assert authorize(api, agency_key, other).status_code == 201


def test_the_portal_says_why_and_buying_credits_stays_open(agency, org):
    portal = Client(HTTP_HOST=host(agency))
    portal.force_login(org.members.get())
    assert 'data-testid="suspended-banner"' not in portal.get("/").text

    services.organization_suspend(organization=org, actor=agency.admin, reason="Unpaid invoice 2026-0012")
    for path in ("/", "/billing/", "/billing/buy/"):
        response = portal.get(path)
        assert response.status_code == 200, path
        assert 'data-testid="suspended-banner"' in response.text, path
        assert "Unpaid invoice 2026-0012" in response.text
    assert "can still buy credits" in portal.get("/billing/buy/").text
