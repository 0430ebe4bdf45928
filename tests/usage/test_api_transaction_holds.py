"""GET /api/v1/billing/transactions: reservation holds and releases, a row per UTC day per client, merged in."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from agencies.models import Organization
from tests.conftest import credits_add
from tests.usage.conftest import record
from tests.usage.test_api_transactions import all_pages
from usage.api_params import timestamp
from usage.ingest import usage_ingest
from usage.models import Reservation
from usage.reservations import call_authorize, reservations_expire

DAY1 = "2026-05-11T09:00:00Z"


def settle(reservation: Reservation, *, duration_sec: int = 60) -> None:
    """The call's usage record arrives, naming its reservation: charged, and the reservation settled."""
    call = record(
        reservation.organization,
        duration_sec=duration_sec,
        reservation_id=str(reservation.pk),
        created_at=timestamp(datetime.now(UTC)),
    )
    usage_ingest(agency_id=reservation.agency_id, records=[call])


def free(org: Organization) -> int:
    org.refresh_from_db()
    held = sum(
        Reservation.objects.filter(organization=org, status="active", expires_at__gt=datetime.now(UTC)).values_list(
            "minutes", flat=True
        )
    )
    return org.credits_balance - held


def two_days(clock, agency, org, second) -> Reservation:
    """Day 1: org authorizes 5 + 5 + 2 minutes, `second` 4; one of org's is settled (1 minute charged).
    Day 2: the rest expire unused; org authorizes 3 more (still active). Returns the active one."""
    credits_add(second, 50)
    first, *_ = [call_authorize(organization=org, max_minutes=m) for m in (5, 5, 2)]
    call_authorize(organization=second, max_minutes=4)
    clock.shift(timedelta(minutes=30))
    settle(first)
    clock.shift(timedelta(days=1))
    assert reservations_expire() == 3
    return call_authorize(organization=org, max_minutes=3)


def by_kind(rows: list[dict], *kinds: str) -> list[dict]:
    return [row for row in rows if row["kind"] in kinds]


@pytest.mark.now(DAY1)
def test_holds_and_releases_are_one_row_per_day_per_client(api, clock, agency, org, client_key, make_client_user):
    second = make_client_user(agency, company_name="Second").organization
    two_days(clock, agency, org, second)

    rows = all_pages(api, client_key)

    assert [
        (row["id"], row["kind"], row["amount"], row["calls"], row["unit"])
        for row in by_kind(rows, "reservation_hold", "reservation_release")
    ] == [
        (f"rr_20260512_{org.pk}", "reservation_release", 7, 2, "credits"),
        (f"rh_20260512_{org.pk}", "reservation_hold", -3, 1, "credits"),
        (f"rr_20260511_{org.pk}", "reservation_release", 5, 1, "credits"),
        (f"rh_20260511_{org.pk}", "reservation_hold", -12, 3, "credits"),
    ]
    expired, hold, settled, _ = by_kind(rows, "reservation_hold", "reservation_release")
    assert hold["description"] == "1 call authorized: 3 credits held (not charged; balance unchanged)"
    assert expired["description"] == "2 authorizations expired unused: 7 credits released"
    assert settled["description"] == "1 call settled: 5 credits released (charged as usage)"
    assert hold["reference"] is None and hold["money"] is None and hold["organization_id"] == org.pk
    last_hold = Reservation.objects.filter(organization=org).latest("created_at")
    assert hold["created_at"] == timestamp(last_hold.created_at)


@pytest.mark.now(DAY1)
def test_a_day_ends_with_its_releases_then_holds_then_usage_after_its_entries(
    api, clock, agency, org, client_key, make_client_user
):
    second = make_client_user(agency, company_name="Second").organization
    two_days(clock, agency, org, second)

    day1 = [row["id"].split("_")[0] for row in all_pages(api, client_key) if row["created_at"] < "2026-05-12"]

    assert day1 == ["rr", "rh", "us", "le"]  # the day's rows at its end; the fixture's top-up the only entry


