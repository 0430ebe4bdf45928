"""Start the periodic background work (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from usage.tasks import sweep_schedule


class Command(BaseCommand):
    help = "Queue the expired-reservation sweep unless one is already waiting; db_worker keeps it going."

    def handle(self, *args, **options):
        queued = sweep_schedule(delay_seconds=0)
        self.stdout.write("Reservation sweep queued." if queued else "Reservation sweep already queued.")
