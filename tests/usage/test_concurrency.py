"""Concurrent syncs and authorizations on PostgreSQL: exactly once, never overspent, no deadlock."""

import io
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from billing import ledger
from billing.models import BalanceCrossing, LedgerEntry
from ops import alerts
from ops.models import AlertDelivery
from tests.conftest import credits_add, minutes_add
from tests.usage.conftest import Api, record
from usage import keys
from usage.models import Reservation, UsageRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_threads(count: int, work):
    """Run work(i) in `count` threads released together; each thread closes its own connection."""
    start = threading.Barrier(count)

    def run(i):
        try:
            start.wait()
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def clients(agency, make_client_user):
    organizations = [make_client_user(agency, company_name=f"Client {n}").organization for n in range(50)]
    for organization in organizations:
        credits_add(organization, 1000)
    minutes_add(agency, 100_000)
    return organizations


def test_eight_threads_with_overlapping_batches_apply_every_record_exactly_once(agency, clients, agency_key):
    rng = random.Random(4)
    pool = [record(rng.choice(clients), id=f"call-{n}", duration_sec=rng.randint(0, 900)) for n in range(1200)]
    # Each thread sends 6 batches of 150 drawn from an overlapping window of the pool, shuffled,
    # so every record arrives two or more times, from different threads, with clients in any order.
    plans = []
    for t in range(8):
        window = [pool[(t * 150 + k) % len(pool)] for k in range(900)]
        rng.shuffle(window)
        plans.append([window[b * 150 : (b + 1) * 150] for b in range(6)])

    def sync(t):
        api = Api()
        return [api.post("usage", {"records": batch}, agency_key) for batch in plans[t]]

    responses = [r for thread in in_threads(8, sync) for r in thread]

    assert [r.status_code for r in responses] == [200] * 48  # no deadlock, no error
    applied = [o["id"] for r in responses for o in r.json()["results"] if o["status"] == "applied"]
    statuses = {o["status"] for r in responses for o in r.json()["results"]}
    assert statuses <= {"applied", "duplicate"}
    sent = {rec["id"] for plan in plans for batch in plan for rec in batch}
    assert sorted(applied) == sorted(sent)  # each record applied once, however often it was sent
    assert UsageRecord.objects.count() == len(sent)

    minutes = {rec["id"]: -(-rec["duration_sec"] // 60) for rec in pool if rec["id"] in sent}
    usage = LedgerEntry.objects.filter(kind="usage")
    agency_debits = -usage.filter(agency=agency).aggregate(total=Sum("amount"))["total"]
    client_debits = -usage.filter(organization__in=clients).aggregate(total=Sum("amount"))["total"]
    assert agency_debits == client_debits == sum(minutes.values())
    assert usage.count() == 2 * sum(1 for m in minutes.values() if m > 0)
    for organization in clients:
        organization.refresh_from_db()
        own = sum(minutes[r["id"]] for r in pool if r["id"] in sent and r["organization_id"] == organization.pk)
        assert organization.credits_balance == 1000 - own
    agency.refresh_from_db()
    assert agency.minutes_balance == 100_000 + 1000 - sum(minutes.values())
    assert ledger.balances_check() == []
    call_command("ledger_check", stdout=io.StringIO())
    call_command("usage_check", stdout=io.StringIO())


def test_fifty_concurrent_authorizations_against_ten_credits_grant_exactly_ten(agency, make_client_user):
    organization = make_client_user(agency, company_name="Ten Credits").organization
    credits_add(organization, 10)
    key = keys.api_key_create(name="app", organization=organization).secret

    responses = in_threads(50, lambda i: Api().post("calls/authorize", {"max_minutes": 1}, key))

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 10 + [402] * 40
    assert all(r.json()["error"]["code"] == "insufficient_credits" for r in responses if r.status_code == 402)
    assert Reservation.objects.filter(organization=organization).aggregate(total=Sum("minutes"))["total"] == 10
    assert Api().get("billing/balance", key).json() == {"free": 0, "reserved": 10, "total": 10}


def test_concurrent_authorizations_of_several_minutes_never_reserve_more_than_is_free(agency, make_client_user):
    organization = make_client_user(agency, company_name="Ten Credits").organization
    credits_add(organization, 10)
    key = keys.api_key_create(name="app", organization=organization).secret

    responses = in_threads(50, lambda i: Api().post("calls/authorize", {"max_minutes": 3}, key))

    granted = sorted((r.json()["reserved_minutes"] for r in responses if r.status_code == 201), reverse=True)
    assert granted == [3, 3, 3, 1]  # whatever the order, the last one gets what is left
    assert sorted(r.status_code for r in responses).count(402) == 46


def test_syncs_authorizations_and_allocations_together_do_not_deadlock(agency, clients, agency_key):
    rng = random.Random(7)
    batches = [
        [record(rng.choice(clients), id=f"mix-{b}-{n}", duration_sec=rng.randint(1, 300)) for n in range(40)]
        for b in range(4)
    ]

    def work(i):
        api = Api()
        target = clients[i % len(clients)]
        if i < 4:
            return api.post("usage", {"records": batches[i]}, agency_key).status_code
        if i < 10:
            return api.post("calls/authorize", {"organization_id": target.pk, "max_minutes": 5}, agency_key).status_code
        # An agency admin allocates credits at the same time: the ledger locks the client row alone.
        ledger.credits_allocate(organization=target, amount=5, description="bonus", actor=None, reference=f"bonus-{i}")
        return 200

    assert sorted(in_threads(16, work)) == [200] * 10 + [201] * 6
    assert UsageRecord.objects.count() == 160
    assert ledger.balances_check() == []


def test_twenty_concurrent_refusals_for_lack_of_agency_minutes_make_one_alert(agency, make_client_user):
    minutes_add(agency, -agency.minutes_balance)
    organization = make_client_user(agency, company_name="Has Credits").organization
    credits_add(organization, 100)
    key = keys.api_key_create(name="app", organization=organization).secret

    responses = in_threads(20, lambda i: Api().post("calls/authorize", {"max_minutes": 1}, key))

    assert [r.status_code for r in responses] == [402] * 20
    assert {r.json()["error"]["code"] for r in responses} == {"provider_minutes_exhausted"}
    assert BalanceCrossing.objects.filter(agency=agency, kind="exhausted").count() == 1
    made = alerts.crossings_deliver()
    assert [(a.agency_id, a.kind) for a in made] == [(agency.pk, "exhausted")]
    assert AlertDelivery.objects.filter(alert__agency=agency, channel="email").count() == 1
