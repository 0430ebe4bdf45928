"""Prove the daily usage rollups equal the raw call rows; exit non-zero and name organizations and days when not."""

from django.core.management.base import BaseCommand, CommandError

from usage import rollups


class Command(BaseCommand):
    help = (
        "Check that the daily usage rollups (per organization and UTC day, and per number and direction) equal "
        "the usage records they sum: calls, seconds, billed minutes. Fix a day it names with usage_rollup_rebuild."
    )

    def handle(self, *args, **options):
        problems = rollups.usage_rollups_check()
        if problems:
            raise CommandError(
                f"Usage check failed: {len(problems)} rollup row(s) differ from the usage records "
                "(manage.py usage_rollup_rebuild fixes them):\n  " + "\n  ".join(str(p) for p in problems)
            )
        self.stdout.write(self.style.SUCCESS("Usage check passed: every daily rollup equals the usage records."))
