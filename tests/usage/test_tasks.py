"""The periodic release of expired reservations, on django-tasks' database queue and db_worker."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.periodic import sweep_schedule
from usage.models import Reservation
from usage.reservations import call_authorize, reservations_expire
from usage.tasks import reservations_release_expired

SWEEP = reservations_release_expired.module_path


def waiting_sweeps():
    return DBTaskResult.objects.filter(task_path=SWEEP, status=TaskResultStatus.READY)


def expire(reservation, ago=timedelta(seconds=1)):
    Reservation.objects.filter(pk=reservation.pk).update(expires_at=timezone.now() - ago)


def test_expired_reservations_are_marked_expired_and_live_ones_left_alone(org):
    old, live = call_authorize(organization=org, max_minutes=5), call_authorize(organization=org, max_minutes=5)
    expire(old)

    assert reservations_expire() == 1

    old.refresh_from_db()
    live.refresh_from_db()
    assert (old.status, live.status) == ("expired", "active")
    assert old.closed_at is not None and live.closed_at is None
    assert reservations_expire() == 0


def test_the_sweep_queues_its_next_run_once(org, settings):
    settings.RESERVATION_SWEEP_SECONDS = 60
    expire(call_authorize(organization=org, max_minutes=5))

    assert reservations_release_expired.call() == 1
    [next_run] = waiting_sweeps()
    assert timedelta(seconds=50) < next_run.run_after - timezone.now() <= timedelta(seconds=60)

    reservations_release_expired.call()  # a second chain finds the first one waiting
    assert waiting_sweeps().count() == 1


def test_usage_schedule_starts_the_sweep_once(db, capsys):
    call_command("usage_schedule")
    call_command("usage_schedule")
    assert waiting_sweeps().count() == 1
    assert "already queued" in capsys.readouterr().out


def test_usage_schedule_leaves_a_running_sweep_alone_and_replaces_a_dead_one(db, settings, capsys):
    settings.TASK_LEASE_SECONDS = 600
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        claimed = reservations_release_expired.enqueue()
        DBTaskResult.objects.filter(pk=claimed.id).update(
            status=TaskResultStatus.RUNNING, started_at=timezone.now() - timedelta(seconds=600)
        )
        call_command("usage_schedule")
        assert waiting_sweeps().count() == 0  # running, within its lease

        DBTaskResult.objects.filter(pk=claimed.id).update(started_at=timezone.now() - timedelta(seconds=601))
        call_command("usage_schedule")

    assert capsys.readouterr().out.split() == [
        "Reservation",
        "sweep",
        "already",
        "queued.",
        "Reservation",
        "sweep",
        "queued.",
    ]
    assert DBTaskResult.objects.get(pk=claimed.id).exception_class_path == "core.periodic.LeaseExpired"
    assert waiting_sweeps().count() == 1


# db_worker manages connections like a long-running process (it closes any found inside a
# transaction), so this test runs outside the usual per-test transaction.
@pytest.mark.django_db(transaction=True)
def test_db_worker_runs_a_due_sweep_and_it_keeps_itself_going(org):
    reservation = call_authorize(organization=org, max_minutes=5)
    expire(reservation)
    assert sweep_schedule(task=reservations_release_expired, delay_seconds=0) is True

    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0, verbosity=0)

    reservation.refresh_from_db()
    assert reservation.status == "expired"
    done = DBTaskResult.objects.get(task_path=SWEEP, status=TaskResultStatus.SUCCESSFUL)
    assert done.return_value == 1
    [next_run] = waiting_sweeps()
    assert next_run.run_after > timezone.now()
