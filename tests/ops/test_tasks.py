"""The ops sweep on django-tasks' database queue, and db_worker running the whole chain for real."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.periodic import sweep_schedule
from ops import alerts, sources
from ops.deliveries import claim_seconds
from ops.models import AlertDelivery, BalanceAlert, UsageSource
from ops.tasks import alert_deliver, due_work_enqueue, ops_sweep, usage_source_pull
from tests.conftest import NOON, credits_add
from tests.ops.conftest import call

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def running(task, *args, started_ago: timedelta) -> DBTaskResult:
    """A run a worker claimed `started_ago` (the way db_worker marks it)."""
    result = task.enqueue(*args)
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - started_ago
    )
    return DBTaskResult.objects.get(pk=result.id)


def queued(task) -> list:
    return [
        r.args_kwargs["args"]
        for r in DBTaskResult.objects.filter(task_path=task.module_path, status=TaskResultStatus.READY)
    ]


def test_the_sweep_queues_due_pulls_and_deliveries_only(agency, upstream):
    due = UsageSource.objects.create(
        agency=agency, base_url=upstream.url, api_key="k", start_date=timezone.now().date()
    )
    UsageSource.objects.create(
        base_url=upstream.url,
        api_key="k",
        start_date=timezone.now().date(),
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    UsageSource.objects.create(base_url=upstream.url, api_key="k", start_date=timezone.now().date(), enabled=False)

    assert due_work_enqueue() == {"pulls": 1, "deliveries": 0}
    assert queued(usage_source_pull) == [[due.pk]]


def test_the_sweep_queues_its_next_run_once(db, settings):
    settings.OPS_SWEEP_SECONDS = 30
    ops_sweep.call()
    ops_sweep.call()  # a second chain finds the first one waiting
    [next_run] = DBTaskResult.objects.filter(task_path=ops_sweep.module_path, status=TaskResultStatus.READY)
    assert timedelta(seconds=20) < next_run.run_after - timezone.now() <= timedelta(seconds=30)


def test_ops_schedule_starts_the_sweep_once(db, capsys):
    call_command("ops_schedule")
    call_command("ops_schedule")
    assert len(queued(ops_sweep)) == 1
    assert "already queued" in capsys.readouterr().out


def test_ops_schedule_replaces_a_sweep_whose_worker_died(db, settings, capsys):
    settings.TASK_LEASE_SECONDS = 600
    with time_machine.travel(NOW, tick=False):
        dead = running(ops_sweep, started_ago=timedelta(seconds=601))
        call_command("ops_schedule")

    assert capsys.readouterr().out.strip() == "Ops sweep queued."
    assert DBTaskResult.objects.get(pk=dead.pk).status == TaskResultStatus.FAILED
    assert len(queued(ops_sweep)) == 1


def due_delivery(organization) -> AlertDelivery:
    alert = BalanceAlert.objects.create(
        organization=organization, threshold=50, balance_before=60, balance_after=40, created_at=timezone.now()
    )
    return AlertDelivery.objects.create(alert=alert, channel=AlertDelivery.Channel.EMAIL)


def test_a_due_delivery_is_queued_once_however_often_the_sweep_runs(org):
    delivery = due_delivery(org)

    assert due_work_enqueue() == {"pulls": 0, "deliveries": 1}
    assert due_work_enqueue() == {"pulls": 0, "deliveries": 0}  # a busy worker has not got to it yet

    assert queued(alert_deliver) == [[delivery.pk]]


def test_a_delivery_being_tried_is_not_queued_again_until_its_claim_runs_out(org, settings):
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 5
    with time_machine.travel(NOW, tick=False):
        delivery = due_delivery(org)
        trying = running(alert_deliver, delivery.pk, started_ago=timedelta(seconds=claim_seconds()))
        assert due_work_enqueue()["deliveries"] == 0

        DBTaskResult.objects.filter(pk=trying.pk).update(started_at=NOW - timedelta(seconds=claim_seconds() + 1))
        assert due_work_enqueue()["deliveries"] == 1  # its worker died mid-try: the try is queued again

    assert DBTaskResult.objects.get(pk=trying.pk).status == TaskResultStatus.FAILED
    assert queued(alert_deliver) == [[delivery.pk]]


def test_a_due_pull_is_queued_once_and_sync_now_adds_no_second(agency, upstream, django_capture_on_commit_callbacks):
    source = UsageSource.objects.create(
        agency=agency, base_url=upstream.url, api_key="k", start_date=timezone.now().date()
    )
    assert due_work_enqueue()["pulls"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        sources.usage_source_pull_now(source=source)
    assert due_work_enqueue()["pulls"] == 0

    assert queued(usage_source_pull) == [[source.pk]]


# db_worker manages connections like a long-running process, so this runs outside the test transaction:
# the alert's deliveries are queued by a real commit.
@pytest.mark.django_db(transaction=True)
@pytest.mark.now(NOON)  # the call, made minutes ago, must fall on the source's start date
def test_db_worker_pulls_charges_alerts_and_delivers_end_to_end(agency, make_client_user, upstream, receiver):
    organization = make_client_user(agency, company_name="Worker Co").organization
    credits_add(organization, 100)
    secret = alerts.alert_settings_save(organization=organization, threshold=50, webhook_url=receiver.url)
    upstream.records = [call(organization, minutes=60)]
    UsageSource.objects.create(
        agency=agency, base_url=upstream.url, api_key=upstream.key, start_date=timezone.now().date()
    )
    assert sweep_schedule(task=ops_sweep, delay_seconds=0) is True

    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0, verbosity=0)

    organization.refresh_from_db()
    assert organization.credits_balance == 40
    assert BalanceAlert.objects.filter(organization=organization).count() == 1
    assert sorted(AlertDelivery.objects.values_list("channel", "status")) == [
        ("email", "delivered"),
        ("webhook", "delivered"),
    ]
    [hook] = receiver.requests
    assert receiver.verified(hook, secret)
    assert [m.subject for m in mail.outbox] == ["Low balance: 40 credits left for Worker Co"]
    assert UsageSource.objects.get(agency=agency).last_success_at is not None
    assert DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).count() == 0
    assert len(queued(ops_sweep)) == 1  # the chain goes on
    assert queued(alert_deliver) == []
