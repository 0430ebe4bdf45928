"""Background tasks of billing (django-tasks, database backend; run by `manage.py db_worker`).

The Stripe reconciliation (billing.reconcile) is a periodic chain (core.periodic),
like usage.tasks: each run queues the next one STRIPE_RECONCILE_MINUTES ahead
before it does its work, and every db_worker re-arms the chain if a run died
before handing over. `stripe_reconcile_schedule` starts it.
"""

from django_tasks import task

from core import periodic

from . import reconcile


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
