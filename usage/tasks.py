"""Background tasks (django-tasks, database backend; run by `manage.py db_worker`).

Periodic work: the queue has no scheduler, so the sweep re-enqueues itself
with run_after, unless another sweep is already waiting. Whichever worker on
whichever host picks it up runs it; duplicate chains (two workers finishing
at once, or `usage_schedule` run twice) merge again at the next run, because
a sweep only re-enqueues when it finds no other one waiting.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from .reservations import reservations_expire


@task()
def reservations_release_expired() -> int:
    """Mark expired reservations; then make sure the next sweep is queued."""
    try:
        return reservations_expire()
    finally:
        sweep_schedule(delay_seconds=settings.RESERVATION_SWEEP_SECONDS)


def sweep_schedule(*, delay_seconds: int) -> bool:
    """Queue a sweep to run in `delay_seconds`, unless one is already waiting. True if queued."""
    waiting = DBTaskResult.objects.filter(
        task_path=reservations_release_expired.module_path, status=TaskResultStatus.READY,
    ).exists()
    if waiting:
        return False
    reservations_release_expired.using(run_after=timezone.now() + timedelta(seconds=delay_seconds)).enqueue()
    return True
