"""Prove the ledger adds up; exit non-zero and name the accounts when not."""

from django.core.management.base import BaseCommand, CommandError

from billing import ledger


class Command(BaseCommand):
    help = "Check that every balance equals the sum of its ledger entries."

    def handle(self, *args, **options):
        problems = [
            f"{m.account}: balance {m.balance} != sum of entries {m.entries_sum}"
            for m in ledger.balances_check()
        ]
        if problems:
            raise CommandError("Ledger check failed:\n  " + "\n  ".join(problems))
        self.stdout.write(self.style.SUCCESS("Ledger check passed: every balance equals the sum of its entries."))
