"""Prove the ledger adds up; exit non-zero and name the accounts when not."""

from django.core.management.base import BaseCommand, CommandError

from billing import ledger


class Command(BaseCommand):
    help = (
        "Check that every balance equals the sum of its ledger entries, and that the credits granted by "
        "purchases equal the credits of fulfilled Checkout sessions minus refunds and disputes."
    )

    def handle(self, *args, **options):
        problems = [
            f"{m.account}: balance {m.balance} != sum of entries {m.entries_sum}" for m in ledger.balances_check()
        ]
        problems += [
            f"{m.account}: should hold {m.balance} credits, its ledger entries add up to {m.entries_sum}"
            for m in ledger.purchases_check()
        ]
        expected, posted = ledger.purchase_totals()
        if expected != posted:
            problems.append(
                f"purchases: fulfilled Checkout sessions minus refunds and disputes hold {expected} "
                f"credits, purchase ledger entries add up to {posted}"
            )
        if problems:
            raise CommandError("Ledger check failed:\n  " + "\n  ".join(problems))
        self.stdout.write(
            self.style.SUCCESS(
                "Ledger check passed: every balance equals the sum of its entries, and purchases granted "
                f"{posted} credits, exactly what fulfilled Checkout sessions minus refunds and disputes hold."
            )
        )
