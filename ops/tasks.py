"""Background tasks for pull sync and alert deliveries (django-tasks, database backend, `manage.py db_worker`).

Periodic work follows usage.tasks: the sweep re-enqueues itself with
run_after unless another sweep is already waiting, so whichever worker picks
it up keeps the chain going and duplicate chains merge again. Each run queues
one task per due item (a source to pull, a delivery to try), so a slow
upstream holds up nothing else; the items' own claims (ops.pull,
ops.deliveries) make a task queued twice do its work once.

A delivery is queued at once when its alert commits (transaction.on_commit);
a failed try queues the next one for when its backoff ends. The sweep is the
safety net for a queueing that was lost or a worker that died mid-try.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from . import alerts, deliveries, pull
from .models import AlertDelivery, UsageSource

SWEEP_BATCH = 500


@task()
def alert_deliver(delivery_id: int) -> str | None:
    """Try one alert delivery; when it failed and will be retried, queue the retry for when it is due."""
    status = deliveries.delivery_attempt(delivery_id=delivery_id)
    if status == AlertDelivery.Status.PENDING:
        due = AlertDelivery.objects.values_list("next_attempt_at", flat=True).get(pk=delivery_id)
        alert_deliver.using(run_after=due).enqueue(delivery_id)
    return status


@task()
def usage_source_pull(source_id: int) -> dict | None:
    counts = pull.source_pull(source_id=source_id)
    alerts.crossings_deliver()  # the charges just made may have crossed a threshold: tell now, not next sweep
    return counts


def due_work_enqueue(*, now=None) -> dict:
    """Queue a task for every source due a pull and every delivery due a try, after taking new balance crossings."""
    now = now or timezone.now()
    alerts.crossings_deliver()  # their deliveries are queued when it commits
    sources = list(UsageSource.objects.filter(enabled=True, next_attempt_at__lte=now)
                   .order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    due = list(AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    for source_id in sources:
        usage_source_pull.enqueue(source_id)
    for delivery_id in due:
        alert_deliver.enqueue(delivery_id)
    return {"pulls": len(sources), "deliveries": len(due)}


@task()
def ops_sweep() -> dict:
    """Queue what is due; then make sure the next sweep is queued."""
    try:
        return due_work_enqueue()
    finally:
        sweep_schedule(delay_seconds=settings.OPS_SWEEP_SECONDS)


def sweep_schedule(*, delay_seconds: int) -> bool:
    """Queue a sweep to run in `delay_seconds`, unless one is already waiting. True if queued."""
    waiting = DBTaskResult.objects.filter(task_path=ops_sweep.module_path, status=TaskResultStatus.READY).exists()
    if waiting:
        return False
    ops_sweep.using(run_after=timezone.now() + timedelta(seconds=delay_seconds)).enqueue()
    return True
