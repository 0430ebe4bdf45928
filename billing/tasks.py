"""Background tasks of billing (django-tasks, database backend; run by `manage.py db_worker`).

The Stripe reconciliation (billing.reconcile) is a periodic chain (core.periodic),
like usage.tasks: each run queues the next one STRIPE_RECONCILE_MINUTES ahead
before it does its work, and every db_worker re-arms the chain if a run died
before handing over. `stripe_reconcile_schedule` starts it.
"""

from django_tasks import task

from core import periodic

from . import reconcile, reload_charge, reload_queue
from .models import AutoReloadAttempt


@task()
def stripe_reconcile_sweep() -> dict:
    """Queue the next run, then reconcile every Stripe account."""
    periodic.sweep_continue(task=stripe_reconcile_sweep)
    outcomes = reconcile.stripe_reconcile()
    return {
        "accounts": len(outcomes),
        "events_recovered": sum(o.events_recovered for o in outcomes),
        "sessions_settled": sum(o.sessions_settled for o in outcomes),
        "accounts_failed": sum(1 for o in outcomes if o.problem),
    }


periodic.periodic_register(task=stripe_reconcile_sweep, every="STRIPE_RECONCILE_SECONDS")


# --- Auto-reload (billing.reload_charge) ---------------------------------------------
# An attempt is queued for charging when the debit that queued it commits
# (billing.reload_queue), one task per attempt; the sweep, every
# AUTO_RELOAD_SWEEP_SECONDS, queues any due attempt without a live task, so an
# enqueue that was lost, a worker that died mid-charge, or an attempt waiting out
# the hourly limit is picked up. Once a UTC month turns, it also queues one reload
# for each account the cap stopped in an earlier month whose balance is still low
# (billing.reload_queue.month_rollover_queue).


@task()
def auto_reload_charge(attempt_id: int) -> str:
    """Charge one queued auto-reload (or record why not); one held back by the hourly limit is queued for then."""
    status = reload_charge.attempt_process(attempt_id=attempt_id)
    if status in ("waiting", AutoReloadAttempt.Status.QUEUED):
        due = AutoReloadAttempt.objects.values_list("run_after", flat=True).get(pk=attempt_id)
        auto_reload_charge.using(run_after=due).enqueue(attempt_id)
    return status


def auto_reload_queue_due() -> list[int]:
    """Queue a charge task for every due attempt that has none live; the attempt ids queued."""
    return periodic.tasks_enqueue_once(task=auto_reload_charge, keys=reload_charge.attempts_due())


@task()
def auto_reload_sweep() -> dict:
    """Queue the next sweep, then a reload for each account the cap stopped in an earlier month whose balance
    is still low, then every due auto-reload attempt."""
    periodic.sweep_continue(task=auto_reload_sweep)
    restarted = reload_queue.month_rollover_queue()
    return {"restarted": restarted, "queued": len(auto_reload_queue_due())}


periodic.periodic_register(task=auto_reload_sweep, every="AUTO_RELOAD_SWEEP_SECONDS")
