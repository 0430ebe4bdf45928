"""Periodic work and queue-once on django-tasks' database queue, for workers that may die at any instant.

django-tasks-db has no scheduler, and it never reclaims a task: a worker killed
mid-task (SIGKILL, out of memory, a lost host) leaves its row RUNNING for ever.
So the rules here are:

- A run is *live* while it waits (READY) or runs (RUNNING) within its lease:
  TASK_LEASE_SECONDS after it started, or an item task's own claim time. A row
  still RUNNING past its lease is presumed dead: it is marked FAILED (exception
  `core.periodic.LeaseExpired`, the reason in its traceback) and counts no more.
- A periodic task is a *chain*: each run queues the next (`sweep_continue`) before
  doing its work, so a run that raises, or whose worker dies mid-work, has handed
  over already.
- `sweep_schedule` queues a run of a chain that has no live run; the schedule
  commands call it, and every `db_worker` (core's override of the command) calls
  it for each chain registered here, every chain interval. A chain whose run died
  before handing over is running again one check after that run's lease ran out,
  with nobody doing anything.
- Every decision to queue is taken under one lock per task (a PostgreSQL advisory
  lock for the transaction; on SQLite the exclusive write transaction), so two
  workers or commands never both queue: never two live runs of a chain waiting,
  and an item task is queued at most once while one is live.
"""

import hashlib
import logging
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias, TypeVar

from django.conf import settings
from django.db import router, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

logger = logging.getLogger(__name__)
READY, RUNNING, FAILED = TaskResultStatus.READY, TaskResultStatus.RUNNING, TaskResultStatus.FAILED
AnyTask: TypeAlias = Task[..., Any]
Key = TypeVar("Key", bound=Hashable)


class LeaseExpired(Exception):
    """Recorded on a task result presumed dead: still RUNNING past its lease."""


LEASE_EXPIRED = f"{LeaseExpired.__module__}.{LeaseExpired.__qualname__}"


@dataclass(frozen=True)
class Chain:
    task: AnyTask
    every: str  # the name of the setting that holds the seconds between runs

    @property
    def interval(self) -> int:
        return int(getattr(settings, self.every))


_chains: dict[str, Chain] = {}


def periodic_register(*, task: AnyTask, every: str) -> None:
    """Make `task` a chain run every `settings.<every>` seconds, watched by every db_worker."""
    _chains[task.module_path] = Chain(task=task, every=every)


def periodic_chains() -> list[Chain]:
    return list(_chains.values())


def check_seconds() -> int:
    """How often a worker looks for dead chains: as often as the most frequent chain runs."""
    return max(1, min((chain.interval for chain in _chains.values()), default=60))


def queue_lock_key(task: AnyTask) -> int:
    """The PostgreSQL advisory lock key of `task`'s queue: stable across processes, unlike hash()."""
    digest = hashlib.sha256(f"tasks-queue:{task.module_path}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def queue_lock(task: AnyTask) -> Iterator[None]:
    """A transaction holding `task`'s queue lock: decisions to queue a run of it are taken one at a time."""
    using = router.db_for_write(DBTaskResult)
    with exclusive_transaction(using):
        connection = transaction.get_connection(using)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [queue_lock_key(task)])
        yield


def _runs(task: AnyTask) -> QuerySet[DBTaskResult[..., Any]]:
    return DBTaskResult.objects.filter(task_path=task.module_path)


def _reclaim(task: AnyTask, *, lease_seconds: int, now: datetime) -> int:
    """Mark FAILED the runs of `task` still RUNNING past their lease; how many."""
    stale = _runs(task).filter(status=RUNNING, started_at__lt=now - timedelta(seconds=lease_seconds))
    # Conditional on RUNNING: a run that was only slow and finishes later still records its own outcome.
    count = stale.update(
        status=FAILED,
        finished_at=now,
        return_value=None,
        exception_class_path=LEASE_EXPIRED,
        traceback=f"{LEASE_EXPIRED}: still RUNNING {lease_seconds} s after it started; its worker is presumed "
        "dead (killed, out of memory, host lost). It no longer holds back another run.\n",
    )
    if count:
        logger.warning(
            "%s run(s) of %s were RUNNING past their %s s lease: marked failed", count, task.module_path, lease_seconds
        )
    return count


def _enqueue(task: AnyTask, *, delay_seconds: int, now: datetime) -> None:
    task.using(run_after=now + timedelta(seconds=delay_seconds)).enqueue()


def sweep_schedule(*, task: AnyTask, delay_seconds: int) -> bool:
    """Queue a run of periodic `task` in `delay_seconds` unless one is live; True if queued.

    For whoever starts or watches a chain (the schedule commands, db_worker): a
    run RUNNING past TASK_LEASE_SECONDS is marked failed first, so a chain whose
    worker died is re-armed, and running this again is harmless.
    """
    with queue_lock(task):
        now = timezone.now()
        _reclaim(task, lease_seconds=settings.TASK_LEASE_SECONDS, now=now)
        if _runs(task).filter(status__in=[READY, RUNNING]).exists():
            return False
        _enqueue(task, delay_seconds=delay_seconds, now=now)
        return True


def sweep_continue(*, task: AnyTask) -> bool:
    """Called by a run of a registered chain before its work: queue the next run unless one waits; True if queued.

    Only a waiting run counts here, not a running one: the caller is running,
    and so may be the run it followed, which has handed over already.
    """
    chain = _chains[task.module_path]
    with queue_lock(task):
        now = timezone.now()
        _reclaim(task, lease_seconds=settings.TASK_LEASE_SECONDS, now=now)  # runs killed after handing over
        if _runs(task).filter(status=READY).exists():
            return False
        _enqueue(task, delay_seconds=chain.interval, now=now)
        return True


def periodic_check() -> list[str]:
    """Queue at once a run of every registered chain with no live run; the task paths queued."""
    queued = []
    for chain in periodic_chains():
        if _runs(chain.task).filter(status=READY).exists():
            continue  # the usual case: one read on the queue's index, no lock
        if sweep_schedule(task=chain.task, delay_seconds=0):
            logger.warning(
                "Periodic task %s had no live run (its last one failed or died): queued one", chain.task.module_path
            )
            queued.append(chain.task.module_path)
    return queued


def tasks_enqueue_once(*, task: AnyTask, keys: Iterable[Key], lease_seconds: int | None = None) -> list[Key]:
    """Queue `task(key)` for each key without a live run of `task(key)`; the keys queued, in order.

    Live: waiting, or running within `lease_seconds` of its start (default
    TASK_LEASE_SECONDS; an item task passes its own claim time). A run past it is
    marked failed and superseded.
    """
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    lease = settings.TASK_LEASE_SECONDS if lease_seconds is None else lease_seconds
    with queue_lock(task):
        _reclaim(task, lease_seconds=lease, now=timezone.now())
        live = {
            args_kwargs["args"][0]
            for args_kwargs in _runs(task).filter(status__in=[READY, RUNNING]).values_list("args_kwargs", flat=True)
            if args_kwargs.get("args")
        }
        queued = [key for key in wanted if key not in live]
        for key in queued:
            task.enqueue(key)
    return queued
