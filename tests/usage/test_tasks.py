"""The periodic release of expired reservations, on django-tasks' database queue and db_worker."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from usage.models import Reservation
from usage.reservations import call_authorize, reservations_expire
from usage.tasks import reservations_release_expired, sweep_schedule

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


# db_worker manages connections like a long-running process (it closes any found inside a
# transaction), so this test runs outside the usual per-test transaction.
@pytest.mark.django_db(transaction=True)
def test_db_worker_runs_a_due_sweep_and_it_keeps_itself_going(org):
    reservation = call_authorize(organization=org, max_minutes=5)
    expire(reservation)
    assert sweep_schedule(delay_seconds=0) is True

    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0, verbosity=0)

    reservation.refresh_from_db()
    assert reservation.status == "expired"
    done = DBTaskResult.objects.get(task_path=SWEEP, status=TaskResultStatus.SUCCESSFUL)
    assert done.return_value == 1
    [next_run] = waiting_sweeps()
    assert next_run.run_after > timezone.now()
