"""GET /api/v1/billing/usage and usage/detailed: calls, seconds and billed minutes per day, number, direction, client."""

import random

import pytest

from billing.models import LedgerEntry
from tests.conftest import NOON
from tests.usage.conftest import record
from usage.ingest import reference_for, usage_ingest

# The client price of the agency's default package: 100 credits for 40.00 EUR, 40 cents a credit.
CLIENT_CENTS = 40


def ingest(agency, *records):
    outcomes = usage_ingest(agency_id=agency.pk, records=list(records))
    assert {o.status for o in outcomes} == {"applied"}, outcomes
    return list(records)


@pytest.mark.now(NOON)
def test_a_months_minutes_equal_the_sum_of_its_calls_charges_to_the_minute(api, agency, org, client_key):
    rng = random.Random(13)
    in_april = ingest(
        agency,
        *[
            record(
                org,
                duration_sec=rng.choice([0, 1, 59, 60, 61, 119, 3599, rng.randrange(0, 7200)]),
                created_at=f"2026-04-{rng.randrange(1, 31):02d}T{rng.randrange(0, 24):02d}:{rng.randrange(0, 60):02d}:00Z",
            )
            for _ in range(60)
        ],
        record(org, duration_sec=1, created_at="2026-04-01T00:00:00.000Z"),  # the month's first instant
        record(org, duration_sec=61, created_at="2026-04-30T23:59:59.999Z"),  # and its last
        record(org, duration_sec=600, created_at="2026-05-01T01:30:00+02:00"),  # May in Berlin, April in UTC
    )
    ingest(
        agency,
        record(org, duration_sec=600, created_at="2026-03-31T23:59:59.999Z"),
        record(org, duration_sec=600, created_at="2026-05-01T00:00:00.000Z"),
        record(org, duration_sec=600, created_at="2026-04-30T23:30:00-02:00"),  # April there, May in UTC
    )

    body = api.get("billing/usage", client_key, month="2026-04").json()

    charged = -sum(
        LedgerEntry.objects.filter(
            organization=org, reference__in=[reference_for(r["id"]) for r in in_april]
        ).values_list("amount", flat=True)
    )
    assert body["totals"]["minutes"] == charged == sum(-(-r["duration_sec"] // 60) for r in in_april)
    assert body["totals"]["calls"] == len(in_april)
    assert body["totals"]["seconds"] == sum(r["duration_sec"] for r in in_april)
    assert body["totals"]["cost"] == {"amount": charged * CLIENT_CENTS, "currency": "EUR"}
    assert sum(day["minutes"] for day in body["days"]) == charged
    assert sum(day["calls"] for day in body["days"]) == len(in_april)
    assert [day["date"] for day in body["days"]] == sorted(
        {r["created_at"][:10] for r in in_april[:-1]} | {"2026-04-30"}
    )
    assert (body["month"], body["unit"], body["organization_id"]) == ("2026-04", "credits", org.pk)


def test_minutes_are_billed_per_call_not_from_the_total_seconds(api, agency, org, client_key):
    ingest(
        agency,
        record(org, duration_sec=61, created_at="2025-12-13T10:00:00Z"),
        record(org, duration_sec=61, created_at="2025-12-13T11:00:00Z"),
    )
    body = api.get("billing/usage", client_key, month="2025-12").json()
    assert body["totals"] | {"cost": None} == {"calls": 2, "seconds": 122, "minutes": 4, "cost": None}
    assert body["days"] == [
        {"date": "2025-12-13", "calls": 2, "seconds": 122, "minutes": 4, "cost": {"amount": 160, "currency": "EUR"}}
    ]


@pytest.mark.now("2026-05-01T00:30:00Z")
def test_without_a_month_it_is_this_utc_month(api, agency, org, client_key):
    ingest(
        agency,
        record(org, duration_sec=60, created_at="2026-04-30T23:59:00Z"),
        record(org, duration_sec=120, created_at="2026-05-01T00:10:00Z"),
    )
    body = api.get("billing/usage", client_key).json()
    assert body["month"] == "2026-05"
    assert (body["totals"]["calls"], body["totals"]["minutes"]) == (1, 2)
    assert [day["date"] for day in body["days"]] == ["2026-05-01"]


@pytest.mark.now(NOON)
def test_an_agency_key_sees_all_its_clients_calls_in_minutes_at_the_platform_price(
    api, agency, org, agency_key, make_client_user, other_agency, settings
):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    second = make_client_user(agency, company_name="Second").organization
    ingest(agency, record(org, duration_sec=60, created_at="2026-05-02T10:00:00Z"))
    ingest(agency, record(second, duration_sec=150, created_at="2026-05-03T10:00:00Z"))
    ingest(other_agency, record(other_agency.org, duration_sec=600, created_at="2026-05-03T10:00:00Z"))

    body = api.get("billing/usage", agency_key).json()
    assert (body["unit"], body["organization_id"]) == ("minutes", None)
    assert body["totals"] == {"calls": 2, "seconds": 210, "minutes": 4, "cost": {"amount": 28, "currency": "EUR"}}

    one = api.get("billing/usage", agency_key, organization_id=second.pk).json()
    assert (one["unit"], one["organization_id"], one["totals"]["minutes"]) == ("credits", second.pk, 3)
    assert one["totals"]["cost"] == {"amount": 3 * CLIENT_CENTS, "currency": "EUR"}


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "2026-1", "26-01", "2026-01-01", "abcd-ef", "0000-01", "٢٠٢٦-01"]
)
def test_a_bad_month_is_400(api, org, client_key, month):
    response = api.get("billing/usage", client_key, month=month)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_month"


