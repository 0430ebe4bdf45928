"""Start the periodic background work (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from core.periodic import sweep_schedule
from usage.tasks import reservations_release_expired


class Command(BaseCommand):
    help = (
        "Queue the expired-reservation sweep unless one is waiting or running; db_worker keeps it going. "
        "A sweep still running past TASK_LEASE_SECONDS is marked failed and replaced."
    )

    def handle(self, *args, **options):
        queued = sweep_schedule(task=reservations_release_expired, delay_seconds=0)
        self.stdout.write("Reservation sweep queued." if queued else "Reservation sweep already queued.")
