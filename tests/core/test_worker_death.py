"""A worker SIGKILLed while it holds the ops sweep does not stop the periodic work: real `db_worker`
processes on the test's PostgreSQL database, with a short lease and interval set in their environment.

The sweep is killed at its worst instant: claimed (RUNNING) but before it queued the next sweep. The
test gets it there without touching the product: it holds the sweep queue's advisory lock, which
the run takes to queue its successor, so the run waits on it until the worker is killed.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.periodic import LEASE_EXPIRED, queue_lock_key, sweep_schedule
from ops.tasks import ops_sweep

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROJECT = Path(__file__).resolve().parent.parent.parent
INTERVAL, LEASE = 2, 4  # seconds, for the workers: OPS_SWEEP_SECONDS and TASK_LEASE_SECONDS
SWEEPS = DBTaskResult.objects.filter(task_path=ops_sweep.module_path)


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(name: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "OPS_SWEEP_SECONDS": str(INTERVAL),
        "TASK_LEASE_SECONDS": str(LEASE),
        "RESERVATION_SWEEP_SECONDS": "3600",
        "DEBUG": "0",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "*",
            "--no-reload",
            "--no-startup-delay",
            "--interval",
            "0.2",
            "--worker-id",
            name,
        ],
        cwd=PROJECT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition, *, seconds: float, what: str, logs: list[Path]):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    output = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"gave up after {seconds} s waiting for {what}\n{output}")


def test_a_worker_killed_mid_sweep_is_taken_over_within_two_intervals_of_the_lease(tmp_path):
    assert sweep_schedule(task=ops_sweep, delay_seconds=0)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers: dict[str, subprocess.Popen] = {}
    holder = psycopg.connect(**params, autocommit=True)
    sessions_before = _other_sessions()  # (other tests' leftovers are not ours to judge)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [queue_lock_key(ops_sweep)])
        workers = {"worker-a": _start_worker("worker-a", logs[0]), "worker-b": _start_worker("worker-b", logs[1])}

        held = _wait_for(
            lambda: SWEEPS.filter(status=TaskResultStatus.RUNNING).first(),
            seconds=60,
            what="a worker to take the sweep",
            logs=logs,
        )
        victim = held.worker_ids[-1]
        [survivor] = set(workers) - {victim}
        assert not SWEEPS.filter(status=TaskResultStatus.READY).exists()  # it has not handed over

        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(timeout=10)
        holder.close()  # the lock goes; the dead run stays RUNNING, as django-tasks-db leaves it

        waiting_counts = []

        def taken_over():
            waiting_counts.append(SWEEPS.filter(status=TaskResultStatus.READY).count())
            return SWEEPS.filter(status=TaskResultStatus.SUCCESSFUL, worker_ids__contains=[survivor]).first()

        fresh = _wait_for(taken_over, seconds=LEASE + 30, what="the surviving worker to run a sweep", logs=logs)

        held.refresh_from_db()
        assert held.status == TaskResultStatus.FAILED
        assert held.exception_class_path == LEASE_EXPIRED
        assert fresh.started_at <= held.started_at + timedelta(seconds=LEASE + 2 * INTERVAL)

        # and the chain goes on, one chain: the next sweeps follow every interval
        def two_more():
            waiting_counts.append(SWEEPS.filter(status=TaskResultStatus.READY).count())
            return SWEEPS.filter(status=TaskResultStatus.SUCCESSFUL).count() >= 3

        _wait_for(two_more, seconds=3 * INTERVAL + 10, what="the sweeps after it", logs=logs)
        assert max(waiting_counts) <= 1  # never a second chain
    finally:
        holder.close()
        for process in workers.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
    # Nothing is left behind: the killed workers' sessions are gone too.
    _wait_for(lambda: _other_sessions() <= sessions_before, seconds=20, what="the workers' sessions to end", logs=logs)


def _other_sessions() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}
