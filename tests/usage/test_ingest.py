"""POST /api/v1/usage: each call charges the client's credits and its agency's minutes exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.models import Organization
from billing import ledger
from billing.models import LedgerEntry
from tests.conftest import credits_add, minutes_add
from tests.usage.conftest import record, snapshot
from usage.ingest import usage_ingest
from usage.models import Reservation, UsageRecord
from usage.reservations import call_authorize


def balances(*accounts):
    """Fresh balances: credits of organizations, minutes of agencies."""
    for account in accounts:
        account.refresh_from_db()
    return [a.credits_balance if isinstance(a, Organization) else a.minutes_balance for a in accounts]


def test_a_call_of_2_min_15_s_costs_3_credits_and_3_agency_minutes(api, agency, org, agency_key):
    response = api.post("usage", record(org, id="c1", duration_sec=135), agency_key)

    assert response.status_code == 201
    assert response.json() == {"id": "c1", "status": "applied", "minutes": 3, "overdraft": False}
    assert balances(org, agency) == [97, 997]
    entries = LedgerEntry.objects.filter(reference="usage:c1", kind="usage")
    assert {(e.organization_id, e.agency_id, e.amount, e.balance_after) for e in entries} == {
        (org.pk, None, -3, 97),
        (None, agency.pk, -3, 997),
    }
    stored = UsageRecord.objects.get(record_id="c1")
    assert (stored.duration_sec, stored.minutes, stored.organization_id, stored.overdraft) == (135, 3, org.pk, False)


@pytest.mark.parametrize(
    "seconds, minutes",
    [
        (1, 1),
        (59, 1),
        (60, 1),
        (61, 2),
        (84, 2),
        (120, 2),
        (121, 3),
        (135, 3),
        (3600, 60),
        (3601, 61),
    ],
)
def test_billed_minutes_are_the_duration_rounded_up_to_whole_minutes(agency, org, seconds, minutes):
    [outcome] = usage_ingest(agency_id=agency.pk, records=[record(org, duration_sec=seconds)])
    assert (outcome.status, outcome.minutes) == ("applied", minutes)
    assert balances(org, agency) == [100 - minutes, 1000 - minutes]


def test_a_zero_second_call_is_recorded_and_charges_nothing(agency, org):
    [outcome] = usage_ingest(agency_id=agency.pk, records=[record(org, id="missed", duration_sec=0)])
    assert (outcome.status, outcome.minutes) == ("applied", 0)
    assert UsageRecord.objects.filter(record_id="missed", minutes=0).exists()
    assert not LedgerEntry.objects.filter(reference="usage:missed").exists()
    assert balances(org, agency) == [100, 1000]


def test_a_repeated_record_is_reported_duplicate_and_changes_nothing(api, agency, org, agency_key):
    body = record(org, id="c1", duration_sec=135)
    assert api.post("usage", body, agency_key).status_code == 201
    before = snapshot()

    again = api.post("usage", body, agency_key)
    in_batch = api.post("usage", {"records": [body]}, agency_key)

    assert again.status_code == 200 and again.json() == {"id": "c1", "status": "duplicate"}
    assert in_batch.json()["results"] == [{"index": 0, "id": "c1", "status": "duplicate"}]
    assert snapshot() == before
    assert balances(org, agency) == [97, 997]


def test_the_same_moment_written_another_way_is_a_duplicate_not_a_conflict(agency, org):
    usage_ingest(agency_id=agency.pk, records=[record(org, id="c1", created_at="2025-12-13T10:00:00Z")])
    [outcome] = usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, id="c1", created_at="2025-12-13T11:00:00.000+01:00"),
        ],
    )
    assert outcome.status == "duplicate"


@pytest.mark.parametrize(
    "change",
    [
        {"duration_sec": 85},
        {"created_at": "2025-12-13T10:00:01.000Z"},
        {"number_id": "number-2"},
        {"direction": "inbound"},
    ],
)
def test_the_same_id_with_different_content_is_a_conflict_and_changes_nothing(api, agency, org, agency_key, change):
    body = record(org, id="c1")
    api.post("usage", body, agency_key)
    before = snapshot()

    single = api.post("usage", {**body, **change}, agency_key)
    batch = api.post("usage", {"records": [{**body, **change}]}, agency_key)

    assert single.status_code == 409
    assert single.json()["error"]["code"] == "conflict"
    assert batch.status_code == 200
    assert batch.json()["results"][0]["status"] == "conflict"
    assert batch.json()["counts"] == {"applied": 0, "duplicate": 0, "conflict": 1, "rejected": 0}
    assert snapshot() == before


def test_a_conflict_across_organizations_of_one_agency_is_caught(agency, org, make_client_user):
    sibling = make_client_user(agency, company_name="Sibling").organization
    usage_ingest(agency_id=agency.pk, records=[record(org, id="c1")])
    [outcome] = usage_ingest(agency_id=agency.pk, records=[record(sibling, id="c1")])
    assert outcome.status == "conflict"
    assert not UsageRecord.objects.filter(organization=sibling).exists()


def test_a_repeat_inside_one_batch_is_a_duplicate_or_a_conflict(api, agency, org, agency_key):
    first = record(org, id="c1", duration_sec=61)
    response = api.post("usage", {"records": [first, dict(first), {**first, "duration_sec": 300}]}, agency_key)
    assert [r["status"] for r in response.json()["results"]] == ["applied", "duplicate", "conflict"]
    assert balances(org, agency) == [98, 998]


def test_bad_records_are_rejected_one_by_one_while_the_valid_ones_apply(api, agency, org, agency_key, other_agency):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    batch = [
        record(org, id="good-1", duration_sec=120),
        record(org, id="negative", duration_sec=-5),
        record(org, id="text-duration", duration_sec="84"),
        record(org, id="float-duration", duration_sec=84.5),
        record(org, id="bool-duration", duration_sec=True),
        record(org, id="no-org", organization_id=None),
        record(org, id="string-org", organization_id=str(org.pk)),
        record(org, id="other-tenant", organization_id=other_agency.org.pk),
        record(org, id="unknown-org", organization_id=987654),
        record(org, id="bad-direction", direction="sideways"),
        record(org, id="naive-time", created_at="2025-12-13T10:00:00"),
        record(org, id="not-a-time", created_at="yesterday"),
        record(org, id="impossible-day", created_at="2025-02-30T10:00:00Z"),
        record(org, id="future", created_at=future),
        record(org, id="no-number", number_id=""),
        record(org, id="bad-reservation", reservation_id="not-a-uuid"),
        record(org, id="x" * 101),
        record(org, id=42),
        "not an object",
        record(org, id="good-2", duration_sec=30),
    ]
    response = api.post("usage", {"records": batch}, agency_key)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(batch)))
    assert [r["status"] for r in results] == ["applied"] + ["rejected"] * 18 + ["applied"]
    reasons = {r["id"]: r["reason"] for r in results if r["status"] == "rejected"}
    assert reasons["negative"] == "duration_sec must not be negative"
    assert reasons["text-duration"] == "duration_sec must be a whole number of seconds"
    assert "organization_id" in reasons["no-org"] and "organization_id" in reasons["string-org"]
    assert reasons["other-tenant"] == f"organization_id {other_agency.org.pk} is not a client of this agency"
    assert "direction" in reasons["bad-direction"]
    assert "time zone" in reasons["naive-time"] and "time zone" in reasons["not-a-time"]
    assert reasons["impossible-day"] == "created_at is not a real date and time"
    assert reasons["future"] == "created_at is in the future"
    assert "reservation_id" in reasons["bad-reservation"]
    assert {r["code"] for r in results if r["status"] == "rejected"} == {"invalid_record", "unknown_organization"}
    assert response.json()["counts"] == {"applied": 2, "duplicate": 0, "conflict": 0, "rejected": 18}
    assert set(UsageRecord.objects.values_list("record_id", flat=True)) == {"good-1", "good-2"}
    assert balances(org, agency) == [97, 997]
    assert balances(other_agency.org, other_agency) == [50, 500]


def test_a_call_that_exceeds_the_credits_overdraws_them_and_further_calls_are_refused(api, agency, org, agency_key):
    response = api.post("usage", record(org, id="long", duration_sec=101 * 60), agency_key)

    assert response.status_code == 201 and response.json()["overdraft"] is True
    assert balances(org, agency) == [-1, 899]
    assert UsageRecord.objects.get(record_id="long").overdraft is True
    refused = api.post("calls/authorize", {"organization_id": org.pk, "max_minutes": 1}, agency_key)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_credits"

    credits_add(org, 10)  # topped up: calls go through again
    assert api.post("calls/authorize", {"organization_id": org.pk, "max_minutes": 1}, agency_key).status_code == 201


def test_a_call_that_exceeds_the_agency_minutes_is_marked_overdraft(agency, org):
    minutes_add(agency, -990)
    credits_add(org, 100)
    outcomes = usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, id="a", duration_sec=600),
            record(org, id="b", duration_sec=60),
        ],
    )
    assert [(o.minutes, o.overdraft) for o in outcomes] == [(10, False), (1, True)]
    assert balances(org, agency) == [189, -1]


def test_every_entry_of_a_batch_has_the_right_balance_after(agency, org, make_client_user):
    second = make_client_user(agency, company_name="Second").organization
    credits_add(second, 20)
    durations = [(org, 61), (second, 30), (org, 600), (second, 3600), (org, 1)]
    usage_ingest(
        agency_id=agency.pk, records=[record(o, id=f"r{n}", duration_sec=d) for n, (o, d) in enumerate(durations)]
    )

    running = {org.pk: 100, second.pk: 20, "agency": 1000}
    for n, (o, d) in enumerate(durations):
        minutes = -(-d // 60)
        running[o.pk] -= minutes
        running["agency"] -= minutes
        client_entry = LedgerEntry.objects.get(reference=f"usage:r{n}", organization=o)
        agency_entry = LedgerEntry.objects.get(reference=f"usage:r{n}", agency=agency)
        assert (client_entry.amount, client_entry.balance_after) == (-minutes, running[o.pk])
        assert (agency_entry.amount, agency_entry.balance_after) == (-minutes, running["agency"])
    assert UsageRecord.objects.get(record_id="r3").overdraft is True  # 60 minutes against 19 credits
    assert balances(org, second, agency) == [running[org.pk], running[second.pk], running["agency"]]
    assert ledger.balances_check() == []


def test_a_record_carrying_its_reservation_charges_the_real_minutes_and_releases_the_rest(api, agency, org, agency_key):
    reserved = api.post("calls/authorize", {"organization_id": org.pk, "max_minutes": 30}, agency_key).json()
    assert api.get("billing/balance", agency_key, organization_id=org.pk).json() == {
        "free": 70,
        "reserved": 30,
        "total": 100,
    }

    response = api.post("usage", record(org, duration_sec=135, reservation_id=reserved["id"]), agency_key)

    assert response.status_code == 201 and response.json()["minutes"] == 3
    assert Reservation.objects.get(pk=reserved["id"]).status == Reservation.Status.SETTLED
    assert api.get("billing/balance", agency_key, organization_id=org.pk).json() == {
        "free": 97,
        "reserved": 0,
        "total": 97,
    }
    assert api.get("billing/balance", agency_key).json() == {"free": 997, "reserved": 0, "total": 997}


def test_a_call_reported_after_its_reservation_expired_is_still_charged(agency, org):
    reservation = call_authorize(organization=org, max_minutes=5)
    Reservation.objects.filter(pk=reservation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    [outcome] = usage_ingest(
        agency_id=agency.pk, records=[record(org, duration_sec=240, reservation_id=str(reservation.pk))]
    )

    assert (outcome.status, outcome.minutes) == ("applied", 4)
    assert balances(org) == [96]


def test_a_record_naming_another_organizations_reservation_is_rejected(agency, org, make_client_user):
    sibling = make_client_user(agency, company_name="Sibling").organization
    credits_add(sibling, 10)
    theirs = call_authorize(organization=sibling, max_minutes=5)
    before = snapshot()

    [unknown, foreign] = usage_ingest(
        agency_id=agency.pk,
        records=[
            record(org, reservation_id="4f9e1f0e-3a51-4a0c-9a55-2d7a2a0c1a11"),
            record(org, reservation_id=str(theirs.pk)),
        ],
    )

    assert (unknown.status, unknown.code) == ("rejected", "unknown_reservation")
    assert (foreign.status, foreign.code) == ("rejected", "unknown_reservation")
    assert snapshot() == before
