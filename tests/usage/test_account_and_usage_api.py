"""GET /api/v1/account, /api/v1/billing/balance and /api/v1/usage, in the seeds' shapes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies import services
from tests.conftest import NOON
from tests.usage.conftest import record
from usage.ingest import usage_ingest
from usage.reservations import call_authorize
from usage.selectors import month_start


def iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.now(NOON)  # counts this calendar month's calls
def test_account_of_a_client_key_shows_its_credits_and_this_months_minutes(api, agency, org, client_key):
    this_month = month_start() + timedelta(hours=1)
    last_month = month_start() - timedelta(hours=1)
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, duration_sec=135, created_at=iso(this_month)),
            record(org, duration_sec=600, created_at=iso(last_month)),
        ],
    )

    response = api.get("account", client_key)

    assert response.status_code == 200
    assert response.json() == {
        "id": org.pk,
        "company_name": "Client One",
        "minutes_balance": 100 - 3 - 10,
        "monthly_usage_minutes": 3,
    }


@pytest.mark.now(NOON)  # counts this calendar month's calls
def test_account_of_an_agency_key_shows_its_minutes_and_all_its_clients_usage(
    api, agency, org, agency_key, make_client_user
):
    second = make_client_user(agency, company_name="Second").organization
    now = iso(timezone.now() - timedelta(minutes=1))
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, duration_sec=61, created_at=now),
            record(second, duration_sec=60, created_at=now),
        ],
    )

    assert api.get("account", agency_key).json() == {
        "id": agency.pk,
        "company_name": agency.company_name,
        "minutes_balance": 997,
        "monthly_usage_minutes": 3,
    }


def test_balance_is_free_reserved_and_total_for_the_keys_own_account(api, org, agency_key, client_key):
    call_authorize(organization=org, max_minutes=30)

    assert api.get("billing/balance", client_key).json() == {"free": 70, "reserved": 30, "total": 100}
    assert api.get("billing/balance", agency_key).json() == {"free": 970, "reserved": 30, "total": 1000}
    assert api.get("billing/balance", agency_key, organization_id=org.pk).json() == {
        "free": 70,
        "reserved": 30,
        "total": 100,
    }
    assert api.get("billing/balance", client_key, organization_id=org.pk).status_code == 200


def test_usage_lists_calls_newest_first_with_a_summary_of_the_whole_range(api, agency, org, client_key):
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, id="early", duration_sec=84, created_at="2025-12-01T00:00:00.000Z", number_id="n-1"),
            record(org, id="late", duration_sec=135, created_at="2025-12-31T23:59:59.000Z", number_id="n-2"),
            record(org, id="mid", duration_sec=60, created_at="2025-12-13T10:00:00.000Z"),
            record(org, id="outside", duration_sec=60, created_at="2026-01-01T00:00:00.000Z"),
        ],
    )

    response = api.get("usage", client_key, start_date="2025-12-01", end_date="2025-12-31")

    assert response.status_code == 200
    body = response.json()
    assert [u["id"] for u in body["usage"]] == ["late", "mid", "early"]
    assert body["usage"][0] == {
        "id": "late",
        "duration_sec": 135,
        "created_at": "2025-12-31T23:59:59.000Z",
        "number_id": "n-2",
        "organization_id": org.pk,
        "direction": "outbound",
    }
    # 2 + 3 + 1 minutes, for a client at the agency's best per-credit price (100 credits for 40.00 EUR).
    assert body["summary"] == {"total_seconds": 279, "total_minutes": 6, "total_cost": 240, "currency": "EUR"}
    assert body["next_cursor"] is None


@pytest.mark.now(NOON)  # asks for the UTC days from yesterday to today
def test_usage_pages_follow_the_cursor_without_gaps_or_repeats(api, agency, org, agency_key):
    base = timezone.now() - timedelta(days=1)
    usage_ingest(
        agency_id=agency.pk,
        records=[
            # Several calls share a timestamp: the cursor must still split them exactly.
            record(org, id=f"c{n:02d}", duration_sec=61 + n, created_at=iso(base + timedelta(seconds=n // 3)))
            for n in range(25)
        ],
    )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = api.get(
            "usage", agency_key, start_date=str(base.date()), end_date=str(timezone.now().date()), **params
        ).json()
        seen += [u["id"] for u in body["usage"]]
        pages += 1
        assert body["summary"]["total_minutes"] == 25 * 2  # 61..84 seconds: 2 minutes each, on every page
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4 and len(seen) == 25 and len(set(seen)) == 25
    assert seen == [f"c{n:02d}" for n in reversed(range(25))]


def test_an_agency_key_sees_all_its_clients_or_one_of_them(api, agency, org, agency_key, client_key, make_client_user):
    second = make_client_user(agency, company_name="Second").organization
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, id="mine", created_at="2025-12-02T00:00:00Z"),
            record(second, id="theirs", created_at="2025-12-03T00:00:00Z"),
        ],
    )
    dates = {"start_date": "2025-12-01", "end_date": "2025-12-31"}

    assert [u["id"] for u in api.get("usage", agency_key, **dates).json()["usage"]] == ["theirs", "mine"]
    only = api.get("usage", agency_key, organization_id=second.pk, **dates).json()
    assert [u["id"] for u in only["usage"]] == ["theirs"]
    assert [u["id"] for u in api.get("usage", client_key, **dates).json()["usage"]] == ["mine"]


def test_total_cost_is_platform_price_for_an_agency_and_credit_price_for_a_client(
    api, agency, org, agency_key, client_key, settings
):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    services.package_create(agency=agency, credits=500, price_cents=17500, currency="EUR")  # 35 cents a credit
    services.package_create(agency=agency, credits=10, price_cents=1000, currency="EUR")  # 100 cents a credit
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, duration_sec=60 * 119 + 1, created_at="2025-12-13T10:00:00Z"),  # 120 minutes
        ],
    )
    dates = {"start_date": "2025-12-01", "end_date": "2025-12-31"}

    agency_summary = api.get("usage", agency_key, **dates).json()["summary"]
    client_summary = api.get("usage", client_key, **dates).json()["summary"]

    assert (agency_summary["total_cost"], agency_summary["currency"]) == (840, "EUR")  # the seed's 8.40
    assert (client_summary["total_cost"], client_summary["currency"]) == (4200, "EUR")  # 120 x 0.35


def test_a_client_cost_rounds_half_up_to_whole_cents(api, agency, org, client_key):
    agency.packages.all().delete()
    services.package_create(agency=agency, credits=3, price_cents=100, currency="USD")  # 33.33... cents a credit
    usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=60, created_at="2025-12-13T10:00:00Z")])
    summary = api.get("usage", client_key, start_date="2025-12-01", end_date="2025-12-31").json()["summary"]
    assert (summary["total_cost"], summary["currency"]) == (33, "USD")


def test_a_client_of_an_agency_that_sells_no_packages_has_no_cost(api, agency, org, client_key):
    agency.packages.all().delete()
    summary = api.get("usage", client_key).json()["summary"]
    assert (summary["total_cost"], summary["currency"]) == (None, None)


def test_a_package_taken_off_sale_no_longer_sets_the_client_price(api, agency, org, client_key):
    cheap = services.package_create(agency=agency, credits=1000, price_cents=1000, currency="EUR")
    usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=600, created_at="2025-12-13T10:00:00Z")])
    dates = {"start_date": "2025-12-01", "end_date": "2025-12-31"}
    assert api.get("usage", client_key, **dates).json()["summary"]["total_cost"] == 10  # 1 cent a credit

    cheap.archived_at = timezone.now()
    cheap.save(update_fields=["archived_at"])

    assert api.get("usage", client_key, **dates).json()["summary"]["total_cost"] == 400  # back to 40 cents


@pytest.mark.now(NOON)  # counts this calendar month's calls
def test_usage_without_dates_covers_this_month_so_far(api, agency, org, client_key):
    usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, id="now", created_at=iso(timezone.now() - timedelta(minutes=1))),
            record(org, id="before", created_at=iso(month_start() - timedelta(seconds=1))),
        ],
    )
    assert [u["id"] for u in api.get("usage", client_key).json()["usage"]] == ["now"]
