"""Record call minutes an agency bought from the platform (or, negative, take some back)."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from agencies.models import Agency
from billing import ledger


class Command(BaseCommand):
    help = "Add (or with a negative number remove) an agency's call minutes, as a ledger entry."

    def add_arguments(self, parser):
        parser.add_argument("agency", help="The agency's portal slug or its id.")
        parser.add_argument("minutes", type=int, help="Whole minutes; negative to take back (never below zero).")
        parser.add_argument("--description", required=True, help='Shown in the ledger, e.g. "Invoice PLT-2025-014".')
        parser.add_argument("--reference", help="Idempotency reference: the same one twice records once. Default: new.")

    def handle(self, *args, agency, minutes, description, reference, **options):
        found = Agency.objects.filter(slug=agency).first()
        if found is None and agency.isdigit():
            found = Agency.objects.filter(pk=int(agency)).first()
        if found is None:
            raise CommandError(f"No agency with slug or id {agency!r}.")
        if minutes == 0 or abs(minutes) > 10_000_000:
            raise CommandError("minutes must be a whole number other than zero, at most 10,000,000 either way.")
        if not description.strip():
            raise CommandError("--description must say why (an invoice number, a correction).")
        try:
            posted = ledger.minutes_add(
                agency=found,
                amount=minutes,
                description=description.strip(),
                actor=None,
                reference=f"minutes:{reference or uuid.uuid4().hex}",
            )
        except ledger.InsufficientBalance as refused:
            raise CommandError(f"{found} has only {refused.balance} minutes; nothing changed.") from None
        state = "Recorded" if posted.created else "Already recorded (same reference); nothing changed"
        self.stdout.write(f"{state}: {found} {minutes:+d} minutes, balance {posted.entry.balance_after}.")
