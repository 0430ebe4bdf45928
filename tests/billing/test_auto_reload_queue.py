"""Queueing auto-reloads: one reload per crossing, however the debits come."""

import threading

import pytest
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from billing import auto_reload, ledger
from billing.models import AutoReloadAttempt
from tests.conftest import credits_add, minutes_add

pytestmark = pytest.mark.django_db
Status = AutoReloadAttempt.Status


def _enable(**owner):
    return auto_reload.auto_reload_update(
        **owner,
        changes={
            "enabled": True,
            "threshold": 50,
            "amount_cents": 2000,
            "payment_method_id": "pm_test_saved",
            "monthly_cap_cents": 10000,
        },
        by="owner@example.com",
    )


def _debit(org, amount, ref):
    ledger.entry_post(organization=org, amount=-amount, kind="usage", reference=ref, description="call")


@pytest.fixture
def org(make_agency, make_client_user):
    organization = make_client_user(make_agency(active=True)).organization
    credits_add(organization, 100)
    return organization


def test_a_debit_below_the_threshold_queues_one_reload_and_later_debits_none(org):
    _enable(organization=org)
    _debit(org, 40, "c1")  # 60: above
    assert not AutoReloadAttempt.objects.exists()
    _debit(org, 20, "c2")  # 40: crossed
    _debit(org, 5, "c3")
    _debit(org, 5, "c4")
    attempt = AutoReloadAttempt.objects.get()
    assert (attempt.status, attempt.threshold, attempt.balance, attempt.reference) == (Status.QUEUED, 50, 40, "c2")
    assert attempt.amount_cents == 2000 and attempt.currency == "EUR"


def test_a_balance_back_at_the_threshold_arms_the_next_crossing(org):
    _enable(organization=org)
    _debit(org, 60, "c1")
    AutoReloadAttempt.objects.update(status=Status.SUCCEEDED)
    auto_reload.auto_reload_get(organization=org).__class__.objects.update(armed=False)  # as after a charge
    credits_add(org, 20)  # 60
    _debit(org, 15, "c2")  # 45: a new crossing
    assert AutoReloadAttempt.objects.count() == 2


def test_an_open_attempt_stands_for_a_new_crossing(org):
    _enable(organization=org)
    _debit(org, 60, "c1")
    credits_add(org, 60)  # 100, the reload still queued (waiting out the hourly limit, say)
    _debit(org, 60, "c2")  # crosses again
    assert AutoReloadAttempt.objects.count() == 1


def test_nothing_is_queued_when_off_or_paused(org):
    setting = _enable(organization=org)
    setting.paused_at = setting.updated_at
    setting.save()
    _debit(org, 60, "c1")
    auto_reload.auto_reload_update(organization=org, changes={"enabled": False}, by="owner@example.com")
    credits_add(org, 100)
    _debit(org, 100, "c2")
    assert not AutoReloadAttempt.objects.exists()


def test_a_usage_sync_queues_the_clients_and_the_agencys_reloads(org):
    agency = org.agency
    minutes_add(agency, 130)
    _enable(organization=org)
    _enable(agency=agency)
    debits = [ledger.PairedDebit(organization_id=org.pk, amount=30, reference=f"u{i}") for i in range(3)]
    with transaction.atomic():
        locked = ledger.accounts_lock(agency_id=agency.pk, organization_ids=[org.pk])
        ledger.paired_debits_post(locked=locked, debits=debits)
    attempts = {(a.auto_reload.organization_id, a.auto_reload.agency_id): a for a in AutoReloadAttempt.objects.all()}
    assert set(attempts) == {(org.pk, None), (None, agency.pk)}
    assert (attempts[(org.pk, None)].reference, attempts[(org.pk, None)].balance) == ("u1", 40)
    assert (attempts[(None, agency.pk)].reference, attempts[(None, agency.pk)].balance) == ("u2", 40)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_debits_crossing_the_threshold_queue_one_reload(org):
    _enable(organization=org)
    barrier = threading.Barrier(20)
    errors = []

    def debit(n):
        try:
            barrier.wait()
            _debit(org, 3, f"race-{n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=debit, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    org.refresh_from_db()
    assert org.credits_balance == 40
    attempt = AutoReloadAttempt.objects.get()
    assert attempt.status == Status.QUEUED and attempt.balance < 50
    # Its charge was queued for the worker when the debit committed.
    assert DBTaskResult.objects.filter(task_path="billing.tasks.auto_reload_charge").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_usage_syncs_crossing_the_threshold_queue_one_reload_per_account(org):
    agency = org.agency
    minutes_add(agency, 100)
    _enable(organization=org)
    _enable(agency=agency)
    barrier = threading.Barrier(20)
    errors = []

    def sync(n):
        try:
            barrier.wait()
            with transaction.atomic():
                locked = ledger.accounts_lock(agency_id=agency.pk, organization_ids=[org.pk])
                debit = ledger.PairedDebit(organization_id=org.pk, amount=3, reference=f"sync-{n}")
                ledger.paired_debits_post(locked=locked, debits=[debit])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    owners = sorted(
        (a.auto_reload.organization_id or 0, a.auto_reload.agency_id or 0) for a in AutoReloadAttempt.objects.all()
    )
    assert owners == sorted([(org.pk, 0), (0, agency.pk)])