def test_another_tenants_organization_is_404(api, org, agency_key, other_agency):
    for path in ("billing/usage", "billing/usage/detailed"):
        response = api.get(path, agency_key, organization_id=other_agency.org.pk)
        assert response.status_code == 404 and response.json()["error"]["code"] == "organization_not_found"


# --- usage/detailed ------------------------------------------------------------------------------


@pytest.fixture
def calls(agency, org, make_client_user):
    second = make_client_user(agency, company_name="Second Client").organization
    ingest(
        agency,
        record(org, duration_sec=61, created_at="2026-04-01T08:00:00Z", number_id="n-1", direction="outbound"),
        record(org, duration_sec=30, created_at="2026-04-01T09:00:00Z", number_id="n-2", direction="inbound"),
        record(org, duration_sec=600, created_at="2026-04-03T09:00:00Z", number_id="n-1", direction="outbound"),
        record(second, duration_sec=59, created_at="2026-04-03T10:00:00Z", number_id="n-3", direction="inbound"),
        record(second, duration_sec=59, created_at="2026-04-10T10:00:00Z", number_id="n-3", direction="inbound"),
    )
    return second


RANGE = {"from": "2026-04-01", "to": "2026-04-05"}


def groups(body) -> list[tuple]:
    return [(g["key"], g["name"], g["calls"], g["seconds"], g["minutes"]) for g in body["groups"]]


def test_detailed_groups_by_day_number_direction_and_organization(api, org, agency_key, calls, settings):
    settings.PLATFORM_MINUTE_PRICE_CENTS = 7
    by_day = api.get("billing/usage/detailed", agency_key, **RANGE).json()
    assert groups(by_day) == [("2026-04-01", None, 2, 91, 3), ("2026-04-03", None, 2, 659, 11)]
    assert by_day["totals"] == {"calls": 4, "seconds": 750, "minutes": 14, "cost": {"amount": 98, "currency": "EUR"}}
    assert (by_day["from"], by_day["to"], by_day["group_by"], by_day["unit"]) == (
        "2026-04-01",
        "2026-04-05",
        "day",
        "minutes",
    )

    by_number = api.get("billing/usage/detailed", agency_key, group_by="number", **RANGE).json()
    assert groups(by_number) == [("n-1", None, 2, 661, 12), ("n-2", None, 1, 30, 1), ("n-3", None, 1, 59, 1)]

    by_direction = api.get("billing/usage/detailed", agency_key, group_by="direction", **RANGE).json()
    assert groups(by_direction) == [("inbound", None, 2, 89, 2), ("outbound", None, 2, 661, 12)]

    by_client = api.get("billing/usage/detailed", agency_key, group_by="organization", **RANGE).json()
    assert groups(by_client) == [
        (str(org.pk), "Client One", 3, 691, 13),
        (str(calls.pk), "Second Client", 1, 59, 1),
    ]
    assert by_client["groups"][0]["cost"] == {"amount": 91, "currency": "EUR"}


def test_detailed_for_one_client_in_credits(api, org, client_key, agency_key, calls):
    for key, params in ((client_key, {}), (agency_key, {"organization_id": org.pk})):
        body = api.get("billing/usage/detailed", key, group_by="direction", **RANGE, **params).json()
        assert body["unit"] == "credits" and body["organization_id"] == org.pk
        assert groups(body) == [("inbound", None, 1, 30, 1), ("outbound", None, 2, 661, 12)]
        assert body["totals"]["cost"] == {"amount": 13 * CLIENT_CENTS, "currency": "EUR"}


def test_grouping_by_organization_needs_an_agency_key(api, org, client_key):
    response = api.get("billing/usage/detailed", client_key, group_by="organization")
    assert response.status_code == 403 and response.json()["error"]["code"] == "agency_key_required"


@pytest.mark.now(NOON)
def test_detailed_defaults_to_this_month_so_far_by_day(api, agency, org, client_key):
    ingest(agency, record(org, duration_sec=60, created_at="2026-05-13T10:00:00Z"))
    body = api.get("billing/usage/detailed", client_key).json()
    assert (body["from"], body["to"], body["group_by"]) == ("2026-05-01", "2026-05-13", "day")
    assert groups(body) == [("2026-05-13", None, 1, 60, 1)]


@pytest.mark.now(NOON)
def test_detailed_with_only_to_covers_the_month_of_to(api, agency, org, client_key, calls):
    body = api.get("billing/usage/detailed", client_key, to="2026-04-02").json()
    assert (body["from"], body["to"]) == ("2026-04-01", "2026-04-02")
    assert groups(body) == [("2026-04-01", None, 2, 91, 3)]


@pytest.mark.parametrize(
    "params, code",
    [
        ({"group_by": "week"}, "invalid_parameter"),
        ({"from": "2026-04-05", "to": "2026-04-01"}, "invalid_date_range"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "invalid_date_range"),  # 367 days
        ({"from": "2026-02-30"}, "invalid_date"),
        ({"to": "yesterday"}, "invalid_date"),
    ],
)
def test_detailed_refuses_bad_parameters(api, org, client_key, params, code):
    response = api.get("billing/usage/detailed", client_key, **params)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_a_full_year_of_366_days_is_allowed(api, org, client_key):
    response = api.get("billing/usage/detailed", client_key, **{"from": "2024-01-01", "to": "2024-12-31"})
    assert response.status_code == 200
