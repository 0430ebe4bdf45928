"""GET /api/v1/billing/transactions: the ledger newest first, usage a row per day per client, keyset pages."""

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core import signing

from agencies.models import Agency, Organization
from billing.models import LedgerEntry
from billing.transactions import purchase_kind
from tests.conftest import credits_add
from tests.usage.conftest import record
from usage.api_params import timestamp
from usage.ingest import usage_ingest

DAY1 = "2026-05-11T09:00:00Z"


def all_pages(api, key, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = api.get("billing/transactions", key, **params, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.content
        body = page.json()
        rows += body["data"]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return rows
        cursor = body["next_cursor"]


def bulk_entries(org: Organization, count: int, *, start: datetime) -> list[int]:
    """`count` allocations of 1 credit, three to each instant (ties on created_at), the balance kept right."""
    balance = org.credits_balance
    entries = []
    for n in range(count):
        balance += 1
        entries.append(
            LedgerEntry(
                organization=org,
                amount=1,
                kind=LedgerEntry.Kind.ALLOCATION,
                reference=f"bulk-{n}",
                balance_after=balance,
                description=f"bulk {n}",
                created_at=start + timedelta(seconds=n // 3),
            )
        )
    made = LedgerEntry.objects.bulk_create(entries, batch_size=2000)
    Organization.objects.filter(pk=org.pk).update(credits_balance=balance)
    org.refresh_from_db()
    if made[0].pk is None:  # backends that return no ids from a bulk insert
        return list(LedgerEntry.objects.filter(reference__startswith="bulk-").values_list("pk", flat=True))
    return [entry.pk for entry in made]


@pytest.mark.now(DAY1)
def test_ten_thousand_entries_page_without_gaps_or_repeats_while_new_entries_arrive(
    api, org, client_key, django_assert_max_num_queries
):
    ids = bulk_entries(org, 10_000, start=datetime(2026, 5, 1, tzinfo=UTC))
    before = set(LedgerEntry.objects.filter(organization=org).values_list("pk", flat=True))

    seen, cursor, pages = [], None, 0
    while True:
        with django_assert_max_num_queries(12):  # a page costs the same whatever its depth: no query per row
            response = api.get("billing/transactions", client_key, limit=100, **({"cursor": cursor} if cursor else {}))
        body = response.json()
        seen += [row["id"] for row in body["data"]]
        pages += 1
        credits_add(org, 5)  # a new entry between every two pages: it is newer than every page already read
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]

    assert len(seen) == len(set(seen)) == len(before)
    assert set(seen) == {f"le_{pk}" for pk in before}
    assert {f"le_{pk}" for pk in ids} <= set(seen)
    assert pages == len(before) // 100 + 1


def bulk_usage(agency, organizations: list[Organization], count: int, *, start: datetime) -> dict:
    """`count` charged calls as the ingest posts them (a client entry and its agency's, one reference),
    over days with gaps, clients taking turns; returns the expected rows {id: (calls, amount, balance_after)}."""
    rng = random.Random(7)
    balances = {org.pk: org.credits_balance for org in organizations}
    agency_balance, entries = agency.minutes_balance, []
    expected: dict[str, tuple[int, int, int]] = {}
    moment = start
    for n in range(count):
        moment += timedelta(seconds=rng.choice([1, 30, 600, 3600]) if n % 500 else 86_400 * 9)  # gaps of days
        org = organizations[n % len(organizations)] if n % 7 else organizations[0]
        minutes = rng.randrange(1, 9)
        balances[org.pk] -= minutes
        agency_balance -= minutes
        reference = f"usage:bulk-{n}"
        common = {"amount": -minutes, "kind": "usage", "reference": reference, "created_at": moment}
        entries.append(LedgerEntry(organization=org, balance_after=balances[org.pk], **common))
        entries.append(LedgerEntry(agency=agency, usage_client=org, balance_after=agency_balance, **common))
        row_id = f"us_{moment:%Y%m%d}_{org.pk}"
        calls, amount, _ = expected.get(row_id, (0, 0, 0))
        expected[row_id] = (calls + 1, amount - minutes, agency_balance)
    LedgerEntry.objects.bulk_create(entries, batch_size=2000)
    for org in organizations:
        Organization.objects.filter(pk=org.pk).update(credits_balance=balances[org.pk])
    Agency.objects.filter(pk=agency.pk).update(minutes_balance=agency_balance)
    return expected


@pytest.mark.now(DAY1)
def test_ten_thousand_calls_of_an_agency_page_as_daily_rows_per_client(
    api, agency, org, agency_key, make_client_user, django_assert_max_num_queries
):
    clients = [org, *(make_client_user(agency, company_name=f"C{n}").organization for n in range(3))]
    expected = bulk_usage(agency, clients, 10_000, start=datetime(2025, 1, 1, tzinfo=UTC))

    rows, cursor = [], None
    while True:
        with django_assert_max_num_queries(14):
            body = api.get(
                "billing/transactions", agency_key, kind="usage", limit=100, **({"cursor": cursor} if cursor else {})
            ).json()
        rows += body["data"]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]

    assert len(rows) == len({row["id"] for row in rows}) == len(expected)
    assert {row["id"]: (row["calls"], row["amount"], row["balance_after"]) for row in rows} == expected
    order = [(row["id"][3:11], row["organization_id"]) for row in rows]
    assert order == sorted(order, reverse=True)


@pytest.mark.now(DAY1)
def test_rows_are_newest_first_with_ties_broken_by_id(api, org, client_key):
    bulk_entries(org, 9, start=datetime(2026, 5, 1, tzinfo=UTC))

    rows = all_pages(api, client_key, limit=4)

    keys = [(row["created_at"], int(row["id"].removeprefix("le_"))) for row in rows]
    assert keys == sorted(keys, reverse=True)
    assert [row["amount"] for row in rows] == [100] + [1] * 9  # the fixture's top-up came last
    assert rows[1]["balance_after"] == org.credits_balance and rows[-1]["balance_after"] == 101
    assert rows[0]["unit"] == "credits" and rows[0]["calls"] is None and rows[0]["money"] is None


@pytest.mark.now(DAY1)
def test_usage_is_one_row_per_day_per_client_with_its_calls_and_the_balance_after_the_last(
    api, clock, agency, org, agency_key, client_key, make_client_user
):
    second = make_client_user(agency, company_name="Second").organization
    credits_add(second, 50)
    usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=61), record(org, duration_sec=30)])
    usage_ingest(agency_id=agency.pk, records=[record(second, duration_sec=120)])
    clock.shift(timedelta(hours=2))
    usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=5)])
    last_of_day = timestamp(LedgerEntry.objects.filter(organization=org, kind="usage").latest("pk").created_at)
    clock.shift(timedelta(days=1))
    usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=600)])
    org.refresh_from_db()

    usage = [row for row in all_pages(api, client_key) if row["kind"] == "usage"]

    assert [(row["id"], row["calls"], row["amount"]) for row in usage] == [
        (f"us_20260512_{org.pk}", 1, -10),
        (f"us_20260511_{org.pk}", 3, -4),  # 2 + 1 + 1 minutes: each call billed in whole minutes
    ]
    assert usage[0]["balance_after"] == org.credits_balance == 100 - 4 - 10
    assert usage[1]["balance_after"] == 96 and usage[1]["created_at"] == last_of_day
    assert usage[1]["organization_id"] == org.pk and usage[1]["reference"] is None

    # The agency's minutes: its own usage entries, one row per client and day, in minutes.
    agency_usage = all_pages(api, agency_key, kind="usage")
    assert [(row["id"], row["calls"], row["amount"], row["unit"]) for row in agency_usage] == [
        (f"us_20260512_{org.pk}", 1, -10, "minutes"),
        (f"us_20260511_{second.pk}", 1, -2, "minutes"),
        (f"us_20260511_{org.pk}", 3, -4, "minutes"),
    ]
    agency.refresh_from_db()
    assert agency_usage[0]["balance_after"] == agency.minutes_balance


