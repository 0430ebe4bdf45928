"""Start the pull-sync and alert-delivery sweep (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from ops.tasks import sweep_schedule


class Command(BaseCommand):
    help = "Queue the ops sweep (usage pulls, alert delivery retries) unless one is already waiting."

    def handle(self, *args, **options):
        queued = sweep_schedule(delay_seconds=0)
        self.stdout.write("Ops sweep queued." if queued else "Ops sweep already queued.")