@pytest.mark.now(DAY1)
def test_an_agency_reads_its_clients_holds_as_minutes_a_row_per_client(
    api, clock, agency, org, agency_key, make_client_user
):
    second = make_client_user(agency, company_name="Second").organization
    two_days(clock, agency, org, second)

    rows = all_pages(api, agency_key, kind="reservation_hold")

    assert [(row["id"], row["amount"], row["calls"], row["unit"], row["organization_id"]) for row in rows] == [
        (f"rh_20260512_{org.pk}", -3, 1, "minutes", org.pk),
        (f"rh_20260511_{second.pk}", -4, 1, "minutes", second.pk),
        (f"rh_20260511_{org.pk}", -12, 3, "minutes", org.pk),
    ]
    assert rows[1]["description"] == "1 call authorized: 4 minutes held (not charged; balance unchanged)"
    releases = all_pages(api, agency_key, kind="reservation_release")
    assert [(row["id"], row["amount"]) for row in releases] == [
        (f"rr_20260512_{second.pk}", 4),
        (f"rr_20260512_{org.pk}", 7),
        (f"rr_20260511_{org.pk}", 5),
    ]


@pytest.mark.now(DAY1)
def test_a_days_release_of_settled_and_expired_reservations_says_both(api, clock, agency, org, client_key):
    settled, _ = call_authorize(organization=org, max_minutes=6), call_authorize(organization=org, max_minutes=2)
    clock.shift(timedelta(days=1))
    settle(settled, duration_sec=90)
    reservations_expire()

    (row,) = all_pages(api, client_key, kind="reservation_release")

    assert row["amount"] == 8 and row["calls"] == 2
    assert row["description"] == (
        "2 authorizations closed: 8 credits released (1 settled by their calls, 1 expired unused: 2 credits)"
    )


@pytest.mark.now(DAY1)
def test_balance_after_is_the_ledger_balance_at_the_end_of_the_rows_day(
    api, clock, agency, org, client_key, agency_key
):
    call_authorize(organization=org, max_minutes=5)
    credits_add(org, 20)  # 120
    last = call_authorize(organization=org, max_minutes=5)
    clock.shift(timedelta(hours=1))
    credits_add(org, 30)  # 150: after the day's last hold, and still that day's balance
    clock.shift(timedelta(hours=1))
    settle(last, duration_sec=120)  # 148 at the end of the day
    agency.refresh_from_db()
    agency_end_of_day = agency.minutes_balance
    clock.shift(timedelta(days=1))
    credits_add(org, 10)  # 158
    call_authorize(organization=org, max_minutes=3)

    rows = by_kind(all_pages(api, client_key), "reservation_hold", "reservation_release")

    assert [(row["id"][:11], row["balance_after"]) for row in rows] == [
        ("rh_20260512", 158),  # today's: the balance now, which holding 3 credits did not change
        ("rr_20260511", 148),
        ("rh_20260511", 148),
    ]
    org.refresh_from_db()
    assert org.credits_balance == 158
    (agency_release,) = all_pages(api, agency_key, kind="reservation_release")
    assert agency_release["balance_after"] == agency_end_of_day


@pytest.mark.now(DAY1)
def test_the_amounts_of_all_rows_add_up_to_the_free_credits(api, clock, agency, org, client_key, make_client_user):
    second = make_client_user(agency, company_name="Second").organization
    two_days(clock, agency, org, second)

    rows = all_pages(api, client_key)

    assert sum(row["amount"] for row in rows) == free(org) == 100 - 1 - 3


@pytest.mark.now(DAY1)
def test_kind_and_days_filter_holds_and_releases(api, clock, agency, org, client_key, make_client_user):
    second = make_client_user(agency, company_name="Second").organization
    two_days(clock, agency, org, second)

    assert {row["kind"] for row in all_pages(api, client_key, kind="reservation_hold")} == {"reservation_hold"}
    assert {row["kind"] for row in all_pages(api, client_key, kind="reservation_release")} == {"reservation_release"}
    assert {row["kind"] for row in all_pages(api, client_key, kind="usage")} == {"usage"}
    assert {row["kind"] for row in all_pages(api, client_key, kind="allocation")} == {"allocation"}
    day2 = all_pages(api, client_key, **{"from": "2026-05-12", "to": "2026-05-12"})
    assert [row["id"] for row in day2] == [f"rr_20260512_{org.pk}", f"rh_20260512_{org.pk}"]
    day1 = all_pages(api, client_key, kind="reservation_release", to="2026-05-11")
    assert [row["id"] for row in day1] == [f"rr_20260511_{org.pk}"]


