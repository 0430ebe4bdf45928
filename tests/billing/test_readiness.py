"""Go-live readiness on the console overview, activation's confirmations, and minutes coverage (issue 12: 1, 3, 9)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import Agency
from billing import readiness
from tests.conftest import credits_add, minutes_add, seller_details_add
from usage.models import UsageRecord
from usage.rollups import usage_rollups_rebuild

ACTIVATION = "/console/activation/"


@pytest.fixture
def ready(keyed_agency, console):
    """Everything required is in place (key provisioned, a package, seller details); 0 minutes."""
    agency = keyed_agency(slug="ready", company_name="Ready Calls")
    seller_details_add(agency)
    console.force_login(agency.admin)
    return agency


def _step(response, key: str) -> str:
    text = response.text
    start = text.index(f'data-testid="step-{key}"')
    return text[start : text.index("</li>", start)]


def _calls(agency, organization, minutes_each: int, count: int, *, days_ago: int = 1):
    at = timezone.now() - timedelta(days=days_ago)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            agency=agency,
            organization=organization,
            record_id=f"call-{days_ago}-{n}-{organization.pk}",
            duration_sec=minutes_each * 60,
            minutes=minutes_each,
            created_at=at,
            number_id="num-1",
            direction="outbound",
        )
        for n in range(count)
    )
    # Stored straight into the table, not through the ingest: sum them into the daily rollups as
    # `manage.py usage_rollup_rebuild` would.
    usage_rollups_rebuild(organization_id=organization.pk)


# --- The checklist ----------------------------------------------------------------


def test_a_new_agency_sees_every_step_linked_with_its_progress(make_agency, console):
    agency = make_agency(slug="fresh")
    console.force_login(agency.admin)
    response = console.get("/console/")
    assert "2 of 6 done" in response.text  # branding and slug, from sign-up
    assert "Everything required is in place" not in response.text
    for key, link in [
        ("branding", "/console/branding/"),
        ("slug", "/console/branding/"),
        ("packages", "/console/packages/"),
        ("stripe", "/console/stripe/"),
        ("seller", "/console/invoices/seller/"),
        ("minutes", "/console/billing/minutes/"),
    ]:
        assert f'href="{link}"' in _step(response, key)
    assert "To do:" in _step(response, "seller")
    assert "Recommended:" in _step(response, "minutes")


def test_seller_details_are_required_before_going_live(keyed_agency, console):
    # Defect 3: the overview said "Everything required is in place" while invoices lacked the seller.
    agency = keyed_agency(slug="noseller")
    console.force_login(agency.admin)
    response = console.get("/console/")
    assert "everything required is in place" not in response.text
    assert "To do:" in _step(response, "seller")
    response = console.post(ACTIVATION, {"active": "1", "confirm": "1"}, follow=True)
    assert "Missing: Seller details for your invoices" in response.text
    assert Agency.objects.get(pk=agency.pk).is_active is False
    seller_details_add(agency)
    assert "5 of 6 done" in console.get("/console/").text


def test_seller_details_are_in_the_console_navigation(ready, console):
    assert 'href="/console/invoices/seller/">Seller details</a>' in console.get("/console/").text


def test_a_failed_check_stripe_blocks_the_stripe_step(ready):
    Agency.objects.filter(pk=ready.pk).update(stripe_check_problems=["The product is gone from Stripe."])
    result = readiness.readiness(Agency.objects.get(pk=ready.pk))
    assert [step.key for step in result.blocking] == ["stripe"]
    assert "1 problem" in result.blocking[0].detail


# --- Activation: 0 minutes asks first (defect 1) ------------------------------------------


def test_going_live_with_no_minutes_asks_first_and_names_the_consequence(ready, console):
    response = console.post(ACTIVATION, {"active": "1"})
    assert response.status_code == 200
    assert "You hold 0 call minutes" in response.text
    assert "their calls are refused until you buy minutes" in response.text
    assert 'href="/console/billing/minutes/">Buy minutes</a>' in response.text
    assert 'name="confirm" value="1"' in response.text
    assert Agency.objects.get(pk=ready.pk).is_active is False

    response = console.post(ACTIVATION, {"active": "1", "confirm": "1"}, follow=True)
    assert Agency.objects.get(pk=ready.pk).is_active is True
    assert "You hold 0 call minutes: buy minutes before your clients start calling." in response.text


def test_going_live_with_minutes_needs_no_confirmation(ready, console):
    minutes_add(ready, 500)
    response = console.post(ACTIVATION, {"active": "1"}, follow=True)
    assert "Your portal is live." in response.text
    assert Agency.objects.get(pk=ready.pk).is_active is True


# --- Switching off asks first (defect 9) -------------------------------------------------


def test_switching_off_names_how_many_clients_lose_the_portal_and_waits(make_agency, make_client_user, console):
    agency = make_agency(active=True)
    for n in range(3):
        make_client_user(agency, email=f"c{n}@example.com")
    console.force_login(agency.admin)
    response = console.post(ACTIVATION, {"active": "0"})
    assert response.status_code == 200
    assert "3 clients will see “not available”" in response.text
    assert Agency.objects.get(pk=agency.pk).is_active is True

    console.post(ACTIVATION, {"active": "0", "confirm": "1"})
    assert Agency.objects.get(pk=agency.pk).is_active is False


# --- Coverage: clients' credits against the agency's minutes ------------------------------


def test_overview_warns_when_clients_hold_more_credits_than_the_agency_has_minutes(
    make_agency, make_client_user, console
):
    agency = make_agency(active=True)
    credits_add(make_client_user(agency, email="a@example.com").organization, 500)
    minutes_add(agency, 120)
    console.force_login(agency.admin)
    response = console.get("/console/")
    assert "Your clients hold <strong>500</strong> credits; you hold <strong>120</strong> minutes." in response.text
    assert "You hold fewer minutes than your clients hold credits" in response.text


def test_overview_warns_when_minutes_last_less_than_three_days_of_recent_use(make_agency, make_client_user, console):
    agency = make_agency(active=True)
    organization = make_client_user(agency).organization
    credits_add(organization, 100)
    minutes_add(agency, 200)
    _calls(agency, organization, 10, 14)  # 140 minutes in 14 days: 10 a day
    _calls(agency, organization, 10, 30, days_ago=20)  # older than the window: not counted
    console.force_login(agency.admin)
    assert 'data-testid="coverage-warning"' not in console.get("/console/").text  # 200 ≥ 3 * 10

    _calls(agency, organization, 60, 14, days_ago=2)  # now 980 in 14 days: 70 a day, 200 < 3 * 70
    response = console.get("/console/")
    assert 'data-testid="coverage-warning"' in response.text
    assert "(70 minutes a day) your minutes last 2 days" in response.text
    assert "fewer minutes than your clients hold credits" not in response.text


def test_overview_query_count_does_not_grow_with_clients_and_calls(make_agency, make_client_user, console):
    agency = make_agency(active=True)
    seller_details_add(agency)
    console.force_login(agency.admin)

    def grow(count: int) -> int:
        for _ in range(count):
            organization = make_client_user(agency).organization
            credits_add(organization, 10)
            _calls(agency, organization, 2, 3)
        with CaptureQueriesContext(connection) as queries:
            assert console.get("/console/").status_code == 200
        return len(queries)

    assert grow(2) == grow(18)
