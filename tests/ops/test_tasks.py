"""The ops sweep on django-tasks' database queue, and db_worker running the whole chain for real."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ops import alerts
from ops.models import AlertDelivery, BalanceAlert, UsageSource
from ops.tasks import alert_deliver, due_work_enqueue, ops_sweep, sweep_schedule, usage_source_pull
from tests.conftest import NOON, credits_add
from tests.ops.conftest import call


def queued(task) -> list:
    return [r.args_kwargs["args"] for r in DBTaskResult.objects.filter(task_path=task.module_path,
                                                                         status=TaskResultStatus.READY)]


def test_the_sweep_queues_due_pulls_and_deliveries_only(agency, upstream):
    due = UsageSource.objects.create(agency=agency, base_url=upstream.url, api_key="k", start_date=timezone.now().date())
    UsageSource.objects.create(base_url=upstream.url, api_key="k", start_date=timezone.now().date(),
                               next_attempt_at=timezone.now() + timedelta(minutes=5))
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


# db_worker manages connections like a long-running process, so this runs outside the test transaction:
# the alert's deliveries are queued by a real commit.
@pytest.mark.django_db(transaction=True)
@pytest.mark.now(NOON)  # the call, made minutes ago, must fall on the source's start date
def test_db_worker_pulls_charges_alerts_and_delivers_end_to_end(agency, make_client_user, upstream, receiver):
    organization = make_client_user(agency, company_name="Worker Co").organization
    credits_add(organization, 100)
    secret = alerts.alert_settings_save(organization=organization, threshold=50, webhook_url=receiver.url)
    upstream.records = [call(organization, minutes=60)]
    UsageSource.objects.create(agency=agency, base_url=upstream.url, api_key=upstream.key,
                               start_date=timezone.now().date())
    assert sweep_schedule(delay_seconds=0) is True

    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0, verbosity=0)

    organization.refresh_from_db()
    assert organization.credits_balance == 40
    assert BalanceAlert.objects.filter(organization=organization).count() == 1
    assert sorted(AlertDelivery.objects.values_list("channel", "status")) == [("email", "delivered"),
                                                                              ("webhook", "delivered")]
    [hook] = receiver.requests
    assert receiver.verified(hook, secret)
    assert [m.subject for m in mail.outbox] == ["Low balance: 40 credits left for Worker Co"]
    assert UsageSource.objects.get(agency=agency).last_success_at is not None
    assert DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).count() == 0
    assert len(queued(ops_sweep)) == 1  # the chain goes on
    assert queued(alert_deliver) == []
