"""The console's page for one client: balance, usage, money, keys, alerts, notes; suspend and resume."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ops import alerts, charts, dashboards
from tests.conftest import credits_add
from tests.ops.conftest import call
from tests.ops.test_dashboards import sold, svg_bars
from usage import keys
from usage.ingest import usage_ingest
from usage.reservations import call_authorize


@pytest.fixture
def console(agency):
    client = Client(HTTP_HOST="localhost")
    client.force_login(agency.admin)
    return client


def page_of(org) -> str:
    return f"/console/ops/clients/{org.pk}/"


def test_the_users_page_links_each_client_to_its_page(console, org):
    html = console.get("/console/users/").text
    assert f'href="{page_of(org)}"' in html


def test_the_page_shows_balance_usage_purchases_ledger_keys_and_alerts(console, org):
    sold(org, credits=250, cents=9900)
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=7, days_ago=1)])
    call_authorize(organization=org, max_minutes=3)
    keys.api_key_create(name="Dialer app", organization=org)
    alerts.alert_settings_save(organization=org, threshold=40, webhook_url="")

    response = console.get(page_of(org))
    assert response.status_code == 200
    html = response.text
    # 100 + 250 - 7 = 343, of which 3 held by the reservation
    assert 'data-testid="client-balance">343<' in html
    assert 'data-testid="client-free">340<' in html and 'data-testid="client-reserved">3<' in html
    assert 'data-testid="client-minutes">7<' in html
    assert 'data-testid="daily-chart"' in html and "<svg" not in html
    version = _chart_version(org, "desktop")
    assert f'src="{page_of(org)}chart-desktop.svg?v={version}"' in html
    assert html.count('data-testid="client-purchase"') == 1 and "€99.00" in html
    assert html.count('data-testid="client-ledger"') == 3  # top-up, purchase, call
    assert "Dialer app" in html and 'data-testid="client-key"' in html
    assert "Low-balance alert below 40 credits" in html


def test_another_agencys_client_is_404(console, make_agency, make_client_user):
    stranger = make_client_user(make_agency(active=True)).organization
    assert console.get(page_of(stranger)).status_code == 404
    assert console.get(f"{page_of(stranger)}chart-desktop.svg").status_code == 404
    assert console.post(f"{page_of(stranger)}suspend/", {"reason": "x"}).status_code == 404
    assert console.post(f"{page_of(stranger)}notes/", {"notes": "x"}).status_code == 404
    stranger.refresh_from_db()
    assert stranger.suspended_at is None and stranger.notes == ""


def _chart_version(org, size: str) -> str:
    return charts.Chart(
        series=dashboards.last_days_minutes(organization=org),
        color="#047857",
        label=f"Minutes used per day by {org.name}",
        url_name="ops_console:client_chart",
        url_kwargs=(("org_id", org.pk),),
    ).version(size)


def test_the_clients_chart_is_an_svg_image_cached_by_version(console, org):
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=7, days_ago=1)])
    version = _chart_version(org, "phone")

    response = console.get(f"{page_of(org)}chart-phone.svg", {"v": version})

    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    heights = svg_bars(response.content, color="#047857")
    assert len(heights) == 30 and sum(h > 0 for h in heights) == 1
    assert console.get(f"{page_of(org)}chart-phone.svg", HTTP_IF_NONE_MATCH=f'"{version}"').status_code == 304
    assert console.get(f"{page_of(org)}chart-tiny.svg").status_code == 404


def test_notes_are_saved_and_never_shown_to_the_client(console, org, client_user, agency):
    response = console.post(f"{page_of(org)}notes/", {"notes": "Pays late; call Anna first."}, follow=True)
    assert "Notes saved." in response.text and "Pays late; call Anna first." in response.text
    org.refresh_from_db()
    assert org.notes == "Pays late; call Anna first."

    portal = Client(HTTP_HOST=f"{agency.slug}.localhost")
    portal.force_login(client_user)
    for path in ("/", "/billing/", "/billing/buy/"):
        assert "call Anna" not in portal.get(path).text


def test_notes_too_long_get_a_form_error(console, org):
    response = console.post(f"{page_of(org)}notes/", {"notes": "x" * 5001})
    assert response.status_code == 400 and "at most 5000" in response.text


def test_suspend_and_resume_from_the_console_are_recorded(console, org, agency):
    response = console.post(f"{page_of(org)}suspend/", {"reason": "Unpaid invoice"}, follow=True)
    assert "is suspended" in response.text and 'data-testid="client-suspended"' in response.text
    assert agency.admin.email in response.text and "Unpaid invoice" in response.text
    org.refresh_from_db()
    assert org.suspended_by == agency.admin and org.suspension_reason == "Unpaid invoice"
    assert "Suspended" in console.get("/console/users/").text

    response = console.post(f"{page_of(org)}resume/", follow=True)
    assert "is resumed" in response.text and 'data-testid="client-suspended"' not in response.text
    assert 'data-testid="last-resumed"' in response.text
    org.refresh_from_db()
    assert org.suspended_at is None and org.resumed_by == agency.admin
    assert console.get(f"{page_of(org)}resume/").status_code == 405


def _fill(org, n):
    for i in range(n):
        sold(org, credits=10 + i, cents=1000 + i)
        keys.api_key_create(name=f"key {i}", organization=org)
        credits_add(org, 1)
    usage_ingest(agency_id=org.agency_id, records=[call(org, minutes=1, days_ago=i % 20) for i in range(n)])


def test_the_page_query_count_does_not_grow_with_records(console, agency, make_client_user):
    few, many = make_client_user(agency).organization, make_client_user(agency).organization
    _fill(few, 2)
    _fill(many, 20)
    with CaptureQueriesContext(connection) as with_few:
        assert console.get(page_of(few)).status_code == 200
    with CaptureQueriesContext(connection) as with_many:
        assert console.get(page_of(many)).status_code == 200
    assert len(with_few) == len(with_many)
    assert len(with_many) <= 12
