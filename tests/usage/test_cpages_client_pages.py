"""The client's billing history (usage per day, filter by kind), dashboard and buy page on the portal."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import CreditPackage
from billing.models import Purchase
from tests.conftest import credits_add, host, minutes_add
from usage.ingest import usage_ingest
from usage.reservations import call_authorize

NOW = "2026-03-15T12:00:00Z"
_seq = itertools.count()


@pytest.fixture
def portal(client, make_agency, make_client_user):
    """An active agency with minutes, one client logged in on its portal; returns (get, organization)."""
    agency = make_agency(active=True)
    minutes_add(agency, 100_000)
    user = make_client_user(agency, company_name="Acme Bakery")
    client.force_login(user)

    def get(path, **params):
        return client.get(path, params, HTTP_HOST=host(agency))

    return get, user.organization


def _calls(organization, *specs):
    """Record calls: (when, seconds) each, as the calling platform reports them."""
    records = [
        {
            "id": f"call-cp-{next(_seq)}",
            "organization_id": organization.pk,
            "duration_sec": seconds,
            "created_at": when,
            "number_id": "number-1",
            "direction": "outbound",
        }
        for when, seconds in specs
    ]
    outcomes = usage_ingest(agency_id=organization.agency_id, records=records)
    assert {o.status for o in outcomes} == {"applied"}, outcomes
    organization.refresh_from_db()


def _processing(organization, *, amount_cents=4000, credits=100):
    n = next(_seq)
    return Purchase.objects.create(
        reference=f"cp-proc-{n}",
        agency_id=organization.agency_id,
        organization=organization,
        package=organization.agency.packages.first(),
        credits=credits,
        amount_cents=amount_cents,
        currency="EUR",
        stripe_session_id=f"cs_test_proc_{n}",
        livemode=False,
        status=Purchase.Status.PROCESSING,
    )


def _rows(response) -> list[str]:
    assert response.status_code == 200
    return response.text.split('data-testid="history-row"')[1:]


@pytest.mark.now(NOW)
def test_usage_is_one_row_per_day_dated_by_call_time_linking_to_that_days_calls(portal):
    get, organization = portal
    credits_add(organization, 500)
    _calls(
        organization,
        ("2026-03-14T09:00:00Z", 84),  # 2 minutes
        ("2026-03-14T23:59:00Z", 60),  # 1 minute, same day (UTC)
        ("2026-03-13T10:00:00Z", 61),  # 2 minutes, the day before
    )

    rows = _rows(get("/billing/"))

    assert len(rows) == 3  # the allocation, and one row for each day with calls: not one per call
    assert "Allocation" in rows[0] and "+500" in rows[0]
    assert "2026-03-14" in rows[1] and "2 calls" in rows[1] and "-3" in rows[1]
    assert 'href="/usage/?day=2026-03-14"' in rows[1]
    assert "2026-03-13" in rows[2] and "1 call<" in rows[2] and "-2" in rows[2]
    day = get("/usage/", day="2026-03-14")
    assert day.text.count("<code>call-cp-") == 2 and "Calls on 2026-03-14" in day.text


@pytest.mark.now(NOW)
def test_history_filters_by_kind(portal):
    get, organization = portal
    credits_add(organization, 500)
    _calls(organization, ("2026-03-14T09:00:00Z", 84))

    [usage] = _rows(get("/billing/", kind="usage"))
    [allocation] = _rows(get("/billing/", kind="allocation"))
    assert "Usage" in usage and "Allocation" in allocation
    assert _rows(get("/billing/", kind="refund")) == []
    assert len(_rows(get("/billing/", kind="nonsense"))) == 2  # an unknown kind: everything


@pytest.mark.now(NOW)
def test_history_is_paginated_keeping_the_filter(portal):
    get, organization = portal
    for _ in range(30):
        credits_add(organization, 1)
    first = get("/billing/", kind="allocation")
    assert len(_rows(first)) == 25 and "?kind=allocation&amp;page=2" in first.text
    assert len(_rows(get("/billing/", kind="allocation", page=2))) == 5


def test_a_pending_bank_debit_shows_with_its_amount_until_it_settles(portal):
    get, organization = portal
    purchase = _processing(organization, amount_cents=4000, credits=100)

    for page in (get("/billing/"), get("/")):
        assert 'data-testid="pending-purchase"' in page.text
        assert "100 credits for €40.00" in page.text and "Payment processing" in page.text

    purchase.status = Purchase.Status.FAILED
    purchase.save()
    assert 'data-testid="pending-purchase"' not in get("/billing/").text
    assert 'data-testid="pending-purchase"' not in get("/").text


@pytest.mark.now(NOW)
def test_the_dashboard_shows_balance_month_recent_calls_and_days_left(portal):
    get, organization = portal
    credits_add(organization, 1000)
    # 140 minutes over the last 14 days: 10 a day; 7 calls, the last 5 listed.
    _calls(organization, *[(f"2026-03-{day:02d}T10:00:00Z", 20 * 60) for day in range(8, 15)])
    call_authorize(organization=organization, max_minutes=60)  # a call in progress holds 60

    page = get("/")

    assert page.status_code == 200
    assert 'data-testid="credits-balance">860<' in page.text
    assert "800 free · 60 reserved" in page.text
    assert 'data-testid="monthly-minutes">140<' in page.text
    assert page.text.count('data-testid="recent-call"') == 5
    assert 'data-testid="days-left">80 days<' in page.text  # 800 free at 10 a day
    assert 'data-testid="low-balance"' not in page.text


@pytest.mark.now(NOW)
def test_the_dashboard_warns_below_the_threshold_with_a_buy_button(portal, settings):
    get, organization = portal
    settings.LOW_BALANCE_DEFAULT_CREDITS = 10
    credits_add(organization, 9)
    page = get("/")
    assert 'data-testid="low-balance"' in page.text and 'href="/billing/buy/"' in page.text
    assert 'data-testid="days-left">–<' in page.text  # no recent calls: no estimate

    organization.low_balance_threshold = 5
    organization.save()
    assert 'data-testid="low-balance"' not in get("/").text  # the client's own threshold wins


def test_the_buy_page_shows_price_per_minute_and_marks_the_best_value(portal):
    get, organization = portal
    agency = organization.agency
    CreditPackage.objects.create(agency=agency, credits=500, price_cents=15000, currency="EUR")  # €0.30

    page = get("/billing/buy/")

    packages = page.text.split('data-testid="package"')[1:]
    assert len(packages) == 2
    small, large = sorted(packages, key=lambda text: "500 credits" in text)
    assert "€0.40 per minute" in small and 'data-testid="best-value"' not in small
    assert "€0.30 per minute" in large and 'data-testid="best-value"' in large


def _count(get, path) -> int:
    get(path)  # the first request of a session loads what later ones find in the cache
    with CaptureQueriesContext(connection) as queries:
        assert get(path).status_code == 200
    return len(queries)


@pytest.mark.now(NOW)
@pytest.mark.parametrize("path", ["/", "/billing/", "/billing/?kind=usage", "/usage/?day=2026-03-14"])
def test_client_pages_take_the_same_queries_for_2_and_20_of_everything(portal, path):
    get, organization = portal
    counts = []
    for target in (2, 20):
        while organization.ledger_entries.exclude(kind="usage").count() < target:
            credits_add(organization, 100)
            _processing(organization)
            n = organization.usage_records.count()
            _calls(organization, (f"2026-03-{14 - n // 2:02d}T{10 + n % 2}:00:00Z", 90))
        counts.append(_count(get, path))
    assert counts[0] == counts[1]