@pytest.mark.now(DAY1)
def test_another_tenants_reservations_are_never_listed(api, clock, agency, org, agency_key, client_key, other_agency):
    call_authorize(organization=other_agency.org, max_minutes=9)
    call_authorize(organization=org, max_minutes=2)

    for key in (agency_key, client_key):
        assert [row["amount"] for row in all_pages(api, key, kind="reservation_hold")] == [-2]
    for key in (other_agency.key, other_agency.client_key):
        assert [row["amount"] for row in all_pages(api, key, kind="reservation_hold")] == [-9]


@pytest.mark.now(DAY1)
def test_paging_a_mix_of_entries_usage_and_holds_has_no_gaps_or_repeats_while_rows_arrive(
    api, clock, agency, org, agency_key, make_client_user, django_assert_max_num_queries
):
    second = make_client_user(agency, company_name="Second").organization
    credits_add(second, 100)
    start = datetime.now(UTC)
    for day in range(8, -1, -1):  # nine days, today last
        clock.move_to(start - timedelta(days=day))
        for client in (org, second) if day % 3 else (org,):
            credits_add(client, 2)
            reservation = call_authorize(organization=client, max_minutes=4)
            call_authorize(organization=client, max_minutes=1)
            if day % 2:
                settle(reservation)
        reservations_expire(now=datetime.now(UTC) + timedelta(hours=1))
    clock.move_to(start + timedelta(hours=2))
    before = all_pages(api, agency_key)
    assert {"usage", "reservation_hold", "reservation_release"} < {row["kind"] for row in before}

    seen, cursor = [], None
    while True:
        with django_assert_max_num_queries(16):  # a page costs the same whatever its depth: no query per row
            body = api.get("billing/transactions", agency_key, limit=4, **({"cursor": cursor} if cursor else {})).json()
        seen += [row["id"] for row in body["data"]]
        # Today grows while someone pages: new holds, a settled call, an expiry, an allocation to a client.
        settle(call_authorize(organization=org, max_minutes=2))
        call_authorize(organization=second, max_minutes=1)
        credits_add(second, 1)
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]

    assert len(seen) == len(set(seen))
    assert seen == [row["id"] for row in before]  # today's rows were read first and only grew since


@pytest.mark.now(DAY1)
def test_thousands_of_reservations_page_as_daily_rows_per_client_in_bounded_queries(
    api, agency, org, agency_key, make_client_user, django_assert_max_num_queries
):
    clients = [org, *(make_client_user(agency, company_name=f"C{n}").organization for n in range(2))]
    rng = random.Random(13)
    moment, rows, expected = datetime(2025, 6, 1, tzinfo=UTC), [], Counter()
    for n in range(3000):
        moment += timedelta(seconds=rng.choice([5, 60, 3600]) if n % 300 else 86_400 * 11)  # gaps of days
        client, minutes = clients[n % 3] if n % 5 else clients[0], rng.randrange(1, 6)
        status = rng.choice(["settled", "expired", "active"])
        closed_at = moment + timedelta(minutes=rng.randrange(1, 3000)) if status != "active" else None
        rows.append(
            Reservation(
                agency=agency,
                organization=client,
                minutes=minutes,
                status=status,
                created_at=moment,
                expires_at=moment + timedelta(minutes=10),
                closed_at=closed_at,
            )
        )
        expected[f"rh_{moment:%Y%m%d}_{client.pk}"] -= minutes
        if closed_at is not None:
            expected[f"rr_{closed_at:%Y%m%d}_{client.pk}"] += minutes
    Reservation.objects.bulk_create(rows, batch_size=1000)

    seen, cursor = [], None
    while True:
        with django_assert_max_num_queries(16):
            body = api.get(
                "billing/transactions", agency_key, limit=100, **({"cursor": cursor} if cursor else {})
            ).json()
        seen += [row for row in body["data"] if row["kind"].startswith("reservation")]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]

    assert len(seen) == len({row["id"] for row in seen}) == len(expected)
    assert {row["id"]: row["amount"] for row in seen} == dict(expected)
