"""Reconcile every Stripe account now, by hand (the worker does it every STRIPE_RECONCILE_MINUTES)."""

from django.core.management.base import BaseCommand

from billing import reconcile


class Command(BaseCommand):
    help = (
        "Process the Stripe events of the last 3 days the portal missed and settle Checkout Sessions past their "
        "expiry, for every agency's Stripe account and the platform's. Safe to run at any time."
    )

    def handle(self, *args, **options):
        outcomes = reconcile.stripe_reconcile()
        for outcome in outcomes:
            done = outcome.problem or (
                f"{outcome.events_recovered} event(s) recovered, {outcome.sessions_settled} session(s) settled"
            )
            self.stdout.write(f"{outcome.account}: {done}")
        if not outcomes:
            self.stdout.write("No Stripe account is set up.")