@pytest.mark.now(DAY1)
def test_usage_rows_page_without_gaps_while_today_gets_more_calls(api, clock, agency, org, client_key):
    start = datetime.now(UTC)
    for day in range(6):
        clock.move_to(start - timedelta(days=day))
        usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=60)])
        credits_add(org, 1)
    clock.move_to(start + timedelta(minutes=5))

    seen, cursor = [], None
    while True:
        body = api.get("billing/transactions", client_key, limit=3, **({"cursor": cursor} if cursor else {})).json()
        seen += [row["id"] for row in body["data"]]
        usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=60)])  # today's row grows, stays put
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]

    assert len(seen) == len(set(seen)) == 6 + 6 + 1  # 6 usage days, 6 allocations, the initial top-up
    assert f"us_20260511_{org.pk}" in seen and f"us_20260506_{org.pk}" in seen


@pytest.mark.now(DAY1)
def test_kind_filters_rows(api, agency, org, client_key):
    usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=60)])
    credits_add(org, 7)

    allocations = all_pages(api, client_key, kind="allocation")
    assert {row["kind"] for row in allocations} == {"allocation"} and len(allocations) == 2
    assert [row["kind"] for row in all_pages(api, client_key, kind="usage")] == ["usage"]
    assert all_pages(api, client_key, kind="refund") == []
    # No call authorized yet: no hold rows (tests/usage/test_api_transaction_holds.py lists them).
    assert all_pages(api, client_key, kind="reservation_hold") == []
    response = api.get("billing/transactions", client_key, kind="payout")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_parameter"


