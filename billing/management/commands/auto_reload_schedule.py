"""Start the auto-reload sweep (idempotent): run at deploy and by `make run`."""

from django.core.management.base import BaseCommand

from billing.tasks import auto_reload_sweep
from core.periodic import sweep_schedule


class Command(BaseCommand):
    help = (
        "Queue the auto-reload sweep unless one is waiting or running; db_worker keeps it going every "
        "AUTO_RELOAD_SWEEP_SECONDS. It charges queued reloads whose task was lost and those past the hourly limit."
    )

    def handle(self, *args, **options):
        queued = sweep_schedule(task=auto_reload_sweep, delay_seconds=0)
        self.stdout.write("Auto-reload sweep queued." if queued else "Auto-reload sweep already queued.")
