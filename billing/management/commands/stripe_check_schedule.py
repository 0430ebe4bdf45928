"""Start the daily Check Stripe sweep (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from billing.stripe_check import stripe_check_daily
from core.periodic import sweep_schedule


class Command(BaseCommand):
    help = (
        "Queue the Check Stripe sweep (each live agency's Stripe set-up, once every STRIPE_CHECK_EVERY_HOURS) "
        "unless one is waiting or running. A sweep still running past TASK_LEASE_SECONDS is marked failed and replaced."
    )

    def handle(self, *args, **options):
        queued = sweep_schedule(task=stripe_check_daily, delay_seconds=0)
        self.stdout.write("Check Stripe sweep queued." if queued else "Check Stripe sweep already queued.")
