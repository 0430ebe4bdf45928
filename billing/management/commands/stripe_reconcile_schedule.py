"""Start the periodic Stripe reconciliation (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from billing.tasks import stripe_reconcile_sweep
from core.periodic import sweep_schedule


class Command(BaseCommand):
    help = (
        "Queue the Stripe reconciliation (missed events, stale Checkout Sessions) unless one is waiting or "
        "running; db_worker keeps it going every STRIPE_RECONCILE_MINUTES."
    )

    def handle(self, *args, **options):
        queued = sweep_schedule(task=stripe_reconcile_sweep, delay_seconds=0)
        self.stdout.write("Stripe reconciliation queued." if queued else "Stripe reconciliation already queued.")