@pytest.mark.now(DAY1)
def test_from_and_to_are_inclusive_utc_days(api, clock, agency, org, client_key):
    clock.move_to("2026-05-09T23:59:59Z")
    credits_add(org, 1)
    clock.move_to("2026-05-10T00:00:00Z")
    credits_add(org, 2)
    clock.move_to("2026-05-10T23:59:59Z")
    credits_add(org, 3)
    clock.move_to("2026-05-11T00:00:01Z")
    credits_add(org, 4)

    rows = all_pages(api, client_key, **{"from": "2026-05-10", "to": "2026-05-10"})

    assert [row["amount"] for row in rows] == [3, 2]
    response = api.get("billing/transactions", client_key, **{"from": "2026-05-11", "to": "2026-05-10"})
    assert response.json()["error"]["code"] == "invalid_date_range"
    assert api.get("billing/transactions", client_key, to="2026-02-30").json()["error"]["code"] == "invalid_date"


def test_an_agency_key_reads_one_clients_credits_with_organization_id(api, org, agency_key):
    rows = all_pages(api, agency_key, organization_id=org.pk)
    assert [(row["kind"], row["amount"], row["unit"]) for row in rows] == [("allocation", 100, "credits")]
    assert rows[0]["organization_id"] == org.pk


def test_another_tenants_organization_is_404(api, org, agency_key, client_key, other_agency):
    for key in (agency_key, client_key):
        response = api.get("billing/transactions", key, organization_id=other_agency.org.pk)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "organization_not_found"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "x" * 600,
        signing.dumps(["2026-05-01T00:00:00+00:00", 0, 5], salt="api.v1.invoices"),  # another list's cursor
        signing.dumps(["2026-05-01T00:00:00+00:00", 0, 5], salt="wrong"),
        signing.dumps({"a": 1}, salt="api.v1.transactions"),
        signing.dumps(["not a time", 0, 5], salt="api.v1.transactions"),
        signing.dumps(["2026-05-01T00:00:00", 0, 5], salt="api.v1.transactions"),  # no zone
        signing.dumps(["2026-05-01T00:00:00+00:00", 7, 5], salt="api.v1.transactions"),
        signing.dumps(["2026-05-01T00:00:00+00:00", 0, 2**64], salt="api.v1.transactions"),
    ],
)
def test_a_bad_or_forged_cursor_is_400(api, org, client_key, cursor):
    response = api.get("billing/transactions", client_key, cursor=cursor)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_an_edited_cursor_is_400(api, org, client_key):
    credits_add(org, 1)
    cursor = api.get("billing/transactions", client_key, limit=1).json()["next_cursor"]
    edited = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    assert api.get("billing/transactions", client_key, cursor=edited).json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
def test_limit_out_of_range_is_400(api, org, client_key, limit):
    response = api.get("billing/transactions", client_key, limit=limit)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_parameter"


def test_a_purchase_paid_by_a_saved_method_reports_its_top_up_kind():
    # Purchase.kind ("checkout", "topup", "auto_reload") arrives with the top-ups; read where present.
    assert purchase_kind(SimpleNamespace(kind="topup")) == "topup"
    assert purchase_kind(SimpleNamespace(kind="auto_reload")) == "auto_reload"
    assert purchase_kind(SimpleNamespace(kind="checkout")) == "purchase"
    assert purchase_kind(SimpleNamespace()) == "purchase"  # a Purchase without the field: a Checkout purchase
    assert purchase_kind(None) == "purchase"
