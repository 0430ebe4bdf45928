"""The scheduling rules of core.periodic: a chain of periodic runs survives a worker dying at any instant,
and whoever starts or watches it never makes a second one. Time is fixed: the lease is a matter of seconds."""

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from billing.stripe_check import stripe_check_daily
from billing.tasks import auto_reload_sweep, stripe_reconcile_sweep
from core import periodic
from ops.tasks import ops_sweep
from tests.pg_locks import until_waiting_on_a_lock
from usage.tasks import reservations_release_expired

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LEASE = 600
READY, RUNNING, FAILED = TaskResultStatus.READY, TaskResultStatus.RUNNING, TaskResultStatus.FAILED


@pytest.fixture
def clock(settings):
    settings.TASK_LEASE_SECONDS = LEASE
    settings.OPS_SWEEP_SECONDS = 30
    with time_machine.travel(NOW, tick=False):
        yield


def runs(task, status=None):
    rows = DBTaskResult.objects.filter(task_path=task.module_path)
    return rows.filter(status=status) if status else rows


def running(task, *args, started_ago: timedelta) -> DBTaskResult:
    """A run a worker claimed `started_ago` (the way db_worker marks it)."""
    result = task.enqueue(*args)
    DBTaskResult.objects.filter(pk=result.id).update(
        status=RUNNING, started_at=timezone.now() - started_ago, worker_ids=["worker-a"]
    )
    return DBTaskResult.objects.get(pk=result.id)


def test_a_waiting_sweep_means_no_second_one(db, clock):
    assert periodic.sweep_schedule(task=ops_sweep, delay_seconds=0) is True
    assert periodic.sweep_schedule(task=ops_sweep, delay_seconds=0) is False
    assert runs(ops_sweep, READY).count() == 1


def test_a_sweep_running_within_its_lease_is_left_alone(db, clock):
    alive = running(ops_sweep, started_ago=timedelta(seconds=LEASE))  # exactly at the lease: still alive

    assert periodic.sweep_schedule(task=ops_sweep, delay_seconds=0) is False

    alive.refresh_from_db()
    assert alive.status == RUNNING
    assert runs(ops_sweep, READY).count() == 0


def test_a_sweep_running_past_its_lease_is_marked_failed_and_replaced(db, clock):
    dead = running(ops_sweep, started_ago=timedelta(seconds=LEASE + 1))

    assert periodic.sweep_schedule(task=ops_sweep, delay_seconds=0) is True

    dead.refresh_from_db()
    assert dead.status == FAILED
    assert dead.exception_class_path == "core.periodic.LeaseExpired"
    assert "presumed dead" in dead.traceback and dead.finished_at == NOW
    [fresh] = runs(ops_sweep, READY)
    assert fresh.run_after == NOW
    assert periodic.sweep_schedule(task=ops_sweep, delay_seconds=0) is False  # and it stays one chain


def test_a_run_queues_the_next_one_even_while_the_run_before_it_still_runs(db, clock):
    running(ops_sweep, started_ago=timedelta(seconds=45))  # a slow run, which handed over already

    ops_sweep.call()

    [following] = runs(ops_sweep, READY)
    assert following.run_after == NOW + timedelta(seconds=30)
    ops_sweep.call()  # a second run finds it waiting
    assert runs(ops_sweep, READY).count() == 1


def test_a_run_that_raises_has_already_queued_the_next(transactional_db, settings, monkeypatch):
    settings.OPS_SWEEP_SECONDS = 30
    assert periodic.sweep_schedule(task=ops_sweep, delay_seconds=0) is True

    def broken(**kwargs):
        raise RuntimeError("the sweep's work failed")

    monkeypatch.setattr("ops.tasks.due_work_enqueue", broken)  # a fault in the work, not in the chain under test
    call_command("db_worker", batch=True, startup_delay=False, reload=False, interval=0, verbosity=0)

    [failed] = runs(ops_sweep, FAILED)
    assert "the sweep's work failed" in failed.traceback
    [following] = runs(ops_sweep, READY)
    assert following.run_after > timezone.now()


def test_the_worker_watchdog_rearms_every_dead_chain_once(db, clock):
    running(ops_sweep, started_ago=timedelta(seconds=LEASE + 1))  # its worker was killed before handing over
    # and the reservation sweep and the Stripe reconciliation have no run at all (the last one failed, say)

    assert sorted(periodic.periodic_check()) == sorted(
        [
            ops_sweep.module_path,
            reservations_release_expired.module_path,
            stripe_reconcile_sweep.module_path,
            stripe_check_daily.module_path,
            auto_reload_sweep.module_path,
        ]
    )
    assert periodic.periodic_check() == []

    assert runs(ops_sweep, READY).count() == 1
    assert runs(reservations_release_expired, READY).count() == 1
    assert runs(stripe_reconcile_sweep, READY).count() == 1
    assert runs(ops_sweep, FAILED).count() == 1


def test_the_worker_watchdog_leaves_live_chains_alone(db, clock):
    periodic.sweep_schedule(task=reservations_release_expired, delay_seconds=60)
    periodic.sweep_schedule(task=stripe_reconcile_sweep, delay_seconds=900)
    periodic.sweep_schedule(task=stripe_check_daily, delay_seconds=60)
    periodic.sweep_schedule(task=auto_reload_sweep, delay_seconds=60)
    running(ops_sweep, started_ago=timedelta(seconds=5))

    assert periodic.periodic_check() == []
    assert runs(ops_sweep).count() == 1 and runs(reservations_release_expired).count() == 1


def test_workers_look_for_dead_chains_as_often_as_the_most_frequent_one_runs(settings):
    settings.OPS_SWEEP_SECONDS, settings.RESERVATION_SWEEP_SECONDS = 30, 60
    assert periodic.check_seconds() == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_schedule_commands_racing_on_several_hosts_start_one_chain():
    # Another session holds the queue's table so that all four schedulers are under way, waiting on it,
    # before any can queue: then they go at once.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    outcomes: list[bool] = []

    def schedule():
        try:
            outcomes.append(periodic.sweep_schedule(task=ops_sweep, delay_seconds=0))
        finally:
            connection.close()

    threads = [threading.Thread(target=schedule) for _ in range(4)]
    with psycopg.connect(**params) as holder:
        holder.execute(f"LOCK TABLE {DBTaskResult._meta.db_table} IN EXCLUSIVE MODE")
        for thread in threads:
            thread.start()
        until_waiting_on_a_lock(4)
        holder.rollback()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == [False, False, False, True]
    assert runs(ops_sweep, READY).count() == 1
