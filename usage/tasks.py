"""Background tasks (django-tasks, database backend; run by `manage.py db_worker`).

Periodic work is a chain (core.periodic): each sweep queues the next one
RESERVATION_SWEEP_SECONDS ahead before it does its work, and every db_worker
re-arms the chain if a run died before handing over. `usage_schedule` starts
it; running it again, or on several hosts at once, starts no second chain.
"""

from django_tasks import task

from core import periodic

from .reservations import reservations_expire


@task()
def reservations_release_expired() -> int:
    """Queue the next sweep, then mark expired reservations."""
    periodic.sweep_continue(task=reservations_release_expired)
    return reservations_expire()


periodic.periodic_register(task=reservations_release_expired, every="RESERVATION_SWEEP_SECONDS")
