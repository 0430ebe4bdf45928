"""Start the pull-sync and alert-delivery sweep (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from core.periodic import sweep_schedule
from ops.tasks import ops_sweep


class Command(BaseCommand):
    help = (
        "Queue the ops sweep (usage pulls, alert delivery retries) unless one is waiting or running. "
        "A sweep still running past TASK_LEASE_SECONDS is marked failed and replaced."
    )

    def handle(self, *args, **options):
        queued = sweep_schedule(task=ops_sweep, delay_seconds=0)
        self.stdout.write("Ops sweep queued." if queued else "Ops sweep already queued.")
