"""Background tasks for pull sync and alert deliveries (django-tasks, database backend, `manage.py db_worker`).

Periodic work is a chain (core.periodic), like usage.tasks: each sweep queues
the next one OPS_SWEEP_SECONDS ahead before it does its work, and every
db_worker re-arms the chain if a run died before handing over. Each run queues
one task per due item (a source to pull, a delivery to try), so a slow
upstream holds up nothing else, and only for an item without a live task
(waiting, or running within the item's claim time): a backlog behind a slow
receiver is not queued again on every pass. The items' own claims (ops.pull,
ops.deliveries) make a task queued twice anyway do its work once.

A delivery is queued at once when its alert commits (transaction.on_commit);
a failed try queues the next one for when its backoff ends. The sweep is the
safety net for a queueing that was lost or a worker that died mid-try.
"""

from django.utils import timezone
from django_tasks import task

from core import periodic

from . import alerts, deliveries, notices, pull
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


def alert_deliver_queue(*, delivery_ids: list[int]) -> list[int]:
    """Queue a try of each delivery that has no live task already; the ids queued."""
    return periodic.tasks_enqueue_once(task=alert_deliver, keys=delivery_ids, lease_seconds=deliveries.claim_seconds())


def usage_source_pull_queue(*, source_ids: list[int]) -> list[int]:
    """Queue a pull of each source that has no live task already; the ids queued."""
    return periodic.tasks_enqueue_once(task=usage_source_pull, keys=source_ids, lease_seconds=pull.claim_seconds())


def due_work_enqueue(*, now=None) -> dict:
    """Queue a task for every source due a pull and every delivery due a try, unless one is live already,
    after taking new balance crossings and making the agency notices due."""
    now = now or timezone.now()
    alerts.crossings_deliver()  # their deliveries are queued when it commits
    notices.notices_make(now=now)  # new ones are pending and due: the query below queues them
    sources = list(
        UsageSource.objects.filter(enabled=True, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    due = list(
        AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    pulls = usage_source_pull_queue(source_ids=sources)
    tries = alert_deliver_queue(delivery_ids=due)
    return {"pulls": len(pulls), "deliveries": len(tries)}


@task()
def ops_sweep() -> dict:
    """Queue the next sweep, then what is due."""
    periodic.sweep_continue(task=ops_sweep)
    return due_work_enqueue()


periodic.periodic_register(task=ops_sweep, every="OPS_SWEEP_SECONDS")
