"""The worker's rules before any charge: off, recovered, the hourly limit, a detached payment method."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from billing import auto_reload, ledger, reload_charge
from billing.models import AutoReload, AutoReloadAttempt
from tests.conftest import credits_add

pytestmark = pytest.mark.django_db
Status = AutoReloadAttempt.Status
NOW = "2026-11-20 10:00:00+00:00"


@pytest.fixture
def org(make_agency, make_client_user):
    organization = make_client_user(make_agency(active=True), email="owner@example.com").organization
    credits_add(organization, 100)
    auto_reload.auto_reload_update(
        organization=organization,
        changes={
            "enabled": True,
            "threshold": 50,
            "amount_cents": 2000,
            "payment_method_id": "pm_saved_1",
            "monthly_cap_cents": 10000,
        },
        by="owner@example.com",
    )
    return organization


def _cross(org, ref="c1"):
    ledger.entry_post(organization=org, amount=-60, kind="usage", reference=ref, description="call")
    return AutoReloadAttempt.objects.get(status=Status.QUEUED)


def test_a_balance_that_recovered_before_the_worker_ran_is_not_charged(org):
    attempt = _cross(org)
    credits_add(org, 100)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SKIPPED_RECOVERED
    attempt.refresh_from_db()
    assert "recovered to 140" in attempt.reason and attempt.charged_at is None


def test_an_auto_reload_turned_off_since_is_not_charged(org):
    attempt = _cross(org)
    auto_reload.auto_reload_update(organization=org, changes={"enabled": False}, by="owner@example.com")
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == Status.SKIPPED_DISABLED


@time_machine.travel(NOW, tick=False)
def test_a_second_reload_within_the_hour_waits_for_the_hour_to_be_up(org):
    setting = AutoReload.objects.get()
    charged = timezone.now() - timedelta(minutes=20)
    AutoReloadAttempt.objects.create(
        auto_reload=setting,
        status=Status.SUCCEEDED,
        threshold=50,
        balance=40,
        reference="earlier",
        amount_cents=2000,
        charged_cents=2000,
        currency="EUR",
        charged_at=charged,
    )
    attempt = _cross(org)
    assert reload_charge.attempt_process(attempt_id=attempt.pk) == "waiting"
    attempt.refresh_from_db()
    assert attempt.status == Status.QUEUED and attempt.run_after == charged + timedelta(hours=1)
    assert attempt.pk not in reload_charge.attempts_due()
    assert attempt.pk in reload_charge.attempts_due(now=charged + timedelta(hours=1))


def test_removing_the_payment_method_turns_auto_reload_off_and_tells_the_owner(org, django_capture_on_commit_callbacks):
    attempt = _cross(org)
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_reload.auto_reload_method_removed(organization=org, payment_method_id="pm_saved_1")
    setting = AutoReload.objects.get()
    assert not setting.enabled and setting.payment_method_id == ""
    attempt.refresh_from_db()
    assert attempt.status == Status.SKIPPED_DISABLED
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "payment method was removed" in mail.outbox[0].subject
    assert "/billing/auto-reload/" in mail.outbox[0].body


def test_removing_another_payment_method_changes_nothing(org):
    assert not auto_reload.auto_reload_method_removed(organization=org, payment_method_id="pm_other")
    assert AutoReload.objects.get().enabled and not mail.outbox


def test_the_sweep_queues_a_charge_for_a_queued_reload_whose_task_was_lost_and_only_once(org):
    from django_tasks_db.models import DBTaskResult

    from billing import tasks

    attempt = _cross(org)  # its on-commit enqueue never ran (the test's transaction does not commit)
    assert tasks.auto_reload_queue_due() == [attempt.pk]
    assert tasks.auto_reload_queue_due() == []
    assert DBTaskResult.objects.filter(task_path="billing.tasks.auto_reload_charge").count() == 1


@time_machine.travel(NOW, tick=False)
def test_the_task_puts_a_reload_held_by_the_hourly_limit_back_in_the_queue_for_when_it_is_due(org):
    from django_tasks_db.models import DBTaskResult

    from billing import tasks

    setting = AutoReload.objects.get()
    charged = timezone.now() - timedelta(minutes=5)
    AutoReloadAttempt.objects.create(
        auto_reload=setting, status=Status.SUCCEEDED, threshold=50, balance=40, reference="x", charged_at=charged
    )
    attempt = _cross(org)
    assert tasks.auto_reload_charge.call(attempt.pk) == "waiting"
    queued = DBTaskResult.objects.get(task_path="billing.tasks.auto_reload_charge")
    assert queued.args_kwargs["args"] == [attempt.pk] and queued.run_after == charged + timedelta(hours=1)
